package clientlite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// ClientLite errors; test with errors.Is.
var (
	// ErrNoResponse: no answer came before the deadline (the context's or
	// Options.Timeout). The error also matches the context's error
	// when the context ended first.
	ErrNoResponse = errors.New("ikc: timed out waiting for a response")
	// ErrConnClosed: the connection ended (the server closed it, it
	// broke, or Disconnect closed it) while a request waited for its
	// answer. Every request waiting on that connection gets it at once;
	// the error names the cause.
	ErrConnClosed = errors.New("ikc: connection closed")
	// ErrHandshake: the server refused the handshake (unexpected line,
	// refused serializer) or sent something unusable
	// (protocol.ErrHandshake).
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
// (ikc-protocol.md §10.1). A 0.2402 peer sends [text, kernel, phase]; a 0.1904 peer
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

// Causes of a connection's end that are not I/O errors.
var (
	errDisconnected = errors.New("Disconnect called")
	errPingFailed   = errors.New("ping failed in Connect")
)

// connErr is the error of a call waiting for key on a connection that
// ended because of cause.
func connErr(key string, cause error) error {
	what := "waiting for " + key
	switch {
	case errors.Is(cause, ErrBadFrame):
		return fmt.Errorf("%w (%s)", cause, what)
	case errors.Is(cause, io.EOF), errors.Is(cause, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w by the server (%s)", ErrConnClosed, what)
	}
	return fmt.Errorf("%w (%s): %w", ErrConnClosed, what, cause)
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
	if errors.Is(err, ErrConnClosed) {
		return err
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
