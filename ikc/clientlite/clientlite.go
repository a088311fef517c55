// Package clientlite is a blocking IKC client for Go code outside any
// kernel (a command line tool, an HTTP handler): the Go counterpart of
// Perl's POE::Component::IKC::ClientLite, on top of package ikc/protocol
// alone. Dial connects and runs the handshake; each Client method sends
// one request and, for Call, CallList, PostRespond, Responded and Ping,
// waits for its answer. One Client may be shared by many goroutines.
package clientlite

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// DefaultPort is ClientLite's default server port (Perl's 603). Port 0 in
// Options means this port, never "any port".
const DefaultPort = 603

// DefaultTimeout bounds a ClientLite handshake and each wait for an
// answer when Options.Timeout is zero (Perl's 30 s).
const DefaultTimeout = 30 * time.Second

// DefaultSetupSilence is Options.SetupSilence's default: far above a live
// server's answer time, far below DefaultTimeout (the kernel Client's
// ikc.DefaultSetupSilence).
const DefaultSetupSilence = 2 * time.Second

// processID is this process's PID, announced in every handshake; read
// once, as os.Getpid is a system call each time.
var processID = os.Getpid()

// liteSession is the session name ClientLite answers are addressed to.
const liteSession = "IKCLite"

// queueMax bounds the answers a Client keeps for a later Responded.
const queueMax = 64

// Options configure Dial (Perl's ClientLite options, ikc-protocol.md §12).
type Options struct {
	// Host and Port of the server (defaults "localhost" and 603; Port 0
	// means 603), or Unix, a socket path, instead (Perl's ClientLite
	// cannot do that).
	Host string
	Port int
	Unix string
	// Name is the only name announced; the server registers this client
	// under it, so it must be unique there. Default "Client<pid>".
	Name string
	// Protocol is "IKC0" (default; falls back to IKC when the server
	// answers NOT, or says nothing for SetupSilence) or "IKC" (works with
	// every server, 0.1904 included).
	Protocol string
	// Serializer is the one freezer offered: "Storable" (default),
	// "YAML" or "FreezeThaw" (never POE::Component::IKC::Freezer, whose
	// payloads Perl evals). The server must accept it.
	Serializer string
	// Timeout bounds connecting plus the handshake, and each wait for an
	// answer (0: DefaultTimeout). A context deadline that comes
	// sooner wins.
	Timeout time.Duration
	// SetupSilence (Protocol IKC0): if the server says nothing this long
	// after the SETUP line, send HELLO on the same connection and go on
	// in the IKC dialect, as after a NOT. An IKC 0.1904 server ignores
	// SETUP without a word (testdata/ikc/captures/s3), where Perl's ClientLite waits
	// out its timeout and fails. 0: DefaultSetupSilence; negative: wait
	// until Timeout.
	SetupSilence time.Duration
	// MaxFrame caps the payload of a received frame (0:
	// freezer.DefaultMaxFrame).
	MaxFrame int
	// Limits is the decoding budget of one received frame (zero fields:
	// relative to its size, see freezer.DefaultFrameBudget; negative: none).
	// An answer over it ends the wait with an error wrapping
	// freezer.ErrBudget.
	Limits freezer.Limits
	// TLSConfig, if set, runs TLS over the TCP connection, to a Go
	// ikc.Server with a TLSConfig (Perl's IKC has no TLS). Without a
	// ServerName, Host is verified.
	TLSConfig *tls.Config
	// KeepAlive is the TCP keep-alive period. 0 (the default) leaves
	// keep-alives off, as Perl's ClientLite does; it also saves four
	// system calls per connection.
	KeepAlive time.Duration
	// Logger receives notes about skipped messages (nil: discarded).
	Logger *slog.Logger
}

