// Package servertcp is POE::Component::Server::TCP: a listening session
// that accepts TCP (or Unix) connections and, by default, starts one
// session per connection with a ReadWrite wheel in its heap, driven by
// callbacks (ClientInput, ClientConnected, ClientDisconnected...).
//
// The callbacks are poe.Handlers run inside the sessions, with the events'
// own arguments, as Perl's coderefs are: the listener's (Started, Stopped,
// Error, Acceptor) in the listening session, whose heap is the *Server, and
// the Client ones in each connection's session, whose heap is a *Conn
// (ConnOf). The sessions answer POE's event names: "shutdown",
// "set_concurrency" and "disconnected" to the listener; "shutdown" to a
// connection.
package servertcp

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"github.com/poe-go/poe/wheel/filter"
	"golang.org/x/sys/unix"
)

// NoConnections is the Concurrency of a server that accepts nothing until a
// set_concurrency event allows it: Perl's Concurrency => 0 (0 is the Go zero
// value, so it means no limit here).
const NoConnections = -2

// The events the sessions handle, under POE's names.
const (
	// EventShutdown: to the listener, stop listening (connections finish);
	// to a connection, flush its output and disconnect.
	EventShutdown = "shutdown"
	// EventSetConcurrency(n) changes the listener's limit: n > 0 at most n
	// connections, 0 none, -1 no limit (Perl's numbers).
	EventSetConcurrency = "set_concurrency"
	// EventDisconnected tells the listener that a connection ended; a
	// custom Acceptor's sessions post it for Concurrency to work.
	EventDisconnected = "disconnected"
)

// Internal event names, POE's: InlineStates may not redefine them.
const (
	evGotConnection = "tcp_server_got_connection"
	evGotError      = "tcp_server_got_error"
	evGotInput      = "tcp_server_got_input"
	evGotFlush      = "tcp_server_got_flush"
	evGotHigh       = "tcp_server_got_high"
	evGotLow        = "tcp_server_got_low"
)

// ErrOptions is wrapped by New's errors for options that do not go
// together (POE croaks for them).
var ErrOptions = errors.New("servertcp: bad options")

