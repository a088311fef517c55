package ikc

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
)

// DefaultClientPort is Perl's Client default port (903; the Perl server
// default is 603).
const DefaultClientPort = 903

// ClientOptions configure NewClient (Perl's POE::Component::IKC::Client
// options, ikc-protocol.md §11, plus a connect timeout and retries).
type ClientOptions struct {
	// Host and Port to connect to (defaults "localhost" and 903), or
	// Unix, a socket path, instead.
	Host string
	Port int
	Unix string
	// Name is the local kernel's name (default "Client<pid>"), Aliases
	// more names; both are announced and registered locally.
	Name    string
	Aliases []string
	// Protocol is "IKC0" (default) or "IKC".
	Protocol string
	// Serializers to offer, in order (nil: Storable only; ikc-protocol.md §16 #12).
	Serializers []string
	// Subscribe lists specifiers to subscribe to after the handshake
	// (ikc-protocol.md §10.7). If one is refused, OnError gets ("subscribe", 0,
	// "Unable to subscribe to ...") and the connection is closed (Perl
	// dies).
	Subscribe []string
	// OnConnect runs after the handshake and the subscriptions.
	OnConnect func()
	// OnConnected, if set, runs right after OnConnect with what the
	// handshake agreed: the server's names and the freezer.
	OnConnected func(Peer)
	// OnError receives connect errors and errors before the handshake
	// finished: (operation, errno, text), as Perl's on_error does. Without
	// it they are logged; either way the error that ended the client is
	// its Err.
	OnError func(op string, errno int, text string)
	// ConnectTimeout bounds each connection attempt (0: none, as Perl).
	ConnectTimeout time.Duration
	// Retry is how many more attempts follow a failed connect, RetryDelay
	// the pause between them (default 1 s). Perl never retries.
	Retry      int
	RetryDelay time.Duration
	// NegotiationTimeout bounds the handshake (0: DefaultTimeout).
	NegotiationTimeout time.Duration
	// SetupSilence (Protocol IKC0): if the server says nothing this long
	// after SETUP, send HELLO and go on in the IKC dialect, as after a
	// NOT; an IKC 0.1904 server ignores SETUP silently (testdata/ikc/captures/s3),
	// where Perl's client waits forever. 0: DefaultSetupSilence;
	// negative: wait until NegotiationTimeout.
	SetupSilence time.Duration
	// SubscribeTimeout is how long each of the Subscribe specifiers waits
	// for the server's answer before it counts as refused (0: the
	// responder's, DefaultSubscribeTimeout unless it was spawned with
	// another).
	SubscribeTimeout time.Duration
	// Logger for the responder if this client spawns it.
	Logger *slog.Logger
	// Limits bound what the connection may cost: frame and decoding
	// budgets, output marks (zero fields: the responder's, then the
	// defaults; see Limits).
	Limits Limits
	// TLSConfig, if set, runs TLS over the TCP connection (to a Server
	// with a TLSConfig). Without a ServerName, Host is verified. A failed
	// handshake is a failed attempt (operation "tls"), retried as a
	// failed connect.
	TLSConfig *tls.Config
}

// Peer is what a Client's handshake agreed with the server.
type Peer struct {
	// ID is the server's kernel ID (the first name it announced);
	// Aliases are its other names as registered here: those it
	// announced, then the address dialled (ikc-protocol.md §10.10).
	ID      string
	Aliases []string
	// Freezer is the serializer of the frames, both ways.
	Freezer string
	// Protocol is the dialect the handshake ended in: "IKC0", or "IKC"
	// (asked for, or fallen back to).
	Protocol string
	// PID is the server's PID from its SETUP line (IKC0), else 0.
	PID int
}

// DefaultSetupSilence is ClientOptions.SetupSilence's default: far above
// a live server's answer time (well under a millisecond on a LAN), far
// below DefaultTimeout.
const DefaultSetupSilence = 2 * time.Second

