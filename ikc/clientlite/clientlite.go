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
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

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

// frameHeaderRoom: the most a frame header takes (20 digits and a NUL).
const frameHeaderRoom = 21

// liteSession is the session name ClientLite answers are addressed to.
const liteSession = "IKCLite"

// queueMax bounds the answers a Lite keeps for a later Responded.
const queueMax = 64

// ClientLite errors; test with errors.Is.
var (
	// ErrNoResponse: no answer came before the deadline (the context's or
	// Options.Timeout). The error also matches the context's error
	// when the context ended first.
	ErrNoResponse = errors.New("ikc: timed out waiting for a response")
	// ErrConnClosed: the server closed the connection while a request
	// waited for its answer.
	ErrConnClosed = errors.New("ikc: connection closed by the server")
	// ErrHandshake: the server refused the handshake (unexpected line,
	// refused serializer) or sent something unusable.
	ErrHandshake = protocol.ErrHandshake
	// ErrRemote: the server answered with an error report (is_error); the
	// error is a *RemoteError with the details.
	ErrRemote = errors.New("ikc: remote error")
	// ErrNoPong: Ping got an answer other than PONG.
	ErrNoPong = errors.New("ikc: ping not answered with PONG")
	// ErrBadFrame: the server sent a frame that cannot be read (not the
	// negotiated serializer, not a hash, malformed header); the
	// connection is dropped.
	ErrBadFrame = errors.New("ikc: unreadable frame from the server")
)

// RemoteError is an error report a server sent instead of an answer
// (spec 10.1). A 0.2402 peer sends [text, kernel, phase]; a 0.1904 peer
// only a text (Kernel and Phase empty). errors.Is(err, ErrRemote) holds.
type RemoteError struct {
	Text   string // the message, e.g. "Session 'test' has not published state 'x'.  Request ..."
	Kernel string // the kernel part of the failed request as the server saw it
	Phase  string // request, check, resolve or invocation
}

func (e *RemoteError) Error() string {
	if e.Phase != "" {
		return "ikc: remote error (" + e.Phase + "): " + e.Text
	}
	return "ikc: remote error: " + e.Text
}

// Is makes errors.Is(err, ErrRemote) true.
func (e *RemoteError) Is(target error) bool { return target == ErrRemote }

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
	// KeepAlive is the TCP keep-alive period. 0 (the default) leaves
	// keep-alives off, as Perl's ClientLite does; it also saves four
	// system calls per connection.
	KeepAlive time.Duration
	// Logger receives notes about skipped messages (nil: discarded).
	Logger *slog.Logger
}

// Lite is a blocking IKC client for Go code outside any kernel (a command
// line tool, an HTTP handler): the Go counterpart of Perl's
// POE::Component::IKC::ClientLite. Each method sends one request and, for
// Call, CallList, PostRespond, Responded and Ping, waits for its answer.
//
// A Lite is meant for one goroutine at a time. Calls from several
// goroutines are serialized (each waits for the previous request to
// finish), never interleaved on the wire.
//
// The connection is opened by Dial. If a request finds it closed (by
// Disconnect, or by the server), the Lite reconnects once, with a full
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

// deadline is the earlier of the context's deadline and now+Timeout.
func (l *Client) deadline(ctx context.Context) time.Time {
	d := time.Now().Add(l.opts.Timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	return d
}

// watch makes a cancelled context interrupt blocking I/O on conn; call
// the returned function when done.
func watch(ctx context.Context, conn net.Conn) func() bool {
	return context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
}

// ioErr turns an I/O error while waiting into the ClientLite error.
func ioErr(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%s): %w", ErrNoResponse, what, ctx.Err())
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			// The connection deadline was the context's.
			return fmt.Errorf("%w (%s): %w", ErrNoResponse, what, context.DeadlineExceeded)
		}
		return fmt.Errorf("%w (%s)", ErrNoResponse, what)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("%w (%s)", ErrConnClosed, what)
	}
	return fmt.Errorf("ikc: %s: %w", what, err)
}

// dialCause shortens a dial error for a message that names the address
// already: "connection refused", "cannot resolve h: no such host". The
// original stays reachable (errors.Is(err, syscall.ECONNREFUSED)).
func dialCause(err error) error {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return &causeError{"cannot resolve " + dns.Name + ": " + dns.Err, err}
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return &causeError{se.Err.Error(), err}
	}
	return err
}