// Options are POE::Component::Server::TCP's parameters. Exactly one of
// Acceptor and ClientInput is required; the Client options need
// ClientInput.
type Options struct {
	// Port to listen on; 0 lets the system pick (read it with Port).
	// Ignored for DomainUnix.
	Port int
	// Address is the interface (or, with DomainUnix, the socket path);
	// empty means every interface. Hostname is used when Address is empty
	// (Perl resolves it once; so does the socket factory).
	Address, Hostname string
	// Domain is wheel.DomainInet (the default), DomainInet6 or DomainUnix.
	Domain wheel.Domain
	// Alias names the listening session (not the connections).
	Alias string
	// Concurrency bounds the connections open at once: n > 0 at most n,
	// NoConnections none until set_concurrency; 0 and -1 no limit (Perl's
	// default, -1). Past the limit the listener stops accepting and new
	// clients wait in the backlog.
	Concurrency int

	// Started runs at the end of the listener's _start, its ARG0..
	// ListenerArgs; Stopped at the beginning of its _stop. The listener's
	// heap is the *Server.
	Started, Stopped poe.Handler
	ListenerArgs     []any
	// Error handles the listener's SocketFactory failures after start-up
	// (accept errors), ARG0..ARG2 = operation, errno, message. The
	// default logs them and stops listening. Setup failures (bind,
	// listen...) are New's error instead.
	Error poe.Handler
	// Acceptor replaces the default connection sessions: it gets the
	// SocketFactory's SuccessEvent (ARG0 the accepted socket, an fd the
	// Acceptor owns; ARG1 the packed address; ARG2 the port). With a
	// Concurrency, its sessions must post EventDisconnected to the
	// listener (SENDER of their _start) when they end.
	Acceptor poe.Handler

	// ClientInput gets each input record (ARG0) in a connection's session.
	ClientInput poe.Handler
	// ClientPreConnect runs in the connection's _start before the wheel
	// exists, ARG0 the socket; it returns the handle to use (the socket,
	// or a wrapper of it), or nil to refuse the connection, which the
	// component then closes.
	ClientPreConnect poe.Handler
	// ClientConnected runs at the end of the connection's _start, its
	// ARG0.. ClientArgs.
	ClientConnected poe.Handler
	// ClientDisconnected runs when the connection is closed by either
	// side (its arguments are those of the event that closed it).
	ClientDisconnected poe.Handler
	// ClientError gets the ReadWrite wheel's ErrorEvent (ARG0..ARG2 =
	// operation, errno, message; ("read", 0, "") is end of file). The
	// default logs all but end of file and ECONNRESET.
	ClientError poe.Handler
	// ClientFlushed runs whenever the connection's output is flushed.
	ClientFlushed poe.Handler
	// ClientFilter is cloned for each connection (default: a Line
	// filter); ClientInputFilter and ClientOutputFilter, both or
	// neither, replace it per direction.
	ClientFilter, ClientInputFilter, ClientOutputFilter filter.Filter
	// NoClientShutdownOnError keeps a connection open after an error;
	// by default (Perl's ClientShutdownOnError => 1) an error shuts it
	// down.
	NoClientShutdownOnError bool
	// HighMark, LowMark, ClientHigh and ClientLow go together (all four
	// or none): the ReadWrite wheel's output marks and their callbacks.
	HighMark, LowMark     int
	ClientHigh, ClientLow poe.Handler
	// ClientArgs are ClientConnected's ARG0..; Args is their older name
	// (Perl deprecates it), used when ClientArgs is nil.
	ClientArgs, Args []any
	// ClientData, when set, makes each connection's Conn.Data.
	ClientData func() any
	// InlineStates, ObjectStates and PackageStates are extra handlers
	// of each connection's session (not the listener's). They may not
	// redefine _start, _stop, _child, shutdown or the tcp_server_got_*
	// events (POE checks that in ASSERT_USAGE mode only).
	InlineStates  map[string]poe.Handler
	ObjectStates  []poe.States
	PackageStates []poe.States
	// SessionOptions are the options of every session the component
	// creates (Perl's SessionParams => [options => {...}]).
	SessionOptions map[string]any

	// Logger receives the default handlers' warnings (default:
	// slog.Default()).
	Logger *slog.Logger
}

// Server is the listening session's heap: what Perl keeps in $_[HEAP]
// (listener, connections, concurrency, alias).
type Server struct {
	k       *poe.Kernel
	o       Options
	log     *slog.Logger
	session *poe.Session

	listener    *wheel.SocketFactory
	connections int
	concurrency int // Perl's numbers: -1 no limit
	alive       bool
	started     bool
	setupErr    error

	inFilter, outFilter filter.Filter
	clientArgs          []any
	clientInline        map[string]poe.Handler
}

// Conn is a connection session's heap: Perl's $_[HEAP]{client},
// {remote_ip} and the rest, with the application's Data.
type Conn struct {
	// Client is the connection's ReadWrite wheel ($_[HEAP]{client}); nil
	// before the wheel exists and once the connection is closed.
	Client *wheel.ReadWrite
	// RemoteIP is the peer's address as text ("LOCAL" for Unix sockets),
	// RemotePort its port, RemoteAddr the packed address (4 or 16 octets).
	RemoteIP   string
	RemotePort int
	RemoteAddr []byte
	// ShuttingDown is set by "shutdown" ($_[HEAP]{shutdown}): input is
	// then ignored and the connection closes once its output is flushed.
	ShuttingDown bool
	// ShutdownOnError and GotAnError are POE's shutdown_on_error and
	// got_an_error.
	ShutdownOnError bool
	GotAnError      bool
	// Server is the listener that accepted the connection.
	Server *Server
	// Data is the application's per-connection state (Options.ClientData).
	Data any
}

// ConnOf returns the Conn heap of a connection session's event, or nil.
func ConnOf(e *poe.Event) *Conn {
	c, _ := e.Heap.(*Conn)
	return c
}

