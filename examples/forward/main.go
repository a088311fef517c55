// Command forward is POE's TCP port forwarder: it listens on one address
// and, for every connection it accepts, connects to a target and copies
// bytes both ways until both sides have finished.
//
//	go run ./examples/forward -listen 127.0.0.1:8080 -to 127.0.0.1:80
//
// The listening session has a SocketFactory that accepts; each accepted
// connection gets a session of its own with a second SocketFactory that
// connects to the target and two ReadWrite wheels (Stream filter), one per
// socket. A wheel whose output buffer passes the high mark stops the other
// side's reading until it drains below the low mark. End of file on one
// side shuts down writing on the other once its buffer is flushed (a
// half-close), so request/response protocols that rely on it still work;
// the session ends when both directions are done or on any error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"github.com/poe-go/poe/wheel/filter"
)

// config is what the forwarder needs to know.
type config struct {
	listenHost, targetHost string
	listenPort, targetPort int
	// highMark and lowMark (octets) bound what one direction buffers.
	highMark, lowMark int
	logf              func(format string, args ...any)
	ready             func(addr string)
}

// server is the listening session's heap.
type server struct {
	cfg     *config
	factory *wheel.SocketFactory
	err     error // why it could not start
}

func (s *server) Start(e *poe.Event) any {
	k := e.Kernel
	k.AliasSet("forwarder")
	k.Sig("INT", "shutdown")
	k.Sig("TERM", "shutdown")
	var err error
	s.factory, err = wheel.NewSocketFactory(k, wheel.SocketFactoryOptions{
		BindAddress: s.cfg.listenHost, BindPort: s.cfg.listenPort, Reuse: true,
		SuccessEvent: "accepted", FailureEvent: "failed",
	})
	if err != nil {
		s.err = err
		s.stop(k)
		return nil
	}
	addr := s.factory.LocalAddr()
	s.cfg.logf("forwarding %s to %s", addr, net.JoinHostPort(s.cfg.targetHost, strconv.Itoa(s.cfg.targetPort)))
	if s.cfg.ready != nil {
		s.cfg.ready(addr)
	}
	return nil
}

// Accepted starts a session for the connection (ARG0 is its socket, ARG1
// and ARG2 the peer's address and port).
func (s *server) Accepted(e *poe.Event) any {
	peer := "?"
	if ip, ok := e.Arg(poe.ARG1).([]byte); ok {
		peer = net.JoinHostPort(net.IP(ip).String(), strconv.Itoa(e.Int(poe.ARG2)))
	}
	e.Kernel.Create(poe.Spec{
		Objects: []poe.States{poe.Object(&link{cfg: s.cfg, peer: peer},
			"_start", "_stop", "connected", "connect_failed",
			"client_input", "client_error", "client_flushed", "client_low",
			"server_input", "server_error", "server_flushed", "server_low",
			"shutdown")},
		Args: []any{e.Arg(poe.ARG0)},
	})
	return nil
}

// Failed is an accept failure (EMFILE...): the wheel backs off and goes
// on.
func (s *server) Failed(e *poe.Event) any {
	s.cfg.logf("%s failed: %s", e.String(poe.ARG0), e.String(poe.ARG2))
	return nil
}

// Shutdown stops listening and closes the open links: with nothing left,
// the kernel stops and Run returns.
func (s *server) Shutdown(e *poe.Event) any {
	e.Kernel.SigHandled()
	s.cfg.logf("shutting down on SIG%s", e.String(poe.ARG0))
	for _, c := range e.Session.Children() {
		e.Kernel.Post(c, "shutdown")
	}
	s.stop(e.Kernel)
	return nil
}

func (s *server) stop(k *poe.Kernel) {
	if s.factory != nil {
		s.factory.Close()
	}
	k.AliasRemove("forwarder")
	k.Sig("INT", "")
	k.Sig("TERM", "")
}