// Client connects to an IKC server. Its session (alias "IKC Client
// <name>") lives until the connection is handed to a channel; post it
// "shutdown" to abort an attempt.
type Client struct {
	r       *Responder
	opts    ClientOptions
	dialect protocol.Dialect
	sess    *poe.Session
	sf      *wheel.SocketFactory
	tries   int
	done    bool
	channel *poe.Session
	err     error
}

// NewClient starts connecting. It spawns the kernel's responder if needed
// and registers Name and Aliases as names of the local kernel. Call it on
// the kernel's goroutine.
func NewClient(k *poe.Kernel, opts ClientOptions) (*Client, error) {
	d, err := protocol.ParseDialect(opts.Protocol)
	if err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = "Client" + strconv.Itoa(os.Getpid())
	}
	if opts.Host == "" {
		opts.Host = "localhost"
	}
	if opts.SetupSilence == 0 {
		opts.SetupSilence = DefaultSetupSilence
	}
	if opts.Port == 0 {
		opts.Port = DefaultClientPort
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = time.Second
	}
	if opts.TLSConfig != nil && opts.Unix != "" {
		return nil, ErrTLSUnix
	}
	for _, n := range append([]string{opts.Name}, opts.Aliases...) {
		if !protocol.ValidName(n) {
			return nil, fmt.Errorf("%w: %q", protocol.ErrBadName, n)
		}
	}
	r, err := Spawn(k, &ResponderOptions{Logger: opts.Logger, SubscribeTimeout: opts.SubscribeTimeout})
	if err != nil {
		return nil, err
	}
	r.RegisterLocal(append([]string{opts.Name}, opts.Aliases...)...)
	c := &Client{r: r, opts: opts, dialect: d}
	var cerr error
	k.Session().Do(func() {
		c.sess, cerr = k.Create(poe.Spec{Heap: c, Inline: map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				e.Kernel.AliasSet("IKC Client " + opts.Name)
				c.connect(e.Kernel)
				return nil
			},
			"connected":       c.connected,
			"tls_done":        c.tlsDone,
			"connect_failed":  c.failed,
			"connect_timeout": c.timedOut,
			"retry":           func(e *poe.Event) any { c.connect(e.Kernel); return nil },
			"shutdown":        func(e *poe.Event) any { c.stop(e.Kernel); return nil },
		}})
	})
	if cerr != nil {
		return nil, cerr
	}
	return c, nil
}

// Session returns the client's session (gone after the handshake).
func (c *Client) Session() *poe.Session { return c.sess }

// Channel returns the connection's channel session once connected (post
// it "shutdown" to close the connection), or nil.
func (c *Client) Channel() *poe.Session { return c.channel }

// Err returns the error that made the client give up (connect failures
// after the retries, a failed handshake or subscription), or nil. A
// program reads it after Run to exit with a failure status, for instance
// "ikc: connect 127.0.0.1:903: connection refused".
func (c *Client) Err() error { return c.err }

// where names the server in messages: host:port or unix:<path>.
func (c *Client) where() string {
	if c.opts.Unix != "" {
		return "unix:" + c.opts.Unix
	}
	return net.JoinHostPort(c.opts.Host, strconv.Itoa(c.opts.Port))
}

func (c *Client) connect(k *poe.Kernel) {
	c.tries++
	o := wheel.SocketFactoryOptions{SuccessEvent: "connected", FailureEvent: "connect_failed"}
	if c.opts.Unix != "" {
		o.SocketDomain = wheel.DomainUnix
		o.RemoteAddress = c.opts.Unix
	} else {
		o.RemoteAddress = c.opts.Host
		o.RemotePort = c.opts.Port
	}
	var err error
	c.sf, err = wheel.NewSocketFactory(k, o)
	if err != nil {
		// Failed on the spot (a name that does not resolve, a missing
		// Unix socket): as a FailureEvent would, with the same retries.
		op, errno, text := "socket", 0, err.Error()
		var se *wheel.SocketError
		if errors.As(err, &se) {
			op = se.Op
			errno, text = wheel.Errno(se)
			if op == "getaddrinfo" {
				text = strings.TrimPrefix(se.Error(), "wheel: ") // the resolver's answer, not errno 99's text
			}
		}
		c.attemptFailed(k, op, errno, text, err)
		return
	}
	if c.opts.ConnectTimeout > 0 {
		k.Delay("connect_timeout", c.opts.ConnectTimeout)
	}
}

