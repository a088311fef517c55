package ikc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"github.com/poe-go/poe/wheel/filter"
	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// errChannelClosed: a write to a connection that is closing or not
// negotiated yet.
var errChannelClosed = errors.New("ikc: connection closed")

// channelConfig describes one connection to run.
type channelConfig struct {
	server bool
	fd     int // connected socket, owned by the channel from then on
	// local is the connection's local address when fd is not the socket
	// itself (TLS: one end of a socket pair); nil: fd's.
	local    unix.Sockaddr
	names    []string // this end's names: name, aliases, socket name (ikc-protocol.md §4.3)
	dialect  protocol.Dialect
	freezers []string
	// peerAlias is added to the remote aliases (ikc-protocol.md §10.10): the address
	// this side used to reach the peer.
	peerAlias string
	// peerAddr names the peer in error texts: host:port, unix:<path>.
	peerAddr string
	timeout  time.Duration
	// setupSilence: Config.SetupSilence (IKC0 clients).
	setupSilence time.Duration
	// limits of the Server or Client; their zero fields come from the
	// responder's, then the defaults.
	limits Limits
	// onError receives errors before the negotiation finished
	// (operation, errno, text); nil: logged and reported as channel-<op>.
	onError func(op string, errno int, text string)
	// onReady runs once the peer is registered (the Client's subscribe
	// and on_connect).
	onReady func(c *channel)
	// onClose runs once when the channel ends (the server's count).
	onClose func()
}

// negotiatorDriver is what ServerNegotiator and ClientNegotiator share.
type negotiatorDriver interface {
	Feed(line string) ([]string, *protocol.Result, error)
	Deadline() time.Time
	Expire(now time.Time) error
	Pending() []string
}

// channel is one connection: a session that negotiates over a line
// filter, then exchanges frames and hands requests to the responder.
type channel struct {
	r    *Responder
	cfg  channelConfig
	sess *poe.Session
	rw   *wheel.ReadWrite
	neg  negotiatorDriver
	fz   freezer.Freezer

	negotiated bool
	registered bool
	closing    bool
	closed     bool
	remoteID   string
	// The local end, for addressedHere.
	localPort     int
	localPortText string
	unixSocket    bool
	// Backpressure (backpressure.go): not reading the peer while its
	// output is above the high mark; the stall timer.
	throttled  bool
	stallArmed bool
	stallAlarm poe.AlarmID
	thaw       *frameThawer // the input filter's serializer
	// held is the most output queued, or input buffered, at once: large
	// enough and the memory is handed back when the channel ends.
	held int
	// out and encHash are write's scratch: the frozen message (Storable:
	// encoded into out's buffer, reused) that the Reference filter frames
	// into the driver's queue.
	out     filter.Frozen
	encHash storable.Hash
	// msg is input's scratch: every frame decodes into it.
	msg protocol.MessageDecoder
}

// startChannel creates the channel session for a connected socket. It
// must run on the kernel's goroutine.
func startChannel(r *Responder, cfg channelConfig) (*poe.Session, error) {
	cfg.limits = cfg.limits.or(r.limits)
	if cfg.limits.MaxLine <= 0 {
		cfg.limits.MaxLine = protocol.DefaultMaxLine
	}
	if cfg.limits.MaxFrame <= 0 {
		cfg.limits.MaxFrame = filter.DefaultReferenceMaxBuffer
	}
	c := &channel{r: r, cfg: cfg}
	var err error
	r.session.Do(func() {
		c.sess, err = r.k.Create(poe.Spec{Heap: c, Inline: map[string]poe.Handler{
			"_start":   c.start,
			"input":    c.input,
			"error":    c.ioError,
			"flushed":  c.flushed,
			"timeout":  c.timeout,
			"high":     c.high,
			"low":      c.low,
			"stalled":  c.stalled,
			"shutdown": func(e *poe.Event) any { c.shutdown(); return nil },
			"_stop":    func(e *poe.Event) any { c.close(); return nil },
		}})
	})
	if err != nil {
		unixClose(cfg.fd)
		return nil, err
	}
	if c.closed {
		return nil, errChannelClosed
	}
	return c.sess, nil
}