// link is the heap of one forwarded connection: "client" is the accepted
// socket, "server" the one to the target.
type link struct {
	cfg            *config
	peer           string
	id             poe.SessionID
	connector      *wheel.SocketFactory
	client, server *wheel.ReadWrite
	// clientEOF: the client sent end of file; serverShut: so we shut down
	// writing to the server (and the other way round).
	clientEOF, serverEOF   bool
	clientShut, serverShut bool
}

func (l *link) Start(e *poe.Event) any {
	l.id = e.Session.ID()
	var err error
	l.client, err = l.wheel(e.Kernel, e.Arg(poe.ARG0), "client")
	if err != nil {
		l.cfg.logf("[%d] %v", l.id, err)
		return nil
	}
	// Nothing is read from the client before the target is there, so
	// nothing has to be buffered meanwhile.
	l.client.PauseInput()
	l.connector, err = wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{
		RemoteAddress: l.cfg.targetHost, RemotePort: l.cfg.targetPort,
		SuccessEvent: "connected", FailureEvent: "connect_failed",
	})
	if err != nil {
		l.cfg.logf("[%d] %v", l.id, err)
		l.closeAll()
	}
	return nil
}

// wheel makes the ReadWrite for one side; its events are named after it.
func (l *link) wheel(k *poe.Kernel, h any, side string) (*wheel.ReadWrite, error) {
	return wheel.NewReadWrite(k, wheel.ReadWriteOptions{
		Handle: h,
		// Bytes: records are views into the read buffer, copied once by
		// the other wheel's Put.
		Filter:       filter.NewStream(filter.StreamOptions{Bytes: true}),
		InputEvent:   side + "_input",
		ErrorEvent:   side + "_error",
		FlushedEvent: side + "_flushed",
		HighMark:     l.cfg.highMark, LowMark: l.cfg.lowMark,
		LowEvent: side + "_low",
	})
}

func (l *link) Connected(e *poe.Event) any {
	l.connector.Close()
	l.connector = nil
	var err error
	if l.server, err = l.wheel(e.Kernel, e.Arg(poe.ARG0), "server"); err != nil {
		l.cfg.logf("[%d] %v", l.id, err)
		l.closeAll()
		return nil
	}
	l.cfg.logf("[%d] %s connected to the target", l.id, l.peer)
	l.client.ResumeInput()
	return nil
}

func (l *link) ConnectFailed(e *poe.Event) any {
	l.cfg.logf("[%d] %s to the target failed: %s", l.id, e.String(poe.ARG0), e.String(poe.ARG2))
	l.closeAll()
	return nil
}

// ClientInput goes to the target. Put reports a full output buffer: stop
// reading from the client until server_low.
func (l *link) ClientInput(e *poe.Event) any {
	if l.server.Put(e.Arg(poe.ARG0)) {
		l.client.PauseInput()
		l.cfg.logf("[%d] pause client: %d octets wait for the target", l.id, l.server.DriverOutOctets())
	}
	return nil
}

func (l *link) ServerInput(e *poe.Event) any {
	if l.client.Put(e.Arg(poe.ARG0)) {
		l.server.PauseInput()
		l.cfg.logf("[%d] pause target: %d octets wait for the client", l.id, l.client.DriverOutOctets())
	}
	return nil
}

func (l *link) ServerLow(e *poe.Event) any {
	l.client.ResumeInput()
	l.cfg.logf("[%d] resume client", l.id)
	return nil
}

func (l *link) ClientLow(e *poe.Event) any {
	l.server.ResumeInput()
	l.cfg.logf("[%d] resume target", l.id)
	return nil
}

// ClientError: end of file ("read", 0) half-closes toward the target;
// anything else ends the link.
func (l *link) ClientError(e *poe.Event) any {
	if e.String(poe.ARG0) != "read" || e.Int(poe.ARG1) != 0 {
		l.cfg.logf("[%d] client %s error: %s", l.id, e.String(poe.ARG0), e.String(poe.ARG2))
		l.closeAll()
		return nil
	}
	l.clientEOF = true
	l.cfg.logf("[%d] client sent end of file", l.id)
	l.shutServer()
	return nil
}

