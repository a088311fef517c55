// Command echo is POE's classic line echo server: a listening session
// with a SocketFactory wheel that starts one session per connection, each
// with a ReadWrite wheel that sends every line back.
//
//	go run ./examples/echo -addr 127.0.0.1:12345
//	# in another terminal: nc 127.0.0.1 12345
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
)

// listener is the server session's heap.
type listener struct {
	host    string
	port    int
	factory *wheel.SocketFactory
	ready   func(addr string)
	err     error // why it could not start
}

func (l *listener) Start(e *poe.Event) any {
	e.Kernel.AliasSet("echo_server")
	e.Kernel.Sig("INT", "shutdown")
	e.Kernel.Sig("TERM", "shutdown")
	var err error
	l.factory, err = wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{
		BindAddress: l.host, BindPort: l.port, Reuse: true,
		SuccessEvent: "accepted", FailureEvent: "failed",
	})
	if err != nil {
		// Nothing is left to run: the kernel stops and serve returns it.
		l.err = err
		l.stop(e.Kernel)
		return nil
	}
	addr := l.factory.LocalAddr()
	slog.Info("echo server listening", "addr", addr)
	if l.ready != nil {
		l.ready(addr)
	}
	return nil
}

// Accepted starts a session for the new connection; ARG0 is its socket.
func (l *listener) Accepted(e *poe.Event) any {
	_, err := e.Kernel.Create(poe.Spec{
		Objects: []poe.States{poe.Object(&connection{}, "_start", "input", "error", "_stop")},
		Args:    []any{e.Arg(poe.ARG0)},
	})
	if err != nil {
		slog.Error("connection session", "err", err)
	}
	return nil
}

// Failed is an accept error (EMFILE...): the wheel backs off and goes on.
func (l *listener) Failed(e *poe.Event) any {
	slog.Error("accept", "operation", e.String(poe.ARG0), "error", e.String(poe.ARG2))
	return nil
}

// Shutdown stops listening; the connection sessions end as their clients
// leave, and then the program.
func (l *listener) Shutdown(e *poe.Event) any {
	slog.Info("shutting down", "signal", e.String(poe.ARG0))
	e.Kernel.SigHandled()
	l.stop(e.Kernel)
	return nil
}

// stop closes the listener and drops the alias and signal watchers.
func (l *listener) stop(k *poe.Kernel) {
	if l.factory != nil {
		l.factory.Close()
	}
	k.AliasRemove("echo_server")
	k.Sig("INT", "")
	k.Sig("TERM", "")
}

// connection is the heap of one connection's session.
type connection struct{ rw *wheel.ReadWrite }

func (c *connection) Start(e *poe.Event) any {
	var err error
	c.rw, err = wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{
		Handle: e.Arg(poe.ARG0), InputEvent: "input", ErrorEvent: "error",
	})
	if err != nil {
		slog.Error("wheel", "err", err)
	}
	return nil
}

func (c *connection) Input(e *poe.Event) any {
	c.rw.Put(e.Arg(poe.ARG0)) // put($_[ARG0]): the record as it came, no new box
	return nil
}

// Error: ("read", 0, "") is the client hanging up. Closing the wheel
// releases the session's last resource, so the session ends.
func (c *connection) Error(e *poe.Event) any {
	c.rw.Close()
	return nil
}

func (c *connection) Stop(e *poe.Event) any { return nil }

// serve runs the echo server until it is shut down. It returns the
// listen error if it could not start.
func serve(host string, port int, ready func(addr string)) error {
	k := poe.NewKernel(nil)
	l := &listener{host: host, port: port, ready: ready}
	if _, err := k.Create(poe.Spec{Objects: []poe.States{
		poe.Object(l, "_start", "accepted", "failed", "shutdown"),
	}}); err != nil {
		return err
	}
	if err := k.Run(); err != nil {
		return err
	}
	return l.err
}

func main() {
	addr := flag.String("addr", "127.0.0.1:12345", "address to listen on")
	flag.Parse()
	host, port, err := splitAddr(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(2)
	}
	if err := serve(host, port, nil); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

// splitAddr splits "host:port"; the port must be a number (its range is
// the wheel's to check).
func splitAddr(s string) (string, int, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("address %s: port %q is not a number", s, p)
	}
	return host, port, nil
}