func (c *Client) connected(e *poe.Event) any {
	k := e.Kernel
	k.Delay("connect_timeout", 0)
	k.Alarm("connect_timeout", time.Time{})
	fd := e.Int(poe.ARG0)
	c.sf = nil // the socket is ours now; the factory is done
	if c.opts.TLSConfig != nil {
		// The handshake blocks: on a goroutine, the session held
		// until it reports.
		local := sockname(fd)
		cfg := clientTLSConfig(c.opts.TLSConfig, c.opts.Host)
		timeout := c.opts.NegotiationTimeout
		if timeout <= 0 {
			timeout = protocol.DefaultTimeout
		}
		k.RefcountIncrement(c.sess.ID(), "tls")
		go func() {
			cfd, err := dialTLS(fd, cfg, timeout, c.r.mem)
			k.PostFromGoroutine(c.sess, "tls_done", cfd, local, err)
		}()
		return nil
	}
	c.start(fd, nil)
	c.done = true
	k.AliasRemove("IKC Client " + c.opts.Name)
	return nil
}

// tlsDone: the TLS handshake ended (channel descriptor, local address,
// error).
func (c *Client) tlsDone(e *poe.Event) any {
	k := e.Kernel
	k.RefcountDecrement(c.sess.ID(), "tls")
	fd := e.Int(poe.ARG0)
	local, _ := e.Arg(poe.ARG1).(unix.Sockaddr)
	err, _ := e.Arg(poe.ARG2).(error)
	if c.done {
		unixClose(fd) // shut down meanwhile
		return nil
	}
	if err != nil {
		c.attemptFailed(k, "tls", 0, err.Error(), err)
		return nil
	}
	c.start(fd, local)
	c.done = true
	k.AliasRemove("IKC Client " + c.opts.Name)
	return nil
}

// start runs the channel on a connected socket (local: its address when
// fd is a TLS bridge's end).
func (c *Client) start(fd int, local unix.Sockaddr) {
	names := append([]string{c.opts.Name}, c.opts.Aliases...)
	var peer string
	if c.opts.Unix != "" {
		names = append(names, protocol.UnixClientName(c.opts.Unix, os.Getpid(), fd))
		peer = protocol.UnixName(c.opts.Unix)
	} else {
		if local == nil {
			local = sockname(fd)
		}
		if local != nil {
			if n := sockaddrName(local); n != "" {
				names = append(names, n)
			}
		}
		peer = protocol.TCPName(c.opts.Host, c.opts.Port)
		if !protocol.ValidName(peer) {
			peer = ""
		}
	}
	cfg := channelConfig{
		fd: fd, local: local, names: names, dialect: c.dialect, freezers: c.opts.Serializers,
		peerAlias: peer, peerAddr: c.where(), timeout: c.opts.NegotiationTimeout, setupSilence: c.opts.SetupSilence,
		onError: func(op string, errno int, text string) { c.report(nil, op, errno, text) },
		onReady: c.ready, limits: c.opts.Limits,
	}
	var err error
	c.channel, err = startChannel(c.r, cfg)
	if err != nil {
		c.report(nil, "setup", 0, err.Error())
	}
}

// connectedCallbacks runs OnConnect and OnConnected.
func (c *Client) connectedCallbacks(ch *channel) {
	if c.opts.OnConnect != nil {
		c.opts.OnConnect()
	}
	if c.opts.OnConnected == nil {
		return
	}
	p := Peer{ID: ch.remoteID, Aliases: c.r.Aliases(ch.remoteID), Protocol: protocol.IKC.String()}
	if ch.fz != nil {
		p.Freezer = ch.fz.Name()
	}
	if cn, ok := ch.neg.(*protocol.ClientNegotiator); ok && cn.Result() != nil && cn.Result().IKC0 {
		p.Protocol, p.PID = protocol.IKC0.String(), cn.Result().RemotePID
	}
	c.opts.OnConnected(p)
}