func (l *link) ServerError(e *poe.Event) any {
	if e.String(poe.ARG0) != "read" || e.Int(poe.ARG1) != 0 {
		l.cfg.logf("[%d] target %s error: %s", l.id, e.String(poe.ARG0), e.String(poe.ARG2))
		l.closeAll()
		return nil
	}
	l.serverEOF = true
	l.cfg.logf("[%d] target sent end of file", l.id)
	l.shutClient()
	return nil
}

// ServerFlushed and ClientFlushed finish a half-close that waited for
// buffered output: ShutdownOutput drops what is still buffered.
func (l *link) ServerFlushed(e *poe.Event) any { l.shutServer(); return nil }
func (l *link) ClientFlushed(e *poe.Event) any { l.shutClient(); return nil }

func (l *link) shutServer() {
	if l.clientEOF && !l.serverShut && l.server != nil && l.server.DriverOutOctets() == 0 {
		l.server.ShutdownOutput()
		l.serverShut = true
		l.maybeDone()
	}
}

func (l *link) shutClient() {
	if l.serverEOF && !l.clientShut && l.client.DriverOutOctets() == 0 {
		l.client.ShutdownOutput()
		l.clientShut = true
		l.maybeDone()
	}
}

func (l *link) maybeDone() {
	if l.clientShut && l.serverShut {
		l.closeAll()
	}
}

// Shutdown comes from the listening session on a signal.
func (l *link) Shutdown(e *poe.Event) any { l.closeAll(); return nil }

// closeAll closes the wheels: the session has nothing left and ends.
func (l *link) closeAll() {
	if l.connector != nil {
		l.connector.Close()
	}
	if l.client != nil {
		l.client.Close()
	}
	if l.server != nil {
		l.server.Close()
	}
}

func (l *link) Stop(e *poe.Event) any {
	l.cfg.logf("[%d] %s closed", l.id, l.peer)
	return nil
}

// serve runs the forwarder until a signal stops it. It returns why it
// could not start: a target that does not resolve, a listen error.
func serve(cfg *config) error {
	if cfg.logf == nil {
		cfg.logf = func(string, ...any) {}
	}
	if err := resolvable(cfg.targetHost); err != nil {
		return err
	}
	k := poe.NewKernel(nil)
	s := &server{cfg: cfg}
	if _, err := k.Create(poe.Spec{Objects: []poe.States{
		poe.Object(s, "_start", "accepted", "failed", "shutdown"),
	}}); err != nil {
		return err
	}
	if err := k.Run(); err != nil {
		return err
	}
	return s.err
}

// resolvable checks once, at start, that the target's name resolves:
// better than failing every connection later.
func resolvable(host string) error {
	if net.ParseIP(host) != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
		var dns *net.DNSError
		if errors.As(err, &dns) {
			err = errors.New(dns.Err)
		}
		return fmt.Errorf("target %s does not resolve: %w", host, err)
	}
	return nil
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

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	to := flag.String("to", "127.0.0.1:80", "address to forward to")
	high := flag.Int("high", 256<<10, "pause the other side when this many octets wait")
	low := flag.Int("low", 64<<10, "resume it below this many")
	quiet := flag.Bool("q", false, "do not log connections")
	flag.Parse()
	cfg := &config{highMark: *high, lowMark: *low, logf: log.Printf}
	if *quiet {
		cfg.logf = nil
	}
	var err error
	if cfg.listenHost, cfg.listenPort, err = splitAddr(*listen); err == nil {
		cfg.targetHost, cfg.targetPort, err = splitAddr(*to)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "forward:", err)
		os.Exit(2)
	}
	if err := serve(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "forward:", err)
		os.Exit(1)
	}
}
