package protocol

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ClientNegotiator runs the connecting side (ikc-protocol.md §4.5 and 5.3). Start
// returns the first line (SETUP for Dialect IKC0, HELLO for IKC); then
// Feed every received line. In IKC0 a NOT answer makes it fall back to
// the IKC dialect on the same connection (testdata/ikc/captures/b2). Freezers are
// offered in Config order; a refused one is followed by the next, and when
// all are refused the client sends WORLD anyway and both sides use
// Storable (testdata/ikc/captures/b7).
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
