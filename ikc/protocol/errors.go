package protocol

import (
	"errors"
	"fmt"
	"strings"
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
	// server, already reading frames, takes for frame bytes; ikc-protocol.md §16 #10.)
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