// DataOf returns a connection's Data as a T (the zero T if it is not one).
func DataOf[T any](e *poe.Event) T {
	var zero T
	c := ConnOf(e)
	if c == nil {
		return zero
	}
	d, _ := c.Data.(T)
	return d
}

// ServerOf returns the Server heap of a listener session's event (Started,
// Stopped, Error, Acceptor), or nil.
func ServerOf(e *poe.Event) *Server {
	s, _ := e.Heap.(*Server)
	return s
}

var forbidden = []string{
	"_start", "_stop", "_child", EventShutdown,
	evGotError, evGotFlush, evGotHigh, evGotInput, evGotLow,
}

// New starts a server: it creates the listening session, which binds and
// listens at once. What fails then (resolving, bind, listen) is returned, a
// *wheel.SocketError (errors.Is(err, syscall.EADDRINUSE)), and no session
// remains; inconsistent options wrap ErrOptions. Call it on the kernel's
// goroutine (before Run, or from a handler).
func New(k *poe.Kernel, o Options) (*Server, error) {
	if k == nil {
		return nil, fmt.Errorf("%w: no kernel", ErrOptions)
	}
	if err := check(&o); err != nil {
		return nil, err
	}
	s := &Server{k: k, o: o, log: o.Logger, concurrency: perlConcurrency(o.Concurrency)}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.clientArgs = o.ClientArgs
	if s.clientArgs == nil {
		s.clientArgs = o.Args
	}
	if o.ClientInputFilter != nil {
		s.inFilter, s.outFilter = o.ClientInputFilter, o.ClientOutputFilter
		if o.ClientFilter != nil {
			s.log.Warn("servertcp: ClientFilter ignored with ClientInputFilter and ClientOutputFilter")
		}
	} else if o.ClientFilter != nil {
		s.inFilter = o.ClientFilter
	}
	if o.ClientInput != nil {
		s.clientInline = s.connectionStates()
	}
	_, err := k.Create(poe.Spec{
		Inline: map[string]poe.Handler{
			"_start":            s.start,
			"_stop":             s.stop,
			"_child":            nop,
			evGotError:          s.listenerError,
			evGotConnection:     s.gotConnection,
			EventDisconnected:   s.disconnected,
			EventSetConcurrency: s.setConcurrency,
			EventShutdown:       s.shutdown,
		},
		Args:    o.ListenerArgs,
		Heap:    s,
		Options: copyOptions(o.SessionOptions),
	})
	if err != nil {
		return nil, err
	}
	if s.setupErr != nil {
		return nil, s.setupErr
	}
	return s, nil
}

func check(o *Options) error {
	if (o.Acceptor == nil) == (o.ClientInput == nil) {
		return fmt.Errorf("%w: needs either an Acceptor or a ClientInput but not both", ErrOptions)
	}
	if o.Acceptor != nil {
		client := o.ClientPreConnect != nil || o.ClientConnected != nil || o.ClientDisconnected != nil ||
			o.ClientError != nil || o.ClientFlushed != nil || o.ClientFilter != nil ||
			o.ClientInputFilter != nil || o.ClientOutputFilter != nil || o.ClientHigh != nil ||
			o.ClientLow != nil || o.NoClientShutdownOnError || o.ClientArgs != nil || o.ClientData != nil ||
			o.InlineStates != nil || o.ObjectStates != nil || o.PackageStates != nil
		if client {
			return fmt.Errorf("%w: the Client options and extra states need ClientInput, not an Acceptor", ErrOptions)
		}
	}
	if (o.ClientInputFilter == nil) != (o.ClientOutputFilter == nil) {
		return fmt.Errorf("%w: ClientInputFilter must be used with ClientOutputFilter", ErrOptions)
	}
	marks := 0
	for _, set := range []bool{o.HighMark != 0, o.LowMark != 0, o.ClientHigh != nil, o.ClientLow != nil} {
		if set {
			marks++
		}
	}
	if marks != 0 && marks != 4 {
		return fmt.Errorf("%w: HighMark, LowMark, ClientHigh and ClientLow go together", ErrOptions)
	}
	if marks == 4 && (o.LowMark <= 0 || o.HighMark <= o.LowMark) {
		return fmt.Errorf("%w: marks need 0 < LowMark < HighMark", ErrOptions)
	}
	for name, h := range o.InlineStates {
		if h == nil {
			return fmt.Errorf("%w: InlineStates %q has no handler", ErrOptions, name)
		}
	}
	for _, name := range forbidden {
		if _, ok := o.InlineStates[name]; ok {
			return fmt.Errorf("%w: InlineStates may not define %q", ErrOptions, name)
		}
		for _, group := range [][]poe.States{o.ObjectStates, o.PackageStates} {
			for _, st := range group {
				_, h := st.Handlers[name]
				_, m := st.Methods[name]
				if h || m {
					return fmt.Errorf("%w: ObjectStates and PackageStates may not define %q", ErrOptions, name)
				}
			}
		}
	}
	return nil
}

