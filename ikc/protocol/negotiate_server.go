package protocol

import (
	"fmt"
	"strings"
	"time"

	"github.com/poe-go/poe/wheel/freezer"
)

// ServerNegotiator runs the accepting side of a negotiation (ikc-protocol.md §4.4 and
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