// causeError is an error with a shorter text.
type causeError struct {
	text string
	err  error
}

func (e *causeError) Error() string { return e.text }
func (e *causeError) Unwrap() error { return e.err }

// connect dials and negotiates (spec 4.6 and 5.3, ClientLite's version).
func (l *Client) connect(ctx context.Context) error {
	dl := l.deadline(ctx)
	dctx, cancel := context.WithDeadline(ctx, dl)
	defer cancel()
	d := net.Dialer{KeepAlive: -1}
	if l.opts.KeepAlive > 0 {
		d.KeepAlive = l.opts.KeepAlive
	}
	var conn net.Conn
	var err error
	if l.opts.Unix != "" {
		conn, err = d.DialContext(dctx, "unix", l.opts.Unix)
	} else {
		conn, err = d.DialContext(dctx, "tcp", net.JoinHostPort(l.opts.Host, strconv.Itoa(l.opts.Port)))
	}
	if err != nil {
		if ctx.Err() != nil || dctx.Err() != nil {
			return fmt.Errorf("%w (connecting to %s): %w", ErrNoResponse, l.where, err)
		}
		return fmt.Errorf("ikc: connecting to %s: %w", l.where, dialCause(err))
	}
	stop := watch(dctx, conn)
	defer stop()
	conn.SetDeadline(dl)
	res, br, err := l.handshake(conn)
	if err != nil {
		conn.Close()
		var nie *protocol.NotIKCError
		if errors.As(err, &nie) {
			nie.Addr = l.where
		}
		if errors.Is(err, ErrHandshake) {
			return err
		}
		return ioErr(dctx, "handshake with "+l.where, err)
	}
	conn.SetDeadline(time.Time{})
	l.conn, l.br = conn, br
	l.fr = freezer.NewReader(br, l.opts.MaxFrame)
	if sc, ok := conn.(syscall.Conn); ok {
		l.rc, _ = sc.SyscallConn()
	}
	l.fz = res.Freezer
	l.queue = nil
	if res.IKC0 {
		l.remote = res.RemoteID
	}
	l.pingTo = "poe://" + res.RemoteID + "/IKC/ping"
	return nil
}

// handshake runs the negotiation on conn. ClientLite announces only its
// name (no kernel ID) and offers one serializer.
func (l *Client) handshake(conn net.Conn) (*protocol.Result, *bufio.Reader, error) {
	cn, err := protocol.NewClientNegotiator(protocol.Config{
		Names:    []string{l.opts.Name},
		Freezers: []string{l.opts.Serializer},
		PID:      processID,
		Dialect:  l.dialect,
		Timeout:  -1, // the connection deadline bounds it
	})
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(conn)
	send := cn.Start(time.Now())
	for {
		for _, s := range send {
			if _, err := io.WriteString(conn, s+protocol.LineTerminator); err != nil {
				return nil, nil, err
			}
		}
		line, err := readLine(br, protocol.DefaultMaxLine)
		if err != nil {
			return nil, nil, err
		}
		var res *protocol.Result
		send, res, err = cn.Feed(line)
		if err != nil {
			var nie *protocol.NotIKCError
			if errors.As(err, &nie) {
				return nil, nil, err
			}
			return nil, nil, protocol.Wrap(ErrHandshake, err)
		}
		if res == nil {
			continue
		}
		for _, s := range send {
			if _, err := io.WriteString(conn, s+protocol.LineTerminator); err != nil {
				return nil, nil, err
			}
		}
		switch {
		case res.FreezerDefaulted:
			return nil, nil, fmt.Errorf("%w: %s refused %s", ErrHandshake, l.where, l.opts.Serializer)
		case res.FreezerName != l.opts.Serializer:
			return nil, nil, fmt.Errorf("%w: Refused %s, wants %s", ErrHandshake, l.opts.Serializer, res.FreezerName)
		}
		return res, br, nil
	}
}

