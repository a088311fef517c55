// Package clientlite is a blocking IKC client for Go code outside any
// kernel (a command line tool, an HTTP handler): the Go counterpart of
// Perl's POE::Component::IKC::ClientLite, on top of package ikc/protocol
// alone. Dial connects and runs the handshake; each Client method sends
// one request and, for Call, CallList, PostRespond, Responded and Ping,
// waits for its answer.
package clientlite

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// DefaultPort is ClientLite's default server port (Perl's 603).
const DefaultPort = 603

// DefaultTimeout bounds a ClientLite handshake and each wait for an
// answer when Options.Timeout is zero (Perl's 30 s).
const DefaultTimeout = 30 * time.Second

// processID is this process's PID, announced in every handshake; read
// once, as os.Getpid is a system call each time.
var processID = os.Getpid()

// liteSession is the session name ClientLite answers are addressed to.
const liteSession = "IKCLite"

// queueMax bounds the answers a Client keeps for a later Responded.
const queueMax = 64

// Options configure Dial (Perl's ClientLite options, spec 12).
type Options struct {
	// Host and Port of the server (defaults "localhost" and 603), or
	// Unix, a socket path, instead (Perl's ClientLite cannot do that).
	Host string
	Port int
	Unix string
	// Name is the only name announced; the server registers this client
	// under it, so it must be unique there. Default "Client<pid>".
	Name string
	// Protocol is "IKC0" (default; falls back to IKC when the server
	// answers NOT) or "IKC" (works with every server, 0.1904 included).
	Protocol string
	// Serializer is the one freezer offered: "Storable" (default) or
	// "YAML". The server must accept it.
	Serializer string
	// Timeout bounds connecting plus the handshake, and each wait for an
	// answer (0: DefaultTimeout). A context deadline that comes
	// sooner wins.
	Timeout time.Duration
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
// A Client is meant for one goroutine at a time. Calls from several
// goroutines are serialized (each waits for the previous request to
// finish), never interleaved on the wire.
//
// The connection is opened by Dial. If a request finds it closed (by
// Disconnect, or by the server), the Client reconnects once, with a full
// handshake in the current protocol, and sends the request again, as
// Perl's ClientLite does (captures/g3-clientlite-reconnect).
//
// Fixed Perl defects (spec 12, 16 #18), wire compatible: Ping works in
// the IKC0 dialect (Perl's sends nothing and fails); error reports of
// 0.2402 servers keep their text (Perl shows "ARRAY(0x...)"); answers for
// other states are kept for Responded instead of being lost, and frames
// after them are not mis-framed; a closed connection ends a wait at once
// instead of spinning until the timeout.
type Client struct {
	mu       sync.Mutex
	opts     Options
	dialect  protocol.Dialect
	conn     net.Conn
	br       *bufio.Reader
	fr       *freezer.Reader
	fz       freezer.Freezer
	remote   string // kernel part of relative targets
	where    string // the server's address in messages: host:port, unix:<path>
	pingTo   string // ping target: poe://<server kernel ID>/IKC/ping
	seq      int    // next response<N>
	queue    []*protocol.Message
	frameBuf []byte

	// Per-request scratch, so that a request allocates little: the raw
	// connection for alive, the last target, the from address (its hash
	// built once), the encoder's hash, and one Decoder and message for
	// the answers (Storable), each done with before the next frame.
	rc       syscall.RawConn
	lastSpec string
	lastTo   protocol.Address
	from     *protocol.Address
	encHash  storable.Hash
	encBuf   []byte
	dec      storable.Decoder
	msg      protocol.MessageDecoder
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
	if _, err := freezer.Lookup(opts.Serializer); err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	l := &Client{opts: opts, dialect: d}
	// Perl starts with "<ip>:<port>" as the remote kernel name; an IKC0
	// handshake replaces it with the server's kernel ID, the IKC dialect
	// keeps it (captures/g4, g6, g3).
	if opts.Unix != "" {
		l.remote = protocol.UnixName(opts.Unix)
		l.where = "unix:" + opts.Unix
	} else {
		l.remote = opts.Host + ":" + strconv.Itoa(opts.Port)
		l.where = net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))
	}
	if err := l.connect(ctx); err != nil {
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
// A later request reconnects.
func (l *Client) Disconnect() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.drop()
}