// Client is a blocking IKC client for Go code outside any kernel (a command
// line tool, an HTTP handler): the Go counterpart of Perl's
// POE::Component::IKC::ClientLite. Each method sends one request and, for
// Call, CallList, PostRespond, Responded and Ping, waits for its answer.
//
// A Client is safe for concurrent use, and its requests are pipelined:
// goroutines share the one connection, each call has its own rsvp state
// (response<N>), and the call that waits first reads the connection,
// handing every answer to the call it is addressed to, until its own
// comes; then another waiting call reads on. A cancelled context or a timeout ends only its own
// call. When the connection is lost, every call waiting on it fails at
// once (ErrConnClosed).
//
// The connection is opened by Dial. If a request finds it closed (by
// Disconnect, or by the server), the Client reconnects once, with a full
// handshake in the current protocol, and sends the request again, as
// Perl's ClientLite does (testdata/ikc/captures/g3-clientlite-reconnect).
//
// Fixed Perl defects (ikc-protocol.md §12, 16 #18), wire compatible: Ping works in
// the IKC0 dialect (Perl's sends nothing and fails); error reports of
// 0.2402 servers keep their text (Perl shows "ARRAY(0x...)"); answers for
// other states are kept for Responded instead of being lost, and frames
// after them are not mis-framed; a closed connection ends a wait at once
// instead of spinning until the timeout.
type Client struct {
	opts  Options
	fz    freezer.Freezer // Options.Serializer's; the handshake insists on it
	store bool            // fz is Storable: encoded in place
	from  protocol.Address

	// mu guards what follows; never held during I/O.
	mu      sync.Mutex
	dialect protocol.Dialect
	cur     *conn    // the live connection, nil when down
	dialing *dialing // a (re)connection in progress
	res     *protocol.Result
	remote  string // kernel part of relative targets
	where   string // the server's address in messages: host:port, unix:<path>
	pingTo  protocol.Address
	seq     uint64             // next response<N>
	waiters map[string]*waiter // by "session/state", oldest first (next)
	nwait   uint64             // order of waiters, for error reports
	queue   []answered         // answers nobody waited for, for Responded

	// wmu guards the writing side (see write).
	wmu   sync.Mutex
	busy  bool          // a write is under way
	idle  chan struct{} // if not nil, closed when that write ends
	open  *batch        // frames waiting for it
	spare []byte        // a batch buffer to reuse
	// inflight counts the requests between encoding and their end (a
	// Post's write, a call's answer): when it is 1, a write is alone.
	inflight atomic.Int64

	// rsvpBase is the kernel and session entries of this client's rsvp
	// hashes.
	rsvpBase []storable.Entry

	// target caches the last expansion of a specifier.
	target atomic.Pointer[expansion]
}

// Dial connects to an IKC server and runs the handshake. It returns
// an error (wrapping ErrHandshake, the dial error, or ErrNoResponse) when
// that fails within the context and Options.Timeout.
func Dial(ctx context.Context, opts Options) (*Client, error) {
	d, err := protocol.ParseDialect(opts.Protocol)
	if err != nil {
		return nil, err
	}
	if opts.Host == "" {
		opts.Host = "localhost"
	}
	if opts.Port == 0 {
		opts.Port = DefaultPort
	}
	if opts.Name == "" {
		opts.Name = "Client" + strconv.Itoa(os.Getpid())
	}
	if !protocol.ValidName(opts.Name) {
		return nil, fmt.Errorf("%w: %q", protocol.ErrBadName, opts.Name)
	}
	if opts.Serializer == "" {
		opts.Serializer = freezer.NameStorable
	}
	if opts.Serializer == freezer.NamePerlFreezer {
		return nil, freezer.ErrEvalFreezer
	}
	fz, err := freezer.Lookup(opts.Serializer)
	if err != nil {
		return nil, err
	}
	fz = freezer.WithLimits(fz, opts.Limits)
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.SetupSilence == 0 {
		opts.SetupSilence = DefaultSetupSilence
	}
	l := &Client{
		opts: opts, dialect: d, fz: fz,
		from:    protocol.PrebuiltAddress(protocol.Specifier{Kernel: opts.Name, Session: liteSession}),
		waiters: make(map[string]*waiter),
	}
	_, l.store = fz.(freezer.Storable)
	base := protocol.NewAddress(protocol.Specifier{Kernel: opts.Name, Session: liteSession, State: "response0"}).Value()
	l.rsvpBase = base.(*storable.Hash).Entries[:2]
	// Perl starts with "<ip>:<port>" as the remote kernel name; an IKC0
	// handshake replaces it with the server's kernel ID, the IKC dialect
	// keeps it (testdata/ikc/captures/g4, g6, g3).
	if opts.Unix != "" {
		l.remote = protocol.UnixName(opts.Unix)
		l.where = "unix:" + opts.Unix
	} else {
		l.remote = opts.Host + ":" + strconv.Itoa(opts.Port)
		l.where = net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))
	}
	if _, err := l.connection(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// Name returns the name this client announces.
func (l *Client) Name() string { return l.opts.Name }

// RemoteKernel returns the kernel name put in front of relative targets:
// the server's kernel ID after an IKC0 handshake, else "<host>:<port>".
func (l *Client) RemoteKernel() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.remote
}

