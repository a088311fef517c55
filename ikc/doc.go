// Package ikc is Inter-Kernel Communication for POE kernels, wire
// compatible with Perl's POE::Component::IKC 0.2402 (docs/ikc-protocol.md).
// It is the kernel side: the Responder (the session aliased IKC), a
// channel session per connection, the Client and the Server, on the POE
// kernel and its wheels. The transport-independent layer (specifiers,
// messages, negotiation) is package ikc/protocol; the blocking client for
// Go code outside any kernel is package ikc/clientlite.
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