func (l *Client) drop() error {
	if l.conn == nil {
		return nil
	}
	err := l.conn.Close()
	l.conn, l.br, l.fr, l.rc = nil, nil, nil, nil
	l.queue = nil
	return err
}

// Connect makes sure the connection is up: it pings when connected and
// reconnects when not (or when the ping fails).
func (l *Client) Connect(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil && l.alive() {
		if err := l.ping(ctx); err == nil {
			return nil
		}
	}
	l.drop()
	return l.connect(ctx)
}

// Post sends a request to spec ("session/state" relative to the server,
// or a full "poe://kernel/session/state") and does not wait for anything.
// No argument sends undef; one argument is the target's ARG0; several are
// its ARG0..ARGn (sent through IKC:proxy).
func (l *Client) Post(ctx context.Context, spec string, args ...any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, err := l.request(spec, args)
	if err != nil {
		return err
	}
	return l.send(ctx, m)
}

// Call sends a request with an rsvp and returns the target's return value
// (scalar context). Arguments as in Post. A target that returns undef
// sends no answer: Call then waits until the deadline (ErrNoResponse).
func (l *Client) Call(ctx context.Context, spec string, args ...any) (any, error) {
	v, err := l.call(ctx, spec, args, false)
	if err != nil {
		return nil, err
	}
	return protocol.FromValue(v), nil
}

// CallList is Call in list context (wantarray true): the target's list of
// return values.
func (l *Client) CallList(ctx context.Context, spec string, args ...any) ([]any, error) {
	v, err := l.call(ctx, spec, args, true)
	if err != nil {
		return nil, err
	}
	switch x := protocol.FromValue(v).(type) {
	case []any:
		return x, nil
	default:
		return []any{x}, nil
	}
}

func (l *Client) call(ctx context.Context, spec string, args []any, list bool) (storable.Value, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, err := l.request(spec, args)
	if err != nil {
		return nil, err
	}
	rsvp := l.nextRSVP()
	m.RSVP = &rsvp
	m.WantArray = storable.Bytes("")
	if list {
		m.WantArray = storable.Bytes("1")
	}
	if err := l.send(ctx, m); err != nil {
		return nil, err
	}
	return l.wait(ctx, liteSession, rsvp.State)
}

// PostRespond posts [data, {kernel: <name>, session: "IKCLite", state:
// "response<N>"}] to spec and waits for a message to that specifier: the
// remote handler answers by posting to its second element (for instance
// with IKC/post). data is undef without arguments, the argument, or an
// array of several.
func (l *Client) PostRespond(ctx context.Context, spec string, args ...any) (any, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var data any
	switch len(args) {
	case 0:
	case 1:
		data = args[0]
	default:
		data = args
	}
	m, err := l.request(spec, []any{data})
	if err != nil {
		return nil, err
	}
	rsvp := l.nextRSVP()
	m.Params = storable.NewArray(m.Params, rsvp.Value())
	if err := l.send(ctx, m); err != nil {
		return nil, err
	}
	v, err := l.wait(ctx, liteSession, rsvp.State)
	if err != nil {
		return nil, err
	}
	return protocol.FromValue(v), nil
}

// Responded waits for a message to IKCLite/<state>, such as one a remote
// handler posted to the SENDER of an earlier Post (spec 10.5), and
// returns its params (an array of the posted arguments).
func (l *Client) Responded(ctx context.Context, state string) (any, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, err := l.wait(ctx, liteSession, state)
	if err != nil {
		return nil, err
	}
	return protocol.FromValue(v), nil
}

// Ping calls the server's IKC/ping and checks the PONG. It works in both
// dialects (Perl's ClientLite fails in IKC0, spec 12).
func (l *Client) Ping(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ping(ctx)
}

func (l *Client) ping(ctx context.Context) error {
	to, err := protocol.StringAddress(l.pingTo)
	if err != nil {
		return err
	}
	rsvp := protocol.NewAddress(protocol.Specifier{Kernel: l.opts.Name, Session: protocol.ResponderAlias, State: "pong"})
	if err := l.send(ctx, &protocol.Message{Event: to, Params: storable.Bytes("PING"), RSVP: &rsvp}); err != nil {
		return err
	}
	v, err := l.wait(ctx, protocol.ResponderAlias, "pong")
	if err != nil {
		return err
	}
	if s, _ := protocol.FromValue(v).(string); s != "PONG" {
		return fmt.Errorf("%w: %v", ErrNoPong, protocol.FromValue(v))
	}
	return nil
}
