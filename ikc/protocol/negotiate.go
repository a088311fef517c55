package protocol

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/poe-go/poe/wheel/freezer"
)

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

// AllFreezers returns the names of every freezer this implementation
// has except the eval one: Storable, YAML and FreezeThaw, in that order of
// preference. It is what a Go Server accepts by default, as Perl's server
// accepts any freezer it can load (ikc-protocol.md §5.5).
func AllFreezers() []string {
	return []string{freezer.NameStorable, freezer.NameYAML, freezer.NameFreezeThaw}
}

// Config describes this side of a negotiation.
type Config struct {
	// KernelID is the POE kernel ID, announced first (IAM <ID> / the first
	// KERNEL entry); the peer registers this side under it. Leave it empty
	// to announce only Names, as ClientLite does (then Names[0] comes
	// first).
	KernelID string
	// Names is the channel's name list of ikc-protocol.md §4.3 in forward order: the
	// kernel name (if any), its aliases, then the socket name of this end
	// (see TCPName, UnixName, UnixClientName). The IKC dialect announces
	// it from the last entry to the first, IKC0 in this order. Every name
	// must match [-:.A-Za-z0-9_]+.
	Names []string
	// Freezers: for a client, the serializers to offer, in order (nil:
	// Storable only); for a server, the ones it accepts (nil: Storable
	// only, the policy of ikc-protocol.md §5.5). POE::Component::IKC::Freezer is
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
	// never answers (testdata/ikc/captures/s3); Perl's client waits forever. 0: wait
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
	// (ikc-protocol.md §10.10) when registering.
	RemoteID      string
	RemoteAliases []string
	// RemotePID is the PID from the peer's SETUP line (IKC0), 0 if none.
	RemotePID int
	// Freezer serializes frames from now on, both directions.
	Freezer freezer.Freezer
	// FreezerName is its negotiation name.
	FreezerName string
	// FreezerDefaulted: no FREEZER was agreed (IKC dialect) and both
	// sides silently use Storable (ikc-protocol.md §4.5, testdata/ikc/captures/b7).
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
	res      *Result // once done
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
	// leaves the "\r" of "\r\n" (ikc-protocol.md §3 accepts \r\n, \n\r, \r and \n).
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
	n.res = r
	return r, nil
}

// Result returns what the negotiation agreed, nil until it is done.
func (n *negotiator) Result() *Result { return n.res }

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

// Pending returns the lines queued by Expire (the HELLO of the SETUP
// silence fall-back).
func (n *negotiator) Pending() []string { return n.flush() }