// RemoteNames returns the names the server announced in the last
// handshake: its kernel ID first, then its other names (kernel name,
// aliases, the socket name of its end) in the order received.
func (l *Client) RemoteNames() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.res == nil {
		return nil
	}
	return append([]string{l.res.RemoteID}, l.res.RemoteAliases...)
}

// Freezer returns the serializer the last handshake agreed on (always
// Options.Serializer: the Lite refuses a server that wants another).
func (l *Client) Freezer() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.res == nil {
		return ""
	}
	return l.res.FreezerName
}

// Protocol returns the dialect the last handshake ended in: "IKC0", or
// "IKC" (asked for, or fallen back to after a NOT or a silent server).
func (l *Client) Protocol() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.res == nil || !l.res.IKC0 {
		return protocol.IKC.String()
	}
	return protocol.IKC0.String()
}

// SetProtocol changes the dialect used by the next (re)connection: "IKC0"
// or "IKC".
func (l *Client) SetProtocol(p string) error {
	d, err := protocol.ParseDialect(p)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.dialect = d
	l.mu.Unlock()
	return nil
}

// Disconnect closes the connection; nothing is sent, the server sees EOF.
// Calls waiting on it fail with ErrConnClosed. A later request
// reconnects.
func (l *Client) Disconnect() error {
	l.mu.Lock()
	c := l.cur
	if c == nil {
		l.mu.Unlock()
		return nil
	}
	l.lostLocked(c, errDisconnected)
	l.mu.Unlock()
	return c.nc.Close()
}

// Connect makes sure the connection is up: it pings when connected and
// reconnects when not (or when the ping fails).
func (l *Client) Connect(ctx context.Context) error {
	l.mu.Lock()
	c := l.cur
	l.mu.Unlock()
	if c != nil {
		if err := l.Ping(ctx); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ioErr(ctx, "connecting to "+l.where, ctx.Err())
		}
		l.mu.Lock()
		if l.cur == c {
			l.lostLocked(c, errPingFailed)
		}
		l.mu.Unlock()
		c.nc.Close()
	}
	_, err := l.connection(ctx)
	return err
}

// Post sends a request to spec ("session/state" relative to the server,
// or a full "poe://kernel/session/state") and does not wait for anything.
// No argument sends undef; one argument is the target's ARG0; several are
// its ARG0..ARGn (sent through IKC:proxy).
func (l *Client) Post(ctx context.Context, spec string, args ...any) error {
	r := getRequest()
	defer putRequest(r)
	m, err := l.request(r, spec, args)
	if err != nil {
		return err
	}
	l.inflight.Add(1)
	defer l.inflight.Add(-1)
	return l.send(ctx, r, m)
}