// readLine reads one negotiation line ending in \r\n, \n\r, \n or \r
// (spec 3); empty lines are skipped.
func readLine(br *bufio.Reader, max int) (string, error) {
	var b []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			return "", err
		}
		if c != '\r' && c != '\n' {
			if len(b) >= max {
				return "", protocol.Wrap(ErrHandshake, protocol.ErrLineTooLong)
			}
			b = append(b, c)
			continue
		}
		if br.Buffered() > 0 {
			if n, _ := br.Peek(1); len(n) == 1 && (n[0] == '\r' || n[0] == '\n') && n[0] != c {
				br.ReadByte()
			}
		}
		if len(b) > 0 {
			return string(b), nil
		}
	}
}

// alive reports whether the connection still looks open, without
// blocking: pending data or a read that would block mean yes; EOF or an
// error mean the server closed it.
func (l *Client) alive() bool {
	if l.conn == nil {
		return false
	}
	if l.br.Buffered() > 0 {
		return true
	}
	if l.rc == nil {
		return true
	}
	open := true
	var buf [1]byte
	err := l.rc.Read(func(fd uintptr) bool {
		n, _, err := unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
		case err != nil || n == 0:
			open = false
		}
		return true // never wait
	})
	return err == nil && open
}

// target expands a specifier the way ClientLite does: without "poe:" it
// becomes poe://<remote kernel>/<spec>. It must name a session and a state.
func (l *Client) target(spec string) (protocol.Address, error) {
	if spec == l.lastSpec && spec != "" {
		return l.lastTo, nil
	}
	orig := spec
	if !strings.HasPrefix(spec, "poe:") {
		spec = "poe://" + l.remote + "/" + spec
	}
	a, err := protocol.StringAddress(spec)
	if err != nil {
		return protocol.Address{}, err
	}
	if a.Session == "" || a.State == "" {
		return protocol.Address{}, fmt.Errorf("%w: %s", protocol.ErrNoState, spec)
	}
	l.lastSpec, l.lastTo = orig, a
	return a, nil
}

// request builds a message for target and args: no argument sends undef
// params, one argument is the target's ARG0, several are delivered as
// ARG0..ARGn through IKC:proxy.
func (l *Client) request(spec string, args []any) (*protocol.Message, error) {
	to, err := l.target(spec)
	if err != nil {
		return nil, err
	}
	var params storable.Value = storable.Undef{}
	switch len(args) {
	case 0:
	case 1:
		if params, err = protocol.ToValue(args[0]); err != nil {
			return nil, err
		}
	default:
		if to, params, err = protocol.RequestParams(to, args); err != nil {
			return nil, err
		}
	}
	if l.from == nil {
		a := protocol.PrebuiltAddress(protocol.Specifier{Kernel: l.opts.Name, Session: liteSession})
		l.from = &a
	}
	return &protocol.Message{Event: to, Params: params, From: l.from}, nil
}

// nextRSVP returns the next {kernel: name, session: IKCLite, state:
// response<N>}.
func (l *Client) nextRSVP() protocol.Address {
	a := protocol.NewAddress(protocol.Specifier{Kernel: l.opts.Name, Session: liteSession, State: "response" + strconv.Itoa(l.seq)})
	l.seq++
	return a
}

// send writes m, connecting first when needed; a write that finds the
// connection closed reconnects once and writes again (Perl's _try_send).
func (l *Client) send(ctx context.Context, m *protocol.Message) error {
	for attempt := 0; ; attempt++ {
		if l.conn == nil || !l.alive() {
			l.drop()
			if err := l.connect(ctx); err != nil {
				return err
			}
		}
		if err := l.frame(m); err != nil {
			return err
		}
		l.conn.SetWriteDeadline(l.deadline(ctx))
		stop := watch(ctx, l.conn)
		_, err := l.conn.Write(l.frameBuf)
		stop()
		if err == nil {
			l.conn.SetWriteDeadline(time.Time{})
			return nil
		}
		l.drop()
		if attempt > 0 || ctx.Err() != nil {
			return ioErr(ctx, "sending to "+l.where, err)
		}
	}
}

