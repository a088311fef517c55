package protocol

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/poe-go/poe/wheel/freezer"
)

// Negotiation errors. A negotiator that returns one of them (possibly
// wrapped, test with errors.Is) has failed: the driver closes the
// connection.
var (
	// ErrLineTooLong: a received negotiation line is longer than
	// Config.MaxLine.
	ErrLineTooLong = errors.New("ikc: negotiation line too long")
	// ErrTimeout: the negotiation did not finish before its deadline.
	ErrTimeout = errors.New("ikc: negotiation timed out")
	// ErrBadSetup: the server's SETUP reply is malformed or does not name
	// exactly one freezer. (A Perl client answers NOT, which the Perl
	// server, already reading frames, takes for frame bytes; spec 16 #10.)
	ErrBadSetup = errors.New("ikc: bad SETUP line from the server")
	// ErrFreezer: the peer settled on a freezer this side cannot use.
	ErrFreezer = errors.New("ikc: unusable freezer")
	// ErrNoRemoteName: the peer finished without announcing any name.
	ErrNoRemoteName = errors.New("ikc: peer announced no kernel name")
	// ErrBadName: a configured kernel name cannot be announced (empty, or
	// characters outside [-:.A-Za-z0-9_]).
	ErrBadName = errors.New("ikc: invalid kernel name")
	// ErrNoFreezer: the configuration lists no freezer this side can use.
	ErrNoFreezer = errors.New("ikc: no usable freezer configured")
	// ErrNegotiated: a line was fed after the negotiation finished (it
	// belongs to the frame stream).
	ErrNegotiated = errors.New("ikc: negotiation already finished")
	// ErrHandshake: the server refused the handshake (unexpected line,
	// refused serializer) or sent something unusable.
	ErrHandshake = errors.New("ikc: handshake failed")
	// ErrNotIKC: the server's first line is nothing an IKC server says
	// (an echo of ours, a banner, an error page): the error is a
	// *NotIKCError with the answer.
	ErrNotIKC = errors.New("ikc: not an IKC server")
)

// NotIKCError reports a peer whose first answer rules out IKC. errors.Is
// matches ErrNotIKC and ErrHandshake.
type NotIKCError struct {
	// Addr is the server's address ("127.0.0.1:6666", "unix:/tmp/s.sock"),
	// filled in by the client that dialled it; empty from a negotiator.
	Addr string
	// Answer is the line the server sent (without its terminator).
	Answer string
}

func (e *NotIKCError) Error() string {
	who := "the peer"
	if e.Addr != "" {
		who = e.Addr
	}
	answer := e.Answer
	if len(answer) > 80 {
		answer = answer[:77] + "..."
	}
	return fmt.Sprintf("ikc: %s is not an IKC server (it answered %q)", who, answer)
}

// Is matches ErrNotIKC and ErrHandshake.
func (e *NotIKCError) Is(target error) bool { return target == ErrNotIKC || target == ErrHandshake }

// wrapError joins a sentinel and its cause.
type wrapError struct{ outer, inner error }

// Wrap joins a sentinel and its cause like fmt.Errorf("%w: %w") without
// repeating the cause's "ikc: " prefix in the text; errors.Is matches
// both. A nil inner gives outer.
func Wrap(outer, inner error) error {
	if inner == nil {
		return outer
	}
	return &wrapError{outer, inner}
}

func (e *wrapError) Error() string {
	return e.outer.Error() + ": " + strings.TrimPrefix(e.inner.Error(), "ikc: ")
}

func (e *wrapError) Unwrap() []error { return []error{e.outer, e.inner} }

// Dialect is a negotiation dialect (spec sections 4 and 5).
type Dialect int

const (
	// IKC0 is the one-line SETUP exchange of IKC 0.23 and later, the
	// default of Perl's Server, Client and ClientLite. A server in this
	// dialect also accepts the IKC dialect (a HELLO first line).
	IKC0 Dialect = iota
	// IKC is the HELLO/IAM/OK/DONE/FREEZER/WORLD/UP exchange every IKC
	// release speaks. A server in this dialect answers SETUP with NOT (the
	// client falls back to IKC); a client in it works with any server.
	IKC
)