// Call sends a request with an rsvp and returns the target's return value
// (scalar context). Arguments as in Post. A target that returns undef
// sends no answer: Call then waits until the deadline (ErrNoResponse).
func (l *Client) Call(ctx context.Context, spec string, args ...any) (any, error) {
	return l.call(ctx, spec, args, false)
}

// CallList is Call in list context (wantarray true): the target's list of
// return values.
func (l *Client) CallList(ctx context.Context, spec string, args ...any) ([]any, error) {
	v, err := l.call(ctx, spec, args, true)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case []any:
		return x, nil
	default:
		return []any{x}, nil
	}
}

var (
	wantScalar storable.Value = storable.Bytes("")
	wantList   storable.Value = storable.Bytes("1")
)

func (l *Client) call(ctx context.Context, spec string, args []any, list bool) (any, error) {
	r := getRequest()
	defer putRequest(r)
	m, err := l.request(r, spec, args)
	if err != nil {
		return nil, err
	}
	r.rsvp = l.expect(r, m.Event.Specifier)
	m.RSVP = &r.rsvp
	m.WantArray = wantScalar
	if list {
		m.WantArray = wantList
	}
	return l.roundTrip(ctx, r, m)
}

// PostRespond posts [data, {kernel: <name>, session: "IKCLite", state:
// "response<N>"}] to spec and waits for a message to that specifier: the
// remote handler answers by posting to its second element (for instance
// with IKC/post). data is undef without arguments, the argument, or an
// array of several.
func (l *Client) PostRespond(ctx context.Context, spec string, args ...any) (any, error) {
	var data any
	switch len(args) {
	case 0:
	case 1:
		data = args[0]
	default:
		data = args
	}
	r := getRequest()
	defer putRequest(r)
	m, err := l.request(r, spec, []any{data})
	if err != nil {
		return nil, err
	}
	r.rsvp = l.expect(r, m.Event.Specifier)
	r.params.Elems = append(r.params.Elems[:0], m.Params, r.rsvp.Value())
	m.Params = &r.params
	return l.roundTrip(ctx, r, m)
}

// Responded waits for a message to IKCLite/<state>, such as one a remote
// handler posted to the SENDER of an earlier Post (ikc-protocol.md §10.5), and
// returns its params (an array of the posted arguments). An answer that
// came before anyone waited for it is returned at once (the last 64 are
// kept).
func (l *Client) Responded(ctx context.Context, state string) (any, error) {
	r := getRequest()
	defer putRequest(r)
	r.w.key = liteSession + "/" + state
	l.mu.Lock()
	for i, a := range l.queue {
		if a.key == r.w.key {
			l.queue = append(l.queue[:i:i], l.queue[i+1:]...)
			l.mu.Unlock()
			return a.v, nil
		}
	}
	c := l.cur
	if c == nil {
		l.mu.Unlock()
		return nil, fmt.Errorf("%w (waiting for %s)", ErrConnClosed, r.w.key)
	}
	l.registerLocked(c, &r.w)
	l.mu.Unlock()
	return l.await(ctx, r)
}

// Ping calls the server's IKC/ping and checks the PONG. It works in both
// dialects (Perl's ClientLite fails in IKC0, ikc-protocol.md §12).
func (l *Client) Ping(ctx context.Context) error {
	r := getRequest()
	defer putRequest(r)
	l.mu.Lock()
	to := l.pingTo
	l.mu.Unlock()
	r.w.key = protocol.ResponderAlias + "/pong"
	r.w.errKey = protocol.ResponderAlias + "/ping"
	rsvp := protocol.NewAddress(protocol.Specifier{Kernel: l.opts.Name, Session: protocol.ResponderAlias, State: "pong"})
	v, err := l.roundTrip(ctx, r, &protocol.Message{Event: to, Params: storable.Bytes("PING"), RSVP: &rsvp})
	if err != nil {
		return err
	}
	if s, _ := v.(string); s != "PONG" {
		return fmt.Errorf("%w: %v", ErrNoPong, v)
	}
	return nil
}
