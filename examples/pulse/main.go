// Command pulse is the Go port of POE::Component::IKC's eg/server-1: an
// IKC server named Pulse that preforks workers, babysits them, and
// publishes one state, Service/event, which takes [params, rsvp] and
// posts {hello => params.Hi} back to the rsvp specifier. A ClientLite's
// post_respond("Service/event", {Hi => "There"}) gets {hello => "There"}.
//
//	go run ./examples/pulse                      # port 6666, 5 processes
//	go run ./examples/pulse -port 0 -processes 1 # one process, any port
//	go run ./examples/pulse -http 127.0.0.1:8080 # plus the live kernel page
//
// The parent prints "<pid>: Running server on port <port>..." on stdout.
// INT or TERM shut it down: the workers are told to stop and waited for.
// Each worker is this program run again (see ikc.IsWorker): main must do
// the same things in every process, which it does.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/poe-go/poe/examples/internal/seedflag"
	"github.com/poe-go/poe/ikc"
	"github.com/poe-go/poe/poe"
)

// config is the command line.
type config struct {
	ip          string
	port        int
	unix        string
	processes   int
	connections int
	babysit     time.Duration
	quiet       bool
	httpAddr    string
}

func main() {
	var c config
	flag.StringVar(&c.ip, "ip", "0.0.0.0", "address to listen on")
	flag.IntVar(&c.port, "port", 6666, "TCP port (0: any free one)")
	flag.StringVar(&c.unix, "unix", "", "listen on this Unix socket instead")
	flag.IntVar(&c.processes, "processes", 5, "processes in all: the parent and processes-1 workers (1: no prefork)")
	flag.IntVar(&c.connections, "connections", 3, "connections a worker serves before it exits")
	seedflag.Var(flag.CommandLine, &c.babysit, "babysit", 30*time.Second, "period of the babysitter: seconds as in the seed (30) or a duration (30s); 0: none")
	flag.BoolVar(&c.quiet, "quiet", false, "do not log prefork activity")
	flag.StringVar(&c.httpAddr, "http", "", "serve the kernel page (poe.PeekHandler) on this address")
	flag.Parse()
	if err := run(c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pulse:", err)
		os.Exit(1)
	}
}

// run is main without the flags: build the kernel, the server and the
// Service session, then run until the server shuts down.
func run(c config, out io.Writer) error {
	k := poe.NewKernel(nil)
	port := c.port
	if port == 0 {
		port = ikc.EphemeralPort
	}
	srv, err := ikc.NewServer(k, ikc.ServerOptions{
		IP: c.ip, Port: port, Unix: c.unix, Name: "Pulse",
		Processes: c.processes, Babysit: c.babysit, Connections: c.connections,
		Verbose: !c.quiet,
	})
	if err != nil {
		return err
	}
	if _, err := k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.AliasSet("Service")
			if c.processes <= 1 {
				// Without prefork the server leaves INT and TERM to
				// the program (POE's default would kill it).
				e.Kernel.Sig("INT", "shutdown")
				e.Kernel.Sig("TERM", "shutdown")
			}
			return ikc.Publish(e.Kernel, e.Session, "event")
		},
		"shutdown": func(e *poe.Event) any {
			e.Kernel.SigHandled()
			ikc.Shutdown(e.Kernel)
			e.Kernel.AliasRemove("Service")
			e.Kernel.Sig("INT", "")
			e.Kernel.Sig("TERM", "")
			return nil
		},
		"_stop": func(e *poe.Event) any {
			slog.Debug("Service _stop", "pid", os.Getpid())
			return nil
		},
		"event": event,
	}}); err != nil {
		return err
	}
	if ikc.IsWorker() {
		return k.Run()
	}
	if c.httpAddr != "" {
		ln, err := net.Listen("tcp", c.httpAddr)
		if err != nil {
			return err
		}
		defer ln.Close()
		go http.Serve(ln, poe.PeekHandler(k))
		fmt.Fprintf(out, "%d: kernel page on http://%s/\n", os.Getpid(), ln.Addr())
	}
	where := fmt.Sprintf("port %d", srv.Port())
	if c.unix != "" {
		where = c.unix
	}
	fmt.Fprintf(out, "%d: Running server on %s...\n", os.Getpid(), where)
	err = k.Run()
	fmt.Fprintf(out, "%d: Server exited...\n", os.Getpid())
	return err
}

// event is Service/event: ARG0 is [params, rsvp]; the answer is posted
// to rsvp through IKC, as the Perl original does.
func event(e *poe.Event) any {
	args := e.Slice(poe.ARG0)
	if len(args) < 2 {
		slog.Warn("event: want [params, rsvp]", "got", e.Arg(poe.ARG0))
		return nil
	}
	var hi any
	if p, ok := args[0].(map[string]any); ok {
		hi = p["Hi"]
	}
	slog.Debug("event", "pid", os.Getpid(), "Hi", hi)
	e.Kernel.Post("IKC", "post", args[1], map[string]any{"hello": hi})
	return nil
}