func (c *channel) start(e *poe.Event) any {
	k := e.Kernel
	c.r.kernels.opened(c)
	maxLine := c.cfg.limits.MaxLine
	line, err := filter.NewLine(filter.LineOptions{MaxLength: maxLine, MaxBuffer: maxLine + 1<<20})
	if err != nil {
		c.fail("setup", 0, err.Error())
		return nil
	}
	c.localEnd()
	o := wheel.ReadWriteOptions{
		Handle: c.cfg.fd, Filter: line,
		InputEvent: "input", ErrorEvent: "error", FlushedEvent: "flushed",
		// A throttled peer is not served from what was already read.
		HoldOnPause: true,
	}
	if o.HighMark, o.LowMark = marks(c.cfg.limits); o.HighMark > 0 {
		o.HighEvent, o.LowEvent = "high", "low"
	}
	c.rw, err = wheel.NewReadWrite(k, o)
	if err != nil {
		unixClose(c.cfg.fd)
		c.fail("setup", 0, err.Error())
		return nil
	}
	ncfg := protocol.Config{
		KernelID:     c.r.kernelID,
		Names:        c.cfg.names,
		Freezers:     c.cfg.freezers,
		PID:          processID,
		Dialect:      c.cfg.dialect,
		MaxLine:      maxLine,
		Timeout:      c.cfg.timeout,
		SetupSilence: c.cfg.setupSilence,
		Warn:         func(msg string) { c.r.log.Debug("ikc: negotiation", "msg", msg) },
	}
	now := time.Now()
	var first []string
	if c.cfg.server {
		n, err := protocol.NewServerNegotiator(ncfg)
		if err != nil {
			c.fail("setup", 0, err.Error())
			return nil
		}
		first, c.neg = n.Start(now), n
	} else {
		n, err := protocol.NewClientNegotiator(ncfg)
		if err != nil {
			c.fail("setup", 0, err.Error())
			return nil
		}
		first, c.neg = n.Start(now), n
	}
	c.putLines(first)
	if d := c.neg.Deadline(); !d.IsZero() {
		k.Alarm("timeout", d)
	}
	return nil
}

func (c *channel) putLines(lines []string) {
	for _, l := range lines {
		c.rw.Put(l)
	}
}

// input receives a negotiation line or, after the hand-off, a thawed frame.
func (c *channel) input(e *poe.Event) any {
	if c.closing || c.closed {
		return nil
	}
	if !c.negotiated {
		line, _ := e.Arg(poe.ARG0).(string)
		send, res, err := c.neg.Feed(line)
		if err != nil {
			var nie *protocol.NotIKCError
			if errors.As(err, &nie) {
				nie.Addr = c.cfg.peerAddr
			}
			c.fail("negotiate", 0, err.Error())
			return nil
		}
		c.putLines(send)
		if res != nil {
			c.negotiatedWith(e.Kernel, res)
		}
		return nil
	}
	msg, err := c.msg.Decode(storableValue(e.Arg(poe.ARG0)))
	if msg == nil {
		// Not a hash: Perl dies (p5); we drop the connection (16 #1).
		c.refuseFrame(fmt.Errorf("bad frame: %w", err))
		return nil
	}
	if !c.addressedHere(msg.Event.Kernel) {
		c.ignoreForeign(msg)
		return nil
	}
	c.r.receive(msg, err, c.remoteID)
	return nil
}

// negotiatedWith switches to frames and registers the peer.
func (c *channel) negotiatedWith(k *poe.Kernel, res *protocol.Result) {
	c.negotiated = true
	k.Alarm("timeout", time.Time{})
	c.fz = res.Freezer
	c.remoteID = res.RemoteID
	aliases := append([]string(nil), res.RemoteAliases...)
	if c.cfg.peerAlias != "" && !contains(aliases, c.cfg.peerAlias) && c.cfg.peerAlias != res.RemoteID {
		aliases = append(aliases, c.cfg.peerAlias)
	}
	var pid any
	if res.IKC0 {
		pid = res.RemotePID
	}
	c.thaw = newFrameThawer(freezer.WithLimits(res.Freezer, c.cfg.limits.budget()))
	ref, err := filter.NewReference(filter.ReferenceOptions{
		Serializer: c.thaw,
		MaxBuffer:  c.cfg.limits.MaxFrame,
	})
	if err != nil {
		c.fail("setup", 0, err.Error())
		return
	}
	// Frames go out through the filter that reads them.
	c.rw.SetOutputFilter(ref)
	if err := c.r.register(c, res.RemoteID, aliases, pid); err != nil {
		// Refused (ikc-protocol.md §16 #2): the handshake reply is flushed, then the
		// connection closes.
		c.r.logs.warn("ikc: connection refused", "register", c.peerHost(), err.Error())
		if c.cfg.onError != nil {
			c.cfg.onError("register", 0, err.Error())
		}
		c.shutdown()
		return
	}
	c.registered = true
	c.r.inform("channel", c.remoteID, true, "ready", c.sess.ID())
	if c.cfg.onReady != nil {
		c.cfg.onReady(c)
	}
	// Frames that came with the last line are delivered now.
	c.rw.SetInputFilter(ref)
}

// kernelName is the first name this end announced: it fills an empty
// rsvp kernel (ikc-protocol.md §8).
func (c *channel) kernelName() string {
	if len(c.cfg.names) > 0 {
		return c.cfg.names[0]
	}
	return c.r.kernelID
}