// frame puts m's frame in l.frameBuf.
func (l *Client) frame(m *protocol.Message) error {
	if _, ok := l.fz.(freezer.Storable); ok {
		// As channel.write: encoded after room for the header.
		l.encHash.Entries = m.AppendEntries(l.encHash.Entries[:0])
		var room [frameHeaderRoom]byte
		img, err := storable.AppendEncode(append(l.encBuf[:0], room[:]...), &l.encHash)
		clear(l.encHash.Entries)
		if err != nil {
			return err
		}
		hdr := strconv.AppendInt(room[:0], int64(len(img)-frameHeaderRoom), 10)
		hdr = append(hdr, 0)
		start := frameHeaderRoom - len(hdr)
		copy(img[start:], hdr)
		l.encBuf, l.frameBuf = img, img[start:]
		return nil
	}
	payload, err := protocol.FreezeMessage(l.fz, m)
	if err != nil {
		return err
	}
	l.frameBuf = freezer.AppendFrame(l.frameBuf[:0], payload)
	return nil
}

// thaw decodes an answer. A Storable one goes into l.msg and l.dec, valid
// until the next thaw; keep is true when it must outlive that (queued):
// then it is thawed into memory of its own.
func (l *Client) thaw(payload []byte, keep bool) (*protocol.Message, error) {
	if _, ok := l.fz.(freezer.Storable); ok && !keep {
		v, err := l.dec.Decode(payload)
		if err != nil {
			return nil, err
		}
		return l.msg.Decode(v)
	}
	return protocol.ThawMessage(l.fz, payload)
}

// wait reads messages until one addressed to session/state arrives and
// returns its params. An error report aborts the wait (as in Perl);
// answers for other IKCLite or IKC states are queued for Responded.
func (l *Client) wait(ctx context.Context, session, state string) (storable.Value, error) {
	for i, m := range l.queue {
		if m.Event.Session == session && m.Event.State == state {
			l.queue = append(l.queue[:i:i], l.queue[i+1:]...)
			return m.Params, nil
		}
	}
	if l.conn == nil {
		return nil, fmt.Errorf("%w (waiting for %s/%s)", ErrConnClosed, session, state)
	}
	what := func() string { return "waiting for response poe://" + l.opts.Name + "/" + session + "/" + state }
	conn := l.conn
	conn.SetReadDeadline(l.deadline(ctx))
	defer conn.SetReadDeadline(time.Time{})
	stop := watch(ctx, conn)
	defer stop()
	for {
		payload, err := l.fr.ReadFrame()
		if err != nil {
			// Closed, timed out (perhaps in the middle of a frame: the
			// stream cannot be trusted any more) or malformed: the
			// connection is dropped; the next request reconnects.
			l.drop()
			if errors.Is(err, freezer.ErrBadHeader) || errors.Is(err, freezer.ErrFrameTooLarge) {
				return nil, protocol.Wrap(ErrBadFrame, err)
			}
			return nil, ioErr(ctx, what(), err)
		}
		m, err := l.thaw(payload, false)
		if m == nil {
			l.drop()
			return nil, protocol.Wrap(ErrBadFrame, err)
		}
		if m.IsError {
			return nil, remoteError(m.Params)
		}
		if err != nil {
			l.log("ikc: lite: skipped a malformed message", "err", err)
			continue
		}
		to := m.Event.Specifier
		if to.Session == session && to.State == state {
			return m.Params, nil
		}
		if to.Session != liteSession && to.Session != protocol.ResponderAlias {
			l.log("ikc: lite: message for an unknown session skipped", "event", to.String())
			continue
		}
		l.log("ikc: lite: kept an answer for later", "event", to.String(), "expecting", session+"/"+state)
		if m, err = l.thaw(payload, true); m == nil {
			l.drop()
			return nil, protocol.Wrap(ErrBadFrame, err)
		}
		if len(l.queue) >= queueMax {
			l.queue = l.queue[1:]
		}
		l.queue = append(l.queue, m)
	}
}

func (l *Client) log(msg string, args ...any) {
	if l.opts.Logger != nil {
		l.opts.Logger.Debug(msg, args...)
	}
}

// remoteError reads an error report: [text, kernel, phase] (0.2402) or a
// text (0.1904).
func remoteError(p storable.Value) error {
	e := &RemoteError{}
	switch v := protocol.FromValue(p).(type) {
	case []any:
		str := func(i int) string {
			if i < len(v) && v[i] != nil {
				return fmt.Sprint(v[i])
			}
			return ""
		}
		e.Text, e.Kernel, e.Phase = str(0), str(1), str(2)
	case nil:
	default:
		e.Text = fmt.Sprint(v)
	}
	return e
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
