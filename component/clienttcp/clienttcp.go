// Package clienttcp is POE::Component::Client::TCP: one session that
// connects to a server with a SocketFactory wheel, then talks to it through
// a ReadWrite wheel, driven by callbacks (Connected, ServerInput,
// Disconnected...).
//
// The callbacks are poe.Handlers run in the client's session with the
// events' own arguments, as Perl's coderefs are; the session's heap is the
// *Client (From). The session answers POE's commands "connect",
// "reconnect" and "shutdown", posted to it (by its Alias, say) or yielded
// from a callback.
package clienttcp

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"github.com/poe-go/poe/wheel/filter"
	"golang.org/x/sys/unix"
)

// The commands the client's session handles, under POE's names.
const (
	// EventConnect(address, port) connects again, to a new address and
	// port when given (nil keeps the old ones); the current connection
	// is dropped with its buffered data.
	EventConnect = "connect"
	// EventReconnect drops the current connection, if any, and connects
	// again to the last address.
	EventReconnect = "reconnect"
	// EventShutdown flushes the output, disconnects and lets the session
	// end; input is ignored from then on.
	EventShutdown = "shutdown"
)

// Internal event names, POE's.
const (
	evConnectSuccess = "got_connect_success"
	evConnectError   = "got_connect_error"
	evConnectTimeout = "got_connect_timeout"
	evServerInput    = "got_server_input"
	evServerError    = "got_server_error"
	evServerFlush    = "got_server_flush"
	evHigh           = "got_high"
	evLow            = "got_low"
)

// ErrOptions is wrapped by New's errors for missing or inconsistent
// options (POE croaks for them).
var ErrOptions = errors.New("clienttcp: bad options")

// Options are POE::Component::Client::TCP's parameters. RemoteAddress,
// RemotePort (except for Unix sockets) and ServerInput are required.
type Options struct {
	// RemoteAddress is the server's host name or address, or with
	// DomainUnix its socket path; RemotePort its port.
	RemoteAddress string
	RemotePort    int
	// BindAddress and BindPort bind the local end before connecting.
	BindAddress string
	BindPort    int
	// Domain is wheel.DomainInet (the default), DomainInet6 or DomainUnix.
	Domain wheel.Domain
	// Alias names the session, so that others can post it commands.
	Alias string
	// ConnectTimeout bounds each connection attempt; past it ConnectError
	// gets ("connect", ETIMEDOUT, "Connection timed out"). Zero leaves it
	// to the system.
	ConnectTimeout time.Duration

	// Started runs at the end of the session's _start, its ARG0.. Args.
	Started poe.Handler
	Args    []any
	// PreConnect gets the connected socket (ARG0) before the wheel exists
	// and returns the handle to use (the socket or a wrapper of it), or
	// nil to drop the connection.
	PreConnect poe.Handler
	// Connected runs once the ReadWrite wheel exists: ARG0 the socket (the
	// wheel owns it), ARG1 the packed peer address, ARG2 the port.
	Connected poe.Handler
	// ConnectError gets the SocketFactory's failures (ARG0..ARG2 =
	// operation, errno, message), including resolving and a timeout. The
	// default logs them. Unless it asks for a reconnect (a delayed
	// "reconnect", say) the session then ends.
	ConnectError poe.Handler
	// Disconnected runs when an established connection is closed.
	Disconnected poe.Handler
	// ServerInput gets each input record (ARG0); it is not called once
	// shutting down.
	ServerInput poe.Handler
	// ServerError gets the ReadWrite wheel's ErrorEvent (("read", 0, "")
	// is the server closing). The default logs it and shuts down; the
	// connection is shut down after it in any case (ShutdownOnError).
	ServerError poe.Handler
	// ServerFlushed runs whenever the output buffer has been written.
	ServerFlushed poe.Handler
	// Filter is cloned for each connection (default: a Line filter).
	Filter filter.Filter
	// HighMark, LowMark, ServerHigh and ServerLow go together (all four
	// or none): the ReadWrite wheel's output marks and their callbacks.
	HighMark, LowMark     int
	ServerHigh, ServerLow poe.Handler
	// InlineStates, ObjectStates and PackageStates are extra handlers of
	// the session; as in POE, inline ones override the component's.
	InlineStates  map[string]poe.Handler
	ObjectStates  []poe.States
	PackageStates []poe.States
	// SessionOptions are the session's options (Perl's SessionParams =>
	// [options => {...}]).
	SessionOptions map[string]any
	// Data is the application's state, Client.Data.
	Data any

	// Logger receives the default handlers' warnings (default:
	// slog.Default()).
	Logger *slog.Logger
}