// perlConcurrency maps the option to POE's numbers.
func perlConcurrency(n int) int {
	switch {
	case n == NoConnections:
		return 0
	case n > 0:
		return n
	}
	return -1
}

func copyOptions(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func nop(*poe.Event) any { return nil }

// Session returns the listening session (Perl's new returns its ID).
func (s *Server) Session() *poe.Session { return s.session }

// ID returns the listening session's ID.
func (s *Server) ID() poe.SessionID {
	if s.session == nil {
		return 0
	}
	return s.session.ID()
}

// Listener returns the listening wheel ($_[HEAP]{listener}), nil once the
// server stopped listening.
func (s *Server) Listener() *wheel.SocketFactory { return s.listener }

// Port returns the port listened on (0 for Unix sockets or once stopped).
func (s *Server) Port() int {
	if s.listener == nil {
		return 0
	}
	return s.listener.Port()
}

// LocalAddr returns the address listened on ("127.0.0.1:8080", a socket
// path), "" once stopped.
func (s *Server) LocalAddr() string {
	if s.listener == nil {
		return ""
	}
	return s.listener.LocalAddr()
}

// Alias returns the listener's alias.
func (s *Server) Alias() string { return s.o.Alias }

// Connections returns the connections open ($_[HEAP]{connections}).
func (s *Server) Connections() int { return s.connections }

// Concurrency returns the limit in POE's numbers: -1 no limit, 0 none, n.
func (s *Server) Concurrency() int { return s.concurrency }

// Shutdown posts "shutdown" to the listener: it stops accepting, and the
// session ends once the connections have. Call it on the kernel's goroutine
// (other goroutines post EventShutdown with PostFromGoroutine).
func (s *Server) Shutdown() error { return s.k.Post(s.session, EventShutdown) }

// SetConcurrency calls "set_concurrency" with n in POE's numbers.
func (s *Server) SetConcurrency(n int) error {
	_, err := s.k.Call(s.session, EventSetConcurrency, n)
	return err
}

// The listener's handlers.

func (s *Server) start(e *poe.Event) any {
	k := e.Kernel
	s.session, s.alive = e.Session, true
	if s.o.Alias != "" {
		k.AliasSet(s.o.Alias)
	}
	bind := s.o.Address
	if bind == "" {
		bind = s.o.Hostname
	}
	fo := wheel.SocketFactoryOptions{
		SocketDomain: s.o.Domain, BindAddress: bind, Reuse: true,
		SuccessEvent: evGotConnection, FailureEvent: evGotError,
	}
	if s.o.Domain != wheel.DomainUnix {
		fo.BindPort = s.o.Port
	}
	f, err := wheel.NewSocketFactory(k, fo)
	if err != nil {
		s.setupErr = err
		if s.o.Alias != "" {
			k.AliasRemove(s.o.Alias)
		}
		return nil
	}
	s.listener = f
	// POE pauses only after an accept, so Concurrency => 0 lets one
	// connection in; its documentation says none, which is what this does.
	if s.concurrency != -1 && s.connections >= s.concurrency {
		f.PauseAccept()
	}
	s.started = true
	if s.o.Started != nil {
		s.o.Started(e)
	}
	return nil
}

func (s *Server) stop(e *poe.Event) any {
	if s.started && s.o.Stopped != nil {
		s.o.Stopped(e)
	}
	s.alive = false
	return nil
}

func (s *Server) listenerError(e *poe.Event) any {
	if s.o.Error != nil {
		return s.o.Error(e)
	}
	s.log.Warn("servertcp: listener error",
		"server", e.Session.ID(), "operation", e.String(poe.ARG0),
		"errno", e.Int(poe.ARG1), "error", e.String(poe.ARG2))
	s.closeListener()
	return nil
}

func (s *Server) closeListener() {
	if s.listener != nil {
		s.listener.Close()
		s.listener = nil
	}
}

func (s *Server) gotConnection(e *poe.Event) any {
	s.connections++
	if s.concurrency != -1 && s.listener != nil && s.connections >= s.concurrency {
		s.listener.PauseAccept()
	}
	if s.o.Acceptor != nil {
		return s.o.Acceptor(e)
	}
	s.accept(e)
	return nil
}

func (s *Server) disconnected(e *poe.Event) any {
	s.connections--
	if s.connections < 0 {
		s.log.Warn("servertcp: excessive 'disconnected' event", "server", e.Session.ID(), "sender", e.Sender.ID())
		s.connections = 0
	}
	if s.concurrency != -1 && s.listener != nil && s.connections == s.concurrency-1 {
		s.listener.ResumeAccept()
	}
	return nil
}

func (s *Server) setConcurrency(e *poe.Event) any {
	s.concurrency = e.Int(poe.ARG0)
	if s.listener == nil {
		return nil
	}
	// POE 1.370 never resumes for -1 (its check skips -1); the
	// documented way to open a paused server is set_concurrency(-1).
	if s.concurrency != -1 && s.connections >= s.concurrency {
		s.listener.PauseAccept()
	} else {
		s.listener.ResumeAccept()
	}
	return nil
}

func (s *Server) shutdown(e *poe.Event) any {
	s.closeListener()
	if s.o.Alias != "" {
		e.Kernel.AliasRemove(s.o.Alias)
	}
	return nil
}

// accept is the default Acceptor: a session for the connection.
func (s *Server) accept(e *poe.Event) {
	sock := e.Arg(poe.ARG0)
	c := &Conn{Server: s, ShutdownOnError: !s.o.NoClientShutdownOnError}
	if s.o.Domain == wheel.DomainUnix {
		c.RemoteIP = "LOCAL"
	} else if b, ok := e.Arg(poe.ARG1).([]byte); ok {
		c.RemoteAddr = append([]byte(nil), b...)
		c.RemoteIP = net.IP(b).String()
		c.RemotePort = e.Int(poe.ARG2)
	}
	if s.o.ClientData != nil {
		c.Data = s.o.ClientData()
	}
	_, err := e.Kernel.Create(poe.Spec{
		Inline:   s.clientInline,
		Objects:  s.o.ObjectStates,
		Packages: s.o.PackageStates,
		Args:     []any{sock, s.clientArgs},
		Heap:     c,
		Options:  copyOptions(s.o.SessionOptions),
	})
	if err != nil {
		s.log.Error("servertcp: connection session", "err", err)
		closeHandle(sock)
		s.disconnected(e)
	}
}

// closeHandle closes an fd or a Closer.
func closeHandle(h any) {
	switch v := h.(type) {
	case int:
		if v >= 0 {
			unix.Close(v)
		}
	case io.Closer:
		v.Close()
	}
}

// The connection sessions' handlers, shared by all of them (the kernel
// copies a session's table only when it changes).

func (s *Server) connectionStates() map[string]poe.Handler {
	m := map[string]poe.Handler{
		"_start":      s.connStart,
		"_stop":       s.connStop,
		"_child":      nop,
		evGotInput:    s.connInput,
		evGotError:    s.connError,
		evGotFlush:    s.connFlush,
		evGotHigh:     nop,
		evGotLow:      nop,
		EventShutdown: s.connShutdown,
	}
	if s.o.ClientHigh != nil {
		m[evGotHigh], m[evGotLow] = s.o.ClientHigh, s.o.ClientLow
	}
	for name, h := range s.o.InlineStates {
		m[name] = h
	}
	return m
}

func (s *Server) connStart(e *poe.Event) any {
	c := e.Heap.(*Conn)
	sock := e.Arg(poe.ARG0)
	if s.o.ClientPreConnect != nil {
		h := s.o.ClientPreConnect(e)
		if !validHandle(h) {
			closeHandle(sock)
			return nil
		}
		sock = h
	}
	ro := wheel.ReadWriteOptions{
		Handle:     sock,
		InputEvent: evGotInput, ErrorEvent: evGotError, FlushedEvent: evGotFlush,
	}
	switch {
	case s.outFilter != nil:
		ro.InputFilter, ro.OutputFilter = s.inFilter.Clone(), s.outFilter.Clone()
	case s.inFilter != nil:
		ro.Filter = s.inFilter.Clone()
	default:
		ro.Filter = filter.MustLine(filter.LineOptions{})
	}
	if s.o.ClientHigh != nil {
		ro.HighMark, ro.LowMark = s.o.HighMark, s.o.LowMark
		ro.HighEvent, ro.LowEvent = evGotHigh, evGotLow
	}
	rw, err := wheel.NewReadWrite(e.Kernel, ro)
	if err != nil {
		s.log.Error("servertcp: connection wheel", "session", e.Session.ID(), "err", err)
		closeHandle(sock)
		return nil
	}
	c.Client = rw
	if s.o.ClientConnected != nil {
		// ClientConnected's ARG0.. are ClientArgs, as POE splices them in.
		saved := e.Args
		e.Args = append([]any(nil), s.clientArgs...)
		s.o.ClientConnected(e)
		e.Args = saved
	}
	return nil
}

func validHandle(h any) bool {
	switch v := h.(type) {
	case nil:
		return false
	case int:
		return v >= 0
	}
	return true
}

func (s *Server) connStop(e *poe.Event) any {
	c := e.Heap.(*Conn)
	c.closeClient()
	if s.alive {
		e.Kernel.Call(s.session, EventDisconnected)
	}
	return nil
}

func (c *Conn) closeClient() {
	if c.Client != nil {
		c.Client.Close()
		c.Client = nil
	}
}

func (s *Server) connInput(e *poe.Event) any {
	if e.Heap.(*Conn).ShuttingDown {
		return nil
	}
	s.o.ClientInput(e)
	return nil
}

func (s *Server) connError(e *poe.Event) any {
	c := e.Heap.(*Conn)
	if e.String(poe.ARG0) == "accept" && e.Int(poe.ARG1) == int(unix.ECONNABORTED) {
		return nil
	}
	if s.o.ClientError != nil {
		s.o.ClientError(e)
	} else {
		s.defaultClientError(e)
	}
	if c.ShutdownOnError {
		c.GotAnError = true
		e.Kernel.Yield(EventShutdown)
	}
	return nil
}

func (s *Server) defaultClientError(e *poe.Event) {
	op, errno := e.String(poe.ARG0), e.Int(poe.ARG1)
	if op == "read" && (errno == 0 || errno == int(unix.ECONNRESET)) {
		return
	}
	msg := e.String(poe.ARG2)
	if errno == 0 {
		msg = "(no error)"
	}
	s.log.Warn("servertcp: client error", "session", e.Session.ID(), "operation", op, "errno", errno, "error", msg)
}

func (s *Server) connFlush(e *poe.Event) any {
	c := e.Heap.(*Conn)
	if s.o.ClientFlushed != nil {
		s.o.ClientFlushed(e)
	}
	if c.ShuttingDown {
		if s.o.ClientDisconnected != nil {
			s.o.ClientDisconnected(e)
		}
		c.closeClient()
	}
	return nil
}

func (s *Server) connShutdown(e *poe.Event) any {
	c := e.Heap.(*Conn)
	c.ShuttingDown = true
	if c.Client != nil && (c.GotAnError || c.Client.DriverOutOctets() == 0) {
		if s.o.ClientDisconnected != nil {
			s.o.ClientDisconnected(e)
		}
		c.closeClient()
	}
	return nil
}