// String returns "IKC0" or "IKC".
func (d Dialect) String() string {
	switch d {
	case IKC0:
		return "IKC0"
	case IKC:
		return "IKC"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// ParseDialect reads a Protocol option: "IKC0" (or "") or "IKC".
func ParseDialect(p string) (Dialect, error) {
	switch p {
	case "", "IKC0":
		return IKC0, nil
	case "IKC":
		return IKC, nil
	}
	return 0, fmt.Errorf("ikc: unknown protocol %q (want IKC0 or IKC)", p)
}

// Defaults of Config.
const (
	// DefaultMaxLine caps a negotiation line (Perl allows 64 MiB; real
	// lines are below 300 bytes).
	DefaultMaxLine = 8 << 10
	// DefaultTimeout bounds a whole negotiation (Perl's POE side has none;
	// ClientLite's connect_timeout is 30 s).
	DefaultTimeout = 30 * time.Second
)

// LineTerminator ends every line a negotiator returns. The driver writes
// each line and its terminator in one write: a Perl peer that reads "\r"
// and "\n" separately sees an extra empty line and may answer NOT.
const LineTerminator = "\r\n"

// Config describes this side of a negotiation.
type Config struct {
	// KernelID is the POE kernel ID, announced first (IAM <ID> / the first
	// KERNEL entry); the peer registers this side under it. Leave it empty
	// to announce only Names, as ClientLite does (then Names[0] comes
	// first).
	KernelID string
	// Names is the channel's name list of spec 4.3 in forward order: the
	// kernel name (if any), its aliases, then the socket name of this end
	// (see TCPName, UnixName, UnixClientName). The IKC dialect announces
	// it from the last entry to the first, IKC0 in this order. Every name
	// must match [-:.A-Za-z0-9_]+.
	Names []string
	// Freezers: for a client, the serializers to offer, in order (nil:
	// Storable only); for a server, the ones it accepts (nil: Storable
	// only, the policy of spec 5.5). POE::Component::IKC::Freezer is
	// refused (freezer.ErrEvalFreezer).
	Freezers []string
	// PID is sent in the IKC0 SETUP line (PID=<pid>); 0 leaves it out.
	PID int
	// Dialect: a client's first line (SETUP for IKC0, HELLO for IKC); for
	// a server, whether SETUP is accepted (IKC0) or answered with NOT.
	Dialect Dialect
	// MaxLine caps received lines (0: DefaultMaxLine). The driver should
	// also cap its line buffer at this size.
	MaxLine int
	// Timeout bounds the negotiation from Start (0: DefaultTimeout,
	// negative: no deadline).
	Timeout time.Duration
	// SetupSilence (IKC0 client only): when the server has sent nothing
	// this long after the SETUP line, fall back to HELLO on the same
	// connection, as after a NOT. An IKC 0.1904 server ignores SETUP and
	// never answers (captures/s3); Perl's client waits forever. 0: wait
	// (until Timeout).
	SetupSilence time.Duration
	// Lookup builds a freezer by name (nil: freezer.Lookup).
	Lookup func(name string) (freezer.Freezer, error)
	// Warn, if set, receives what Perl would warn about: ignored or
	// refused lines, refused freezers.
	Warn func(msg string)
}

// Result is what a finished negotiation agreed.
type Result struct {
	// RemoteID is the first name the peer announced (its POE kernel ID,
	// or a ClientLite's name); RemoteAliases are the others, in the order
	// received. The driver adds the address it used to reach the peer
	// (spec 10.10) when registering.
	RemoteID      string
	RemoteAliases []string
	// RemotePID is the PID from the peer's SETUP line (IKC0), 0 if none.
	RemotePID int
	// Freezer serializes frames from now on, both directions.
	Freezer freezer.Freezer
	// FreezerName is its negotiation name.
	FreezerName string
	// FreezerDefaulted: no FREEZER was agreed (IKC dialect) and both
	// sides silently use Storable (spec 4.5, captures/b7).
	FreezerDefaulted bool
	// IKC0 reports that the exchange used the SETUP dialect (false: the
	// IKC dialect, including after a fallback).
	IKC0 bool
}

// phase of a negotiator.
type phase int

const (
	srvSetup    phase = iota // server 010: SETUP or HELLO
	srvHello                 // server 000: HELLO
	srvIAM                   // server 001 / client 001: we announce our names
	srvNames                 // server 002: the client's IAMs until DONE
	srvFreezer               // server 003: FREEZER lines until WORLD
	cliSetup                 // client 010: waiting for the server's SETUP or NOT
	cliNames                 // client 000: the server's IAMs until DONE
	cliIAM                   // client 001
	cliFreezer               // client 002: waiting for OK/NOT to FREEZER
	cliWorld                 // client 003: waiting for UP
	phaseDone                // negotiated
	phaseFailed              // failed
)

var phaseNames = [...]string{
	srvSetup:    "server 010 (waiting for SETUP or HELLO)",
	srvHello:    "server 000 (waiting for HELLO)",
	srvIAM:      "001 (announcing our names)",
	srvNames:    "server 002 (waiting for the client's names)",
	srvFreezer:  "server 003 (waiting for FREEZER or WORLD)",
	cliSetup:    "client 010 (waiting for the server's SETUP)",
	cliNames:    "client 000 (waiting for the server's names)",
	cliIAM:      "001 (announcing our names)",
	cliFreezer:  "client 002 (waiting for the FREEZER answer)",
	cliWorld:    "client 003 (waiting for UP)",
	phaseDone:   "done",
	phaseFailed: "failed",
}

func (p phase) String() string { return phaseNames[p] }

// negotiator holds what both roles share.
type negotiator struct {
	cfg      Config
	phase    phase
	err      error
	deadline time.Time
	started  bool

	announce []string // names still to announce (IKC dialect), popped from the end
	remote   []string // names the peer announced
	pid      int
	fz       freezer.Freezer // last accepted freezer
	fzName   string
	out      []string
}

func newNegotiator(cfg Config) (negotiator, error) {
	if cfg.MaxLine <= 0 {
		cfg.MaxLine = DefaultMaxLine
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Lookup == nil {
		cfg.Lookup = freezer.Lookup
	}
	if cfg.Freezers == nil {
		cfg.Freezers = []string{freezer.NameStorable}
	}
	if cfg.Dialect != IKC0 && cfg.Dialect != IKC {
		return negotiator{}, fmt.Errorf("ikc: unknown dialect %v", cfg.Dialect)
	}
	if cfg.KernelID == "" && len(cfg.Names) == 0 {
		return negotiator{}, fmt.Errorf("%w: no KernelID and no Names", ErrBadName)
	}
	if cfg.KernelID != "" && !ValidName(cfg.KernelID) {
		return negotiator{}, fmt.Errorf("%w: KernelID %q", ErrBadName, cfg.KernelID)
	}
	for _, n := range cfg.Names {
		if !ValidName(n) {
			return negotiator{}, fmt.Errorf("%w: %q", ErrBadName, n)
		}
	}
	for _, f := range cfg.Freezers {
		if f == freezer.NamePerlFreezer {
			return negotiator{}, freezer.ErrEvalFreezer
		}
		if !validPackage(f) {
			return negotiator{}, fmt.Errorf("%w: bad freezer name %q", ErrNoFreezer, f)
		}
	}
	cfg.Names = append([]string(nil), cfg.Names...)
	cfg.Freezers = append([]string(nil), cfg.Freezers...)
	return negotiator{cfg: cfg}, nil
}

// start arms the deadline.
func (n *negotiator) start(now time.Time) {
	n.started = true
	if n.cfg.Timeout > 0 {
		n.deadline = now.Add(n.cfg.Timeout)
	}
}

// Deadline returns when the negotiation times out (zero: no deadline, or
// not started).
func (n *negotiator) Deadline() time.Time { return n.deadline }

// MaxLine returns the line length cap in force.
func (n *negotiator) MaxLine() int { return n.cfg.MaxLine }

// Done reports whether the negotiation has finished successfully.
func (n *negotiator) Done() bool { return n.phase == phaseDone }

// Err returns the error that failed the negotiation, or nil.
func (n *negotiator) Err() error { return n.err }

// Phase describes where the negotiation stands (for logs and errors).
func (n *negotiator) Phase() string { return n.phase.String() }

// Expire fails the negotiation with ErrTimeout if it is still running at
// now, past its deadline; the driver calls it when its timer fires. It
// returns the error (nil when not expired).
func (n *negotiator) Expire(now time.Time) error {
	if n.phase == phaseDone || n.phase == phaseFailed || n.deadline.IsZero() || now.Before(n.deadline) {
		return n.err
	}
	return n.fail(fmt.Errorf("%w after %v in phase %s", ErrTimeout, n.cfg.Timeout, n.phase))
}

func (n *negotiator) fail(err error) error {
	n.phase = phaseFailed
	n.err = err
	n.out = nil
	return err
}

func (n *negotiator) send(lines ...string) { n.out = append(n.out, lines...) }

func (n *negotiator) warn(format string, args ...any) {
	if n.cfg.Warn != nil {
		n.cfg.Warn(fmt.Sprintf(format, args...))
	}
}

// precheck handles what is common to every Feed: state, length cap,
// terminator leftovers.
func (n *negotiator) precheck(line string) (string, error) {
	switch n.phase {
	case phaseFailed:
		return "", n.err
	case phaseDone:
		return "", ErrNegotiated
	}
	if len(line) > n.cfg.MaxLine {
		return "", n.fail(fmt.Errorf("%w: %d bytes (max %d) in phase %s", ErrLineTooLong, len(line), n.cfg.MaxLine, n.phase))
	}
	// The driver strips the terminator; a driver splitting on "\n" only
	// leaves the "\r" of "\r\n" (spec 3 accepts \r\n, \n\r, \r and \n).
	return strings.TrimRight(line, "\r\n"), nil
}

// flush returns the lines to send and resets the buffer.
func (n *negotiator) flush() []string {
	out := n.out
	n.out = nil
	return out
}

// announceList prepares the IKC dialect's IAM sequence: the kernel ID
// first (returned), then the names popped from the end of [name, aliases,
// socket name].
func (n *negotiator) announceList() string {
	names := n.cfg.Names
	first := n.cfg.KernelID
	if first == "" {
		first, names = names[0], names[1:]
	}
	n.announce = append([]string(nil), names...)
	return first
}

// announceNext handles OK in phase 001: the next IAM, or DONE (true).
func (n *negotiator) announceNext() bool {
	if k := len(n.announce); k > 0 {
		n.send("IAM " + n.announce[k-1])
		n.announce = n.announce[:k-1]
		return false
	}
	n.send("DONE")
	return true
}

// setupLine builds "SETUP KERNEL=<ID>,<names...>;FREEZER=<list>[;PID=<pid>]".
func (n *negotiator) setupLine(freezers []string) string {
	var b strings.Builder
	b.WriteString("SETUP KERNEL=")
	kernels := n.cfg.Names
	if n.cfg.KernelID != "" {
		b.WriteString(n.cfg.KernelID)
		if len(kernels) > 0 {
			b.WriteByte(',')
		}
	}
	b.WriteString(strings.Join(kernels, ","))
	b.WriteString(";FREEZER=")
	b.WriteString(strings.Join(freezers, ","))
	if n.cfg.PID > 0 {
		b.WriteString(";PID=")
		b.WriteString(strconv.Itoa(n.cfg.PID))
	}
	return b.String()
}

// result builds the Result; an empty remote list is an error.
func (n *negotiator) result(ikc0 bool) (*Result, error) {
	if len(n.remote) == 0 {
		return nil, n.fail(fmt.Errorf("%w (phase %s)", ErrNoRemoteName, n.phase))
	}
	r := &Result{
		RemoteID:      n.remote[0],
		RemoteAliases: append([]string{}, n.remote[1:]...),
		RemotePID:     n.pid,
		Freezer:       n.fz,
		FreezerName:   n.fzName,
		IKC0:          ikc0,
	}
	if r.Freezer == nil {
		r.Freezer, r.FreezerName, r.FreezerDefaulted = freezer.Storable{}, freezer.NameStorable, true
	}
	n.phase = phaseDone
	return r, nil
}

// build makes the freezer for a name with Config.Lookup; the eval freezer
// is always refused.
func (n *negotiator) build(name string) (freezer.Freezer, error) {
	if name == freezer.NamePerlFreezer {
		return nil, freezer.ErrEvalFreezer
	}
	f, err := n.cfg.Lookup(name)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, fmt.Errorf("%w: %q", freezer.ErrUnknownFreezer, name)
	}
	return f, nil
}

// ServerNegotiator runs the accepting side of a negotiation (spec 4.4 and
// 5.2). The client speaks first: call Start when the connection is
// accepted, then Feed every received line. With Dialect IKC0 (the
// default) it answers a SETUP line with its own and is done, and falls
// back to the IKC dialect when the first line is HELLO; with Dialect IKC
// it answers SETUP with NOT (the client then sends HELLO).
//
// Reactions follow Perl's server: unknown lines before HELLO or SETUP are
// ignored, "HELLO IKC<digit>" and bad SETUP lines get NOT, unknown lines
// later get NOT (NOT itself is never answered). FREEZER proposals are
// accepted only for names in Config.Freezers that Lookup can build
// (POE::Component::IKC::Freezer never); when none was accepted both sides
// use Storable.
//
// A ServerNegotiator is not safe for concurrent use.
type ServerNegotiator struct {
	negotiator
}

// NewServerNegotiator checks the configuration and returns a server in
// its first phase.
func NewServerNegotiator(cfg Config) (*ServerNegotiator, error) {
	n, err := newNegotiator(cfg)
	if err != nil {
		return nil, err
	}
	s := &ServerNegotiator{n}
	s.phase = srvHello
	if s.cfg.Dialect == IKC0 {
		s.phase = srvSetup
	}
	return s, nil
}

// Start arms the deadline (now + Timeout). The server sends nothing first.
func (s *ServerNegotiator) Start(now time.Time) []string {
	s.start(now)
	return nil
}

// Feed processes one received line (terminator removed) and returns the
// lines to send, each to be followed by LineTerminator. A non-nil Result
// means the negotiation is over: send the returned lines, then switch both
// directions to frames of Result.Freezer, handing any bytes already
// buffered after this line to the frame reader. A non-nil error means the
// negotiation failed; close the connection.
func (s *ServerNegotiator) Feed(line string) (send []string, res *Result, err error) {
	line, err = s.precheck(line)
	if err != nil {
		return nil, nil, err
	}
	switch s.phase {
	case srvSetup:
		switch {
		case isHelloIKCn(line):
			s.send("NOT")
		case line == "HELLO":
			s.hello()
		case len(line) > 6 && strings.HasPrefix(line, "SETUP "):
			res, err = s.setup(line)
		default:
			// Perl's server ignores anything else here, "SETUP " included.
			s.warn("Client sent %q during phase 010", line)
		}
	case srvHello:
		switch {
		case isHelloIKCn(line), strings.HasPrefix(line, "SETUP "):
			s.send("NOT")
		case line == "HELLO":
			s.hello()
		default:
			s.warn("Client sent %q during phase 000", line)
		}
	case srvIAM:
		switch line {
		case "OK":
			if s.announceNext() {
				s.phase = srvNames
			}
		case "NOT":
		default:
			s.warn("Received %q during phase 001", line)
			s.send("NOT")
		}
	case srvNames:
		if line == "DONE" {
			s.phase = srvFreezer
		} else if name, ok := parseIAM(line); ok {
			s.remote = append(s.remote, name)
			s.send("OK")
		} else if line != "NOT" {
			s.warn("Client sent %q during phase 002", line)
			s.send("NOT")
		}
	case srvFreezer:
		switch {
		case line == "WORLD":
			if len(s.remote) == 0 {
				return nil, nil, s.fail(fmt.Errorf("%w (WORLD before any IAM)", ErrNoRemoteName))
			}
			s.send("UP")
			res, err = s.result(false)
		case strings.HasPrefix(line, "FREEZER") && len(line) > 7 && isSpace(line[7]):
			s.freezerLine(strings.TrimLeft(line[7:], " \t\f\v"))
		case line == "NOT":
		default:
			s.warn("Client sent %q during phase 003", line)
			s.send("NOT")
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return s.flush(), res, nil
}

// hello starts the IKC dialect: IAM <kernel ID>.
func (s *ServerNegotiator) hello() {
	s.send("IAM " + s.announceList())
	s.phase = srvIAM
}

// freezerLine answers FREEZER <pkg> in phase 003.
func (s *ServerNegotiator) freezerLine(pkg string) {
	if !validPackage(pkg) {
		s.warn("Client sent invalid package %q as a serializer, refused", pkg)
		s.send("NOT")
		return
	}
	f, err := s.accept(pkg)
	if err != nil {
		s.warn("Client wanted %s, but we can't: %v", pkg, err)
		s.send("NOT")
		return
	}
	s.fz, s.fzName = f, pkg
	s.send("OK")
}

// accept builds pkg if the configuration allows it.
func (s *ServerNegotiator) accept(pkg string) (freezer.Freezer, error) {
	if pkg == freezer.NamePerlFreezer {
		return nil, freezer.ErrEvalFreezer
	}
	for _, a := range s.cfg.Freezers {
		if a == pkg {
			return s.build(pkg)
		}
	}
	return nil, fmt.Errorf("%w: %q is not accepted here", freezer.ErrUnknownFreezer, pkg)
}

// setup answers an IKC0 SETUP line.
func (s *ServerNegotiator) setup(line string) (*Result, error) {
	sp, err := ParseSetup(line)
	if err != nil {
		s.warn("%v", err)
		s.send("NOT")
		return nil, nil
	}
	var chosen string
	for _, name := range sp.Freezers {
		f, err := s.accept(name)
		if err != nil {
			s.warn("Client wanted %s, but we can't: %v", name, err)
			continue
		}
		s.fz, s.fzName, chosen = f, name, name
		break
	}
	if chosen == "" {
		s.warn("None of the freezers the client wants are OK: %s", strings.Join(sp.Freezers, ", "))
		s.send("NOT")
		return nil, nil
	}
	s.remote, s.pid = sp.Kernels, sp.PID
	s.send(s.setupLine([]string{chosen}))
	return s.result(true)
}

// ClientNegotiator runs the connecting side (spec 4.5 and 5.3). Start
// returns the first line (SETUP for Dialect IKC0, HELLO for IKC); then
// Feed every received line. In IKC0 a NOT answer makes it fall back to
// the IKC dialect on the same connection (captures/b2). Freezers are
// offered in Config order; a refused one is followed by the next, and when
// all are refused the client sends WORLD anyway and both sides use
// Storable (captures/b7).
//
// A ClientNegotiator is not safe for concurrent use.
type ClientNegotiator struct {
	negotiator
	offer    []string  // IKC: freezers not yet proposed
	silentAt time.Time // IKC0: fall back to HELLO if nothing came by then
	setup    string    // IKC0: the SETUP line sent
	heard    bool      // the server has sent a line
}

// NewClientNegotiator checks the configuration (at least one freezer in
// Config.Freezers must be buildable by Lookup) and returns a client ready
// to Start.
func NewClientNegotiator(cfg Config) (*ClientNegotiator, error) {
	n, err := newNegotiator(cfg)
	if err != nil {
		return nil, err
	}
	c := &ClientNegotiator{negotiator: n}
	var usable []string
	for _, name := range c.cfg.Freezers {
		if _, err := c.build(name); err == nil {
			usable = append(usable, name)
		}
	}
	if len(usable) == 0 {
		return nil, fmt.Errorf("%w: none of %v can be built", ErrNoFreezer, c.cfg.Freezers)
	}
	c.cfg.Freezers = usable
	return c, nil
}

// Start arms the deadline and returns the first line to send.
func (c *ClientNegotiator) Start(now time.Time) []string {
	if c.started {
		return nil
	}
	c.start(now)
	if c.cfg.Dialect == IKC0 {
		c.phase = cliSetup
		c.setup = c.setupLine(c.cfg.Freezers)
		c.send(c.setup)
		if c.cfg.SetupSilence > 0 {
			c.silentAt = now.Add(c.cfg.SetupSilence)
		}
	} else {
		c.hello()
	}
	return c.flush()
}

// Deadline returns the next time Expire must be called: the SETUP
// silence fall-back (Config.SetupSilence) or the negotiation deadline.
func (c *ClientNegotiator) Deadline() time.Time {
	if !c.silentAt.IsZero() && (c.deadline.IsZero() || c.silentAt.Before(c.deadline)) {
		return c.silentAt
	}
	return c.deadline
}

// Expire is negotiator.Expire plus the SETUP silence fall-back: past
// Config.SetupSilence with no answer to SETUP, it queues HELLO (get it
// with Pending) and returns nil.
func (c *ClientNegotiator) Expire(now time.Time) error {
	if c.phase == cliSetup && !c.silentAt.IsZero() && !now.Before(c.silentAt) {
		c.silentAt = time.Time{}
		c.warn("no answer to SETUP after %v: falling back to HELLO", c.cfg.SetupSilence)
		c.hello()
		return nil
	}
	return c.negotiator.Expire(now)
}

// Pending returns the lines queued by Expire (the HELLO of the SETUP
// silence fall-back).
func (n *negotiator) Pending() []string { return n.flush() }

func (c *ClientNegotiator) hello() {
	c.phase = cliNames
	c.send("HELLO")
}

// Feed processes one received line; see ServerNegotiator.Feed.
func (c *ClientNegotiator) Feed(line string) (send []string, res *Result, err error) {
	if !c.started && c.phase != phaseFailed {
		return nil, nil, c.fail(errors.New("ikc: ClientNegotiator.Feed before Start"))
	}
	line, err = c.precheck(line)
	if err != nil {
		return nil, nil, err
	}
	c.silentAt = time.Time{} // the server spoke
	if !c.heard {
		c.heard = true
		if !c.firstAnswer(line) {
			return nil, nil, c.fail(&NotIKCError{Answer: line})
		}
	}
	switch c.phase {
	case cliSetup:
		switch {
		case line == "NOT":
			// The server does not speak IKC0: fall back to HELLO.
			c.hello()
		case strings.HasPrefix(line, "SETUP "):
			res, err = c.setupReply(line)
		default:
			c.warn("Server sent %q during negotiation phase 010", line)
			c.send("NOT")
		}
	case cliNames:
		if line == "DONE" {
			c.send("IAM " + c.announceList())
			c.phase = cliIAM
		} else if name, ok := parseIAM(line); ok {
			c.remote = append(c.remote, name)
			c.send("OK")
		} else if line != "NOT" {
			c.warn("Server sent %q during negotiation phase 000", line)
			c.send("NOT")
		}
	case cliIAM:
		switch line {
		case "OK":
			if c.announceNext() {
				c.offer = append([]string(nil), c.cfg.Freezers...)
				c.nextFreezer()
			}
		case "NOT":
		default:
			c.warn("Received %q during phase 001", line)
			c.send("NOT")
		}
	case cliFreezer:
		switch line {
		case "OK":
			c.world()
		case "NOT":
			c.warn("Server refused freezer %s", c.fzName)
			c.fz, c.fzName = nil, ""
			c.nextFreezer()
		default:
			c.warn("Server sent %q during negotiation phase 002", line)
			c.send("NOT")
		}
	case cliWorld:
		switch line {
		case "UP":
			res, err = c.result(false)
		case "NOT":
		default:
			c.warn("Server sent %q during phase 003", line)
			c.send("NOT")
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return c.flush(), res, nil
}

// firstAnswer reports whether line can be an IKC server's first answer:
// to SETUP, a SETUP of its own (not ours echoed back) or NOT; to HELLO, an
// IAM (or NOT, DONE, or a late SETUP after the silence fall-back). Later
// oddities get Perl's treatment (a warning and NOT); a first one means the
// peer speaks another protocol, and waiting for it would only time out.
func (c *ClientNegotiator) firstAnswer(line string) bool {
	switch {
	case line == "NOT":
		return true
	case strings.HasPrefix(line, "SETUP "):
		return line != c.setup
	case c.phase == cliNames:
		_, iam := parseIAM(line)
		return iam || line == "DONE"
	}
	return false
}

// nextFreezer proposes the next freezer, or sends WORLD when none is left.
func (c *ClientNegotiator) nextFreezer() {
	for len(c.offer) > 0 {
		name := c.offer[0]
		c.offer = c.offer[1:]
		f, err := c.build(name)
		if err != nil {
			continue
		}
		c.fz, c.fzName = f, name
		c.send("FREEZER " + name)
		c.phase = cliFreezer
		return
	}
	c.world()
}

func (c *ClientNegotiator) world() {
	c.send("WORLD")
	c.phase = cliWorld
}

// setupReply reads the server's SETUP reply.
func (c *ClientNegotiator) setupReply(line string) (*Result, error) {
	sp, err := ParseSetup(line)
	if err == nil && len(sp.Freezers) != 1 {
		err = fmt.Errorf("%w: %d freezers in %q, want exactly one", ErrBadSetup, len(sp.Freezers), line)
	}
	if err != nil {
		if !errors.Is(err, ErrBadSetup) {
			err = Wrap(ErrBadSetup, err)
		}
		return nil, c.fail(err)
	}
	f, err := c.build(sp.Freezers[0])
	if err != nil {
		return nil, c.fail(fmt.Errorf("%w: the server chose %s: %w", ErrFreezer, sp.Freezers[0], err))
	}
	c.fz, c.fzName = f, sp.Freezers[0]
	c.remote, c.pid = sp.Kernels, sp.PID
	return c.result(true)
}

// Setup is a parsed IKC0 SETUP line (spec 5.1).
type Setup struct {
	Kernels  []string // KERNEL= list; the first is the sender's ID
	Freezers []string // FREEZER= list in order of preference
	PID      int      // PID=, 0 when absent
}

// ErrSetupSyntax reports a SETUP line that Perl's parser calls bad.
var ErrSetupSyntax = errors.New("ikc: bad SETUP line")

// ParseSetup parses "SETUP KERNEL=a,b;FREEZER=x,y;PID=123" with Perl's
// rules, except that field names must match whole (Perl matches them as
// substrings; spec 16 #11): fields in any order, a field other than
// KERNEL=, FREEZER= and PID=<digits> makes the line bad, as does a
// missing or empty KERNEL list. Empty list items are dropped (Perl's
// split drops trailing ones). Errors wrap ErrSetupSyntax.
func ParseSetup(line string) (Setup, error) {
	var sp Setup
	rest, ok := strings.CutPrefix(line, "SETUP ")
	if !ok || rest == "" {
		return sp, fmt.Errorf("%w: %q", ErrSetupSyntax, line)
	}
	fields := strings.Split(rest, ";")
	for len(fields) > 0 && fields[len(fields)-1] == "" {
		fields = fields[:len(fields)-1] // Perl's split drops trailing empty fields
	}
	for _, field := range fields {
		key, val, _ := strings.Cut(field, "=")
		switch {
		case key == "KERNEL" && val != "":
			sp.Kernels = splitList(val)
			for _, k := range sp.Kernels {
				if !ValidName(k) {
					return Setup{}, fmt.Errorf("%w: kernel name %q in %q", ErrSetupSyntax, k, line)
				}
			}
		case key == "FREEZER" && val != "":
			sp.Freezers = splitList(val)
		case key == "PID" && val != "" && allDigits(val):
			pid, err := strconv.Atoi(val)
			if err != nil {
				return Setup{}, fmt.Errorf("%w: PID %q in %q", ErrSetupSyntax, val, line)
			}
			sp.PID = pid
		default:
			return Setup{}, fmt.Errorf("%w: unknown field %q in %q", ErrSetupSyntax, field, line)
		}
	}
	if len(sp.Kernels) == 0 {
		return Setup{}, fmt.Errorf("%w: no KERNEL in %q", ErrSetupSyntax, line)
	}
	return sp, nil
}

// String formats the line (without terminator).
func (sp Setup) String() string {
	s := "SETUP KERNEL=" + strings.Join(sp.Kernels, ",") + ";FREEZER=" + strings.Join(sp.Freezers, ",")
	if sp.PID > 0 {
		s += ";PID=" + strconv.Itoa(sp.PID)
	}
	return s
}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item != "" {
			out = append(out, item)
		}
	}
	return out
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isHelloIKCn matches /^HELLO IKC\d$/.
func isHelloIKCn(line string) bool {
	return len(line) == 10 && strings.HasPrefix(line, "HELLO IKC") && line[9] >= '0' && line[9] <= '9'
}

// parseIAM matches /^IAM\s+([-:.\w]+)$/.
func parseIAM(line string) (string, bool) {
	if len(line) < 5 || !strings.HasPrefix(line, "IAM") || !isSpace(line[3]) {
		return "", false
	}
	name := strings.TrimLeft(line[3:], " \t\n\r\f\v")
	return name, ValidName(name)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// ValidName reports whether s can be announced as a kernel name: it
// matches [-:.\w]+ (ASCII: negotiation lines are bytes).
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isWordByte(c) || c == '-' || c == ':' || c == '.') {
			return false
		}
	}
	return true
}

// validPackage matches [-:\w]+, the FREEZER package syntax.
func validPackage(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isWordByte(c) || c == '-' || c == ':') {
			return false
		}
	}
	return true
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// TCPName is the socket name a TCP end announces (spec 4.3):
// "<IPv4>:<port>" of this end of the connection.
func TCPName(ip string, port int) string { return ip + ":" + strconv.Itoa(port) }

// UnixName is the name a Unix-socket server announces: "unix:" and the
// path with every run of characters outside [-:.A-Za-z0-9_] replaced by
// one "_" ("sock/ikc server.sock" -> "unix:sock_ikc_server.sock").
func UnixName(path string) string {
	var b strings.Builder
	b.WriteString("unix:")
	run := false
	for i := 0; i < len(path); i++ {
		c := path[i]
		if isWordByte(c) || c == '-' || c == ':' || c == '.' {
			b.WriteByte(c)
			run = false
		} else if !run {
			b.WriteByte('_')
			run = true
		}
	}
	return b.String()
}

// UnixClientName is the name a Unix-socket client announces:
// UnixName(path) followed by ":<pid>-<fd>" ("unix:relay.sock:11394-3").
func UnixClientName(path string, pid, fd int) string {
	return UnixName(path) + ":" + strconv.Itoa(pid) + "-" + strconv.Itoa(fd)
}