// Client is the session's heap: Perl's $_[HEAP]{server}, {connected},
// {shutdown} and the rest.
type Client struct {
	// Server is the ReadWrite wheel of the established connection
	// ($_[HEAP]{server} once connected); nil while connecting and after.
	Server *wheel.ReadWrite
	// Connected is true while a connection is established.
	Connected bool
	// ShuttingDown is set by "shutdown" ($_[HEAP]{shutdown}) and cleared
	// by "reconnect".
	ShuttingDown bool
	// ShutdownOnError and GotAnError are POE's shutdown_on_error (true)
	// and got_an_error.
	ShutdownOnError bool
	GotAnError      bool
	// Data is the application's state (Options.Data).
	Data any

	k        *poe.Kernel
	o        Options
	log      *slog.Logger
	session  *poe.Session
	address  string
	port     int
	factory  *wheel.SocketFactory
	timeout  poe.AlarmID
	timerSet bool
}

// From returns the Client heap of an event of the client's session, or nil.
func From(e *poe.Event) *Client {
	c, _ := e.Heap.(*Client)
	return c
}

// New creates the client's session, which starts connecting once the
// kernel runs its first event (POE yields "reconnect" from _start).
// Connection failures go to ConnectError; New fails only for missing or
// inconsistent options (wrapping ErrOptions) or if the session cannot be
// created. Call it on the kernel's goroutine.
func New(k *poe.Kernel, o Options) (*Client, error) {
	if k == nil {
		return nil, fmt.Errorf("%w: no kernel", ErrOptions)
	}
	switch {
	case o.RemoteAddress == "":
		return nil, fmt.Errorf("%w: needs a RemoteAddress", ErrOptions)
	case o.RemotePort == 0 && o.Domain != wheel.DomainUnix:
		return nil, fmt.Errorf("%w: needs a RemotePort", ErrOptions)
	case o.ServerInput == nil:
		return nil, fmt.Errorf("%w: needs a ServerInput", ErrOptions)
	}
	marks := 0
	for _, set := range []bool{o.HighMark != 0, o.LowMark != 0, o.ServerHigh != nil, o.ServerLow != nil} {
		if set {
			marks++
		}
	}
	if marks != 0 && marks != 4 {
		return nil, fmt.Errorf("%w: HighMark, LowMark, ServerHigh and ServerLow go together", ErrOptions)
	}
	if marks == 4 && (o.LowMark <= 0 || o.HighMark <= o.LowMark) {
		return nil, fmt.Errorf("%w: marks need 0 < LowMark < HighMark", ErrOptions)
	}
	for name, h := range o.InlineStates {
		if h == nil {
			return nil, fmt.Errorf("%w: InlineStates %q has no handler", ErrOptions, name)
		}
	}
	c := &Client{k: k, o: o, log: o.Logger, address: o.RemoteAddress, port: o.RemotePort, Data: o.Data}
	if c.log == nil {
		c.log = slog.Default()
	}
	inline := map[string]poe.Handler{
		"_start":         c.start,
		"_stop":          nop,
		"_child":         nop,
		EventReconnect:   c.reconnect,
		EventConnect:     c.connect,
		EventShutdown:    c.shutdown,
		evConnectSuccess: c.connectSuccess,
		evConnectError:   c.connectError,
		evConnectTimeout: c.connectTimeout,
		evServerInput:    c.serverInput,
		evServerError:    c.serverError,
		evServerFlush:    c.serverFlush,
		evHigh:           nop,
		evLow:            nop,
	}
	if o.ServerHigh != nil {
		inline[evHigh], inline[evLow] = o.ServerHigh, o.ServerLow
	}
	for name, h := range o.InlineStates {
		inline[name] = h
	}
	var opts map[string]any
	if o.SessionOptions != nil {
		opts = make(map[string]any, len(o.SessionOptions))
		for k, v := range o.SessionOptions {
			opts[k] = v
		}
	}
	if _, err := k.Create(poe.Spec{
		Inline: inline, Objects: o.ObjectStates, Packages: o.PackageStates,
		Args: o.Args, Heap: c, Options: opts,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

func nop(*poe.Event) any { return nil }

// Session returns the client's session (Perl's new returns its ID).
func (c *Client) Session() *poe.Session { return c.session }

// ID returns the session's ID.
func (c *Client) ID() poe.SessionID {
	if c.session == nil {
		return 0
	}
	return c.session.ID()
}

// Connector returns the SocketFactory of a connection in progress
// ($_[HEAP]{server} while connecting), or nil.
func (c *Client) Connector() *wheel.SocketFactory { return c.factory }

// RemoteAddress and RemotePort return where the client connects (the
// last "connect" event's, or the options').
func (c *Client) RemoteAddress() string { return c.address }

// RemotePort returns the port the client connects to.
func (c *Client) RemotePort() int { return c.port }

// Shutdown posts "shutdown" to the session. Call it on the kernel's
// goroutine (other goroutines use PostFromGoroutine).
func (c *Client) Shutdown() error { return c.k.Post(c.session, EventShutdown) }

// Reconnect posts "reconnect" to the session.
func (c *Client) Reconnect() error { return c.k.Post(c.session, EventReconnect) }

// Connect posts "connect" with a new address and port to the session.
func (c *Client) Connect(address string, port int) error {
	return c.k.Post(c.session, EventConnect, address, port)
}

func (c *Client) start(e *poe.Event) any {
	c.session = e.Session
	c.ShutdownOnError = true
	if c.o.Alias != "" {
		e.Kernel.AliasSet(c.o.Alias)
	}
	e.Kernel.Yield(EventReconnect)
	if c.o.Started != nil {
		c.o.Started(e)
	}
	return nil
}

func (c *Client) clearTimeout(k *poe.Kernel) {
	if c.timerSet {
		k.AlarmRemove(c.timeout)
		c.timerSet = false
	}
}

// dropServer is Perl's delete $heap->{server}: whichever wheel is there.
func (c *Client) dropServer() {
	if c.factory != nil {
		c.factory.Close()
		c.factory = nil
	}
	if c.Server != nil {
		c.Server.Close()
		c.Server = nil
	}
}

func (c *Client) reconnect(e *poe.Event) any {
	k := e.Kernel
	c.ShuttingDown, c.Connected = false, false
	// POE sets the alias again: a shutdown removed it.
	if c.o.Alias != "" {
		k.AliasSet(c.o.Alias)
	}
	c.dropServer()
	f, err := wheel.NewSocketFactory(k, wheel.SocketFactoryOptions{
		RemoteAddress: c.address, RemotePort: c.port, SocketDomain: c.o.Domain,
		BindAddress: c.o.BindAddress, BindPort: c.o.BindPort,
		SuccessEvent: evConnectSuccess, FailureEvent: evConnectError,
		PostSetupFailures: true,
	})
	c.clearTimeout(k)
	if err != nil {
		// Misuse the options did not catch (a bad Domain): a connect
		// error all the same, so that the program sees it once.
		n, msg := wheel.Errno(err)
		if n == 0 {
			n, msg = int(unix.EINVAL), err.Error()
		}
		c.callConnectError(e, "socket", n, msg)
		return nil
	}
	c.factory = f
	if c.o.ConnectTimeout > 0 {
		if id, err := k.DelaySet(evConnectTimeout, c.o.ConnectTimeout); err == nil {
			c.timeout, c.timerSet = id, true
		}
	}
	return nil
}

func (c *Client) connect(e *poe.Event) any {
	if a := e.Arg(poe.ARG0); a != nil {
		c.address = e.String(poe.ARG0)
	}
	if p := e.Arg(poe.ARG1); p != nil {
		c.port = e.Int(poe.ARG1)
	}
	e.Kernel.Yield(EventReconnect)
	return nil
}

func (c *Client) connectSuccess(e *poe.Event) any {
	k := e.Kernel
	c.clearTimeout(k)
	sock := e.Arg(poe.ARG0)
	if c.o.PreConnect != nil {
		h := c.o.PreConnect(e)
		if !validHandle(h) {
			c.Connected = false
			closeHandle(sock)
			c.dropServer()
			return nil
		}
		sock = h
	}
	ro := wheel.ReadWriteOptions{
		Handle:     sock,
		InputEvent: evServerInput, ErrorEvent: evServerError, FlushedEvent: evServerFlush,
	}
	if c.o.Filter != nil {
		ro.Filter = c.o.Filter.Clone()
	} else {
		ro.Filter = filter.MustLine(filter.LineOptions{})
	}
	if c.o.ServerHigh != nil {
		ro.HighMark, ro.LowMark, ro.HighEvent, ro.LowEvent = c.o.HighMark, c.o.LowMark, evHigh, evLow
	}
	rw, err := wheel.NewReadWrite(k, ro)
	c.dropServer()
	if err != nil {
		closeHandle(sock)
		n, msg := wheel.Errno(err)
		if n == 0 {
			n, msg = int(unix.EINVAL), err.Error()
		}
		c.callConnectError(e, "connect", n, msg)
		return nil
	}
	c.Server, c.Connected = rw, true
	if c.o.Connected != nil {
		c.o.Connected(e)
	}
	return nil
}

// callConnectError calls ConnectError with (op, errno, msg) as its
// arguments, as POE does for a timeout, then drops the connector unless
// the callback replaced it (by calling "reconnect").
func (c *Client) callConnectError(e *poe.Event, op string, n int, msg string) {
	saved := e.Args
	e.Args = []any{op, n, msg}
	c.handleConnectError(e)
	e.Args = saved
}

func (c *Client) handleConnectError(e *poe.Event) {
	f := c.factory
	c.Connected = false
	if c.o.ConnectError != nil {
		c.o.ConnectError(e)
	} else {
		op, n := e.String(poe.ARG0), e.Int(poe.ARG1)
		if !(op == "read" && (n == 0 || n == int(unix.ECONNRESET))) {
			c.log.Warn("clienttcp: connect error", "client", e.Session.ID(), "operation", op, "errno", n, "error", e.String(poe.ARG2))
		}
	}
	if c.factory == f {
		c.dropServer()
	}
}

func (c *Client) connectError(e *poe.Event) any {
	c.clearTimeout(e.Kernel)
	c.handleConnectError(e)
	return nil
}

func (c *Client) connectTimeout(e *poe.Event) any {
	c.timerSet = false
	c.callConnectError(e, "connect", int(unix.ETIMEDOUT), wheel.Strerror(unix.ETIMEDOUT))
	return nil
}

func (c *Client) serverInput(e *poe.Event) any {
	if c.ShuttingDown {
		return nil
	}
	c.o.ServerInput(e)
	return nil
}

func (c *Client) serverError(e *poe.Event) any {
	if c.o.ServerError != nil {
		c.o.ServerError(e)
	} else {
		msg := e.String(poe.ARG2)
		if e.Int(poe.ARG1) == 0 {
			msg = "Normal disconnection"
		}
		c.log.Warn("clienttcp: server error", "client", e.Session.ID(), "operation", e.String(poe.ARG0), "errno", e.Int(poe.ARG1), "error", msg)
		e.Kernel.Yield(EventShutdown)
	}
	if c.ShutdownOnError {
		e.Kernel.Yield(EventShutdown)
		c.GotAnError = true
	}
	return nil
}

func (c *Client) serverFlush(e *poe.Event) any {
	if c.o.ServerFlushed != nil {
		c.o.ServerFlushed(e)
	}
	if c.ShuttingDown {
		c.dropServer()
		if c.o.Disconnected != nil {
			c.o.Disconnected(e)
		}
	}
	return nil
}

func (c *Client) shutdown(e *poe.Event) any {
	k := e.Kernel
	c.ShuttingDown = true
	c.clearTimeout(k)
	if c.Connected {
		c.Connected = false
		if c.Server != nil && (c.GotAnError || c.Server.DriverOutOctets() == 0) {
			c.dropServer()
			if c.o.Disconnected != nil {
				c.o.Disconnected(e)
			}
		}
	} else {
		c.dropServer()
	}
	if c.o.Alias != "" {
		k.AliasRemove(c.o.Alias)
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
