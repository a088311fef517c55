// Package ikc is Inter-Kernel Communication for POE kernels, wire
// compatible with Perl's POE::Component::IKC 0.2402 (docs/ikc-protocol.md).
// It is the kernel side: the Responder (the session aliased IKC), a
// channel session per connection, the Client and the Server, on the POE
// kernel and its wheels. The transport-independent layer (specifiers,
// messages, negotiation) is package ikc/protocol; the blocking client for
// Go code outside any kernel is package ikc/clientlite.
//
// Ports: ServerOptions.Port 0 means 603, Perl's default port, never "any
// port"; ask for a free port with EphemeralPort (-1), Perl 0.2402's `port
// => 0`, and read it back with Server.Port. (A Client's Port 0 means 903,
// Perl's Client default; a clientlite.Options Port 0 means 603.)
//
// Monitors (Monitor, Perl's IKC/monitor) post their callbacks with ARG0
// the name monitored (say "*"), ARG1 the kernel concerned, ARG2 whether
// ARG1 is a kernel ID (an actual connection) rather than an alias, ARG3
// the data given to Monitor, then per operation: register ARG4 the
// peer's PID; channel ARG4 "ready" or "close" and ARG5 the channel
// session's ID; subscribe and unsubscribe ARG4 the specifier; error ARG4
// the operation ("remote-check", "local-resolve", "channel-read", ...)
// and ARG5 the message. Perl's documentation puts the error and channel
// arguments one lower; the code, Perl's and this one, uses these.
//
// A Server with ServerOptions.Processes above 1 preforks as the seed's
// POE::Component::IKC::Server does, but Go cannot fork a running program:
// each worker is this program executed again, with the listening socket
// inherited and WorkerEnv set. So main must do the same things in every
// process up to Kernel.Run: the same NewServer calls with the same options
// (a worker's server is found by its Name, IP, Port and Unix), and the
// sessions and published states the workers serve. IsWorker, and the
// __parent and __child signals the server sends once the kernel runs,
// tell the roles apart; examples/pulse is a complete program.
package ikc