// ready runs in the channel once the server is registered.
func (c *Client) ready(ch *channel) {
	if len(c.opts.Subscribe) == 0 {
		c.connectedCallbacks(ch)
		return
	}
	want := append([]string(nil), c.opts.Subscribe...)
	timeout := c.opts.SubscribeTimeout
	if timeout <= 0 {
		timeout = c.r.subscribeTimeout
	}
	err := c.r.subscribe(ch.sess, want, func(accepted []string) {
		if len(accepted) < len(want) {
			var refused []string
			for _, w := range want {
				if !contains(accepted, w) {
					refused = append(refused, w)
				}
			}
			c.report(nil, "subscribe", 0, "Unable to subscribe to "+strings.Join(refused, ", "))
			ch.shutdown()
			return
		}
		c.connectedCallbacks(ch)
	}, timeout)
	if err != nil {
		c.report(nil, "subscribe", 0, err.Error())
		ch.shutdown()
	}
}

func (c *Client) failed(e *poe.Event) any {
	k := e.Kernel
	k.Alarm("connect_timeout", time.Time{})
	if c.sf != nil {
		c.sf.Close()
		c.sf = nil
	}
	op, errno, text := e.String(poe.ARG0), e.Int(poe.ARG1), e.String(poe.ARG2)
	c.attemptFailed(k, op, errno, text, nil)
	return nil
}

// attemptFailed retries or gives up after a failed connection attempt;
// err is the Go error when there is one.
func (c *Client) attemptFailed(k *poe.Kernel, op string, errno int, text string, err error) {
	if c.tries <= c.opts.Retry {
		k.Delay("retry", c.opts.RetryDelay)
		return
	}
	if err != nil {
		// The wheel's error names the address: keep it, as ikc's.
		c.err = &causeError{"ikc: " + strings.TrimPrefix(err.Error(), "wheel: "), err}
	}
	c.report(k, op, errno, text)
}

func (c *Client) timedOut(e *poe.Event) any {
	if c.sf == nil {
		return nil
	}
	c.sf.Close()
	c.sf = nil
	if c.tries <= c.opts.Retry {
		e.Kernel.Delay("retry", c.opts.RetryDelay)
		return nil
	}
	c.report(e.Kernel, "connect", int(syscall.ETIMEDOUT), wheel.Strerror(syscall.ETIMEDOUT))
	return nil
}

// report hands an error to OnError (or the log) and records it for Err;
// with k set, the client session gives up.
func (c *Client) report(k *poe.Kernel, op string, errno int, text string) {
	if c.err == nil {
		c.err = c.asError(op, errno, text)
	}
	if c.opts.OnError != nil {
		c.opts.OnError(op, errno, text)
	} else {
		c.r.log.Error("ikc: client", "server", c.where(), "operation", op, "errno", errno, "error", text)
	}
	if k != nil {
		c.stop(k)
	}
}

// asError makes a Go error of a reported failure: an errno with the
// operation and the server's address, or the text.
func (c *Client) asError(op string, errno int, text string) error {
	if errno > 0 {
		return fmt.Errorf("ikc: %s %s: %w", op, c.where(), syscall.Errno(errno))
	}
	if strings.HasPrefix(text, "ikc: ") {
		return errors.New(text)
	}
	return fmt.Errorf("ikc: %s %s: %s", op, c.where(), text)
}

func (c *Client) stop(k *poe.Kernel) {
	if c.sf != nil {
		c.sf.Close()
		c.sf = nil
	}
	cleanup := func() {
		k.Alarm("connect_timeout", time.Time{})
		k.Alarm("retry", time.Time{})
		k.AliasRemove("IKC Client " + c.opts.Name)
	}
	if c.sess == nil {
		cleanup() // a failure in _start: the session is the active one
	} else {
		c.sess.Do(cleanup)
	}
	c.done = true
}

// causeError is an error with a shorter text.
type causeError struct {
	text string
	err  error
}

func (e *causeError) Error() string { return e.text }
func (e *causeError) Unwrap() error { return e.err }