// write sends one message as a frame.
func (c *channel) write(m *protocol.Message) error {
	if c.closing || c.closed || !c.negotiated {
		return errChannelClosed
	}
	if m.RSVP != nil && m.RSVP.Kernel == "" {
		cp := *m
		rs := *m.RSVP
		rs.Kernel = c.kernelName()
		cp.RSVP = &rs
		m = &cp
	}
	if _, ok := c.fz.(freezer.Storable); ok {
		// Same bytes as FreezeMessage (Storable.Freeze is storable.Marshal
		// of the *storable.Hash), without the per-message hash and buffer.
		c.encHash.Entries = m.AppendEntries(c.encHash.Entries[:0])
		p, err := storable.AppendEncode(c.out.B[:0], &c.encHash)
		clear(c.encHash.Entries) // drop references to the message
		if err != nil {
			return err
		}
		c.out.B = p
		if c.rw.Put(&c.out) {
			c.throttle()
		}
		c.held = max(c.held, c.rw.DriverOutOctets())
		return nil
	}
	payload, err := protocol.FreezeMessage(c.fz, m)
	if err != nil {
		return err
	}
	c.out.B = payload
	high := c.rw.Put(&c.out)
	c.out.B = nil // not reused: another freezer's buffer
	if high {
		c.throttle()
	}
	c.held = max(c.held, c.rw.DriverOutOctets())
	return nil
}

func (c *channel) ioError(e *poe.Event) any {
	op, errno, text := e.String(poe.ARG0), e.Int(poe.ARG1), e.String(poe.ARG2)
	if op == "read" && errno == int(unix.EINVAL) {
		// The input filter refused what it buffered (up to MaxFrame).
		c.held = max(c.held, c.cfg.limits.MaxFrame)
	}
	if op == "read" && c.thaw != nil && c.thaw.err != nil {
		// The filter could not thaw a frame: refused, not a broken link.
		c.refuseFrame(c.thaw.err)
		return nil
	}
	c.fail(op, errno, text)
	return nil
}

// fail reports an error and closes the connection: to monitors as
// channel-<op> once registered, else to onError (or the log).
func (c *channel) fail(op string, errno int, text string) {
	if c.closed {
		return
	}
	if c.registered {
		c.r.inform("error", c.remoteID, true, "channel-"+op, fmt.Sprintf("[%d] %s", errno, text))
	} else if c.cfg.onError != nil {
		c.cfg.onError(op, errno, text)
	} else if !(op == "read" && errno == 0) || c.negotiated {
		c.r.logs.info("ikc: connection failed", op, c.peerHost(), fmt.Sprintf("[%d] %s", errno, text))
	}
	c.close()
}

func (c *channel) timeout(e *poe.Event) any {
	if c.negotiated || c.closed {
		return nil
	}
	if err := c.neg.Expire(time.Now()); err != nil {
		c.fail("negotiate", 0, err.Error())
		return nil
	}
	c.putLines(c.neg.Pending())
	if d := c.neg.Deadline(); !d.IsZero() {
		e.Kernel.Alarm("timeout", d)
	}
	return nil
}

// shutdown closes the connection once its pending output is written.
func (c *channel) shutdown() {
	if c.closed || c.closing {
		return
	}
	c.closing = true
	if c.rw == nil || c.rw.DriverOutOctets() == 0 {
		c.close()
		return
	}
	// A peer that does not read what is left is not waited for forever.
	c.rw.PauseInput()
	c.armStall()
}

func (c *channel) flushed(e *poe.Event) any {
	if c.closing {
		c.close()
	}
	return nil
}

// close releases the socket and unregisters the peer.
func (c *channel) close() {
	if c.closed {
		return
	}
	c.closed = true
	c.disarmStall()
	c.r.kernels.closed(c)
	if c.thaw != nil {
		c.held = max(c.held, c.thaw.max)
	}
	c.r.mem.ended(c.held)
	if c.cfg.onClose != nil {
		defer c.cfg.onClose()
	}
	if c.rw != nil {
		c.rw.Close()
	}
	if c.sess != nil && c.sess.Alive() {
		c.sess.Do(func() { c.r.k.Alarm("timeout", time.Time{}) })
	}
	if c.registered {
		c.registered = false
		c.r.inform("channel", c.remoteID, true, "close", c.sess.ID())
		c.r.unregister(c.remoteID)
	}
}

// localEnd records the local port (or that it is a Unix socket) for
// addressedHere.
func (c *channel) localEnd() {
	sa := c.cfg.local
	if sa == nil {
		sa = sockname(c.cfg.fd)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		c.localPort = sa.Port
	case *unix.SockaddrInet6:
		c.localPort = sa.Port
	case *unix.SockaddrUnix:
		c.unixSocket = true
	}
	if c.localPort > 0 {
		c.localPortText = strconv.Itoa(c.localPort)
	}
}

// peerHost names the peer in folded log lines: its address without the
// port (the port changes with every connection), or the text of peerAddr.
func (c *channel) peerHost() string {
	a := c.cfg.peerAlias
	if a == "" {
		a = c.cfg.peerAddr
	}
	if h, _, err := net.SplitHostPort(a); err == nil {
		return h
	}
	return a
}

// processID is this process's PID, announced in every handshake; read
// once, as os.Getpid is a system call each time.
var processID = os.Getpid()
