package freezer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// DefaultMaxFrame is the default limit on a frame's payload: 16 MiB.
//
// Perl's POE::Filter::Reference only stops at a 512 MiB buffer (and a Perl
// sender refuses messages above 100 MiB in memory). A peer may announce any
// length and make the reader buffer it, so a Go reader needs a limit of its
// own; IKC messages are a few hundred bytes, and 16 MiB leaves room for
// large arguments while bounding the memory one connection can pin. Raise
// it with Framer.MaxFrame / NewReader when an application really sends
// bigger data.
const DefaultMaxFrame = 16 << 20

// maxHeaderDigits bounds the decimal length. Perl accepts leading zeros, so
// a few more digits than a 32-bit length needs are allowed.
const maxHeaderDigits = 20

// Framing errors; a reader that returns one of them cannot resynchronise,
// the connection should be closed.
var (
	// ErrFrameTooLarge: the announced payload length exceeds the limit.
	ErrFrameTooLarge = errors.New("freezer: frame larger than the limit")
	// ErrBadHeader: the bytes at a frame boundary are not <digits> NUL.
	// (Perl would silently buffer forever; we fail early instead.)
	ErrBadHeader = errors.New("freezer: malformed frame header")
)

// FrameRoom is the room BeginFrame leaves for a frame header: the most
// octets a header takes (maxHeaderDigits digits and the NUL).
const FrameRoom = maxHeaderDigits + 1

// AppendFrame appends the frame for payload to dst: the decimal length, a
// NUL byte and the payload.
func AppendFrame(dst, payload []byte) []byte {
	return append(appendHeader(dst, len(payload)), payload...)
}

// BeginFrame starts a frame whose payload the caller encodes in place: it
// appends FrameRoom octets of room for the header to dst. Append the
// payload after them, then call EndFrame with len(dst) as start.
func BeginFrame(dst []byte) []byte {
	var room [FrameRoom]byte
	return append(dst, room[:]...)
}

// EndFrame finishes the frame begun at buf[start] by BeginFrame, whose
// payload is the rest of buf: it writes the header at the end of the room,
// just before the payload, and returns the frame (a suffix of buf; the
// payload is not moved).
func EndFrame(buf []byte, start int) []byte {
	var h [FrameRoom]byte
	hdr := appendHeader(h[:0], len(buf)-start-FrameRoom)
	at := start + FrameRoom - len(hdr)
	copy(buf[at:], hdr)
	return buf[at:]
}

// appendHeader appends the header of an n-octet payload: the only place
// a header is made.
func appendHeader(dst []byte, n int) []byte {
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, 0)
}

// WriteFrame writes one frame to w in a single Write call.
func WriteFrame(w io.Writer, payload []byte) error {
	_, err := w.Write(AppendFrame(make([]byte, 0, len(payload)+12), payload))
	return err
}

// Framer splits a byte stream into frame payloads, push style: Feed it the
// bytes as they arrive (any segmentation: partial headers, partial
// payloads, many frames at once) and call Next until it reports no complete
// frame. After negotiation, give it whatever the line reader had buffered
// beyond the last negotiation line.
//
// The zero value uses DefaultMaxFrame.
type Framer struct {
	// MaxFrame limits the payload length (0 means DefaultMaxFrame).
	MaxFrame int

	buf []byte
	off int
	err error
}

// Feed appends data to the stream. The framer keeps its own copy.
func (f *Framer) Feed(data []byte) {
	if f.off > 0 && f.off == len(f.buf) {
		f.buf, f.off = f.buf[:0], 0
	}
	if f.off > 4096 && f.off > len(f.buf)/2 {
		n := copy(f.buf, f.buf[f.off:])
		f.buf, f.off = f.buf[:n], 0
	}
	f.buf = append(f.buf, data...)
}

// Buffered returns the number of bytes fed but not yet returned.
func (f *Framer) Buffered() int { return len(f.buf) - f.off }

// Next returns the next complete payload. ok is false when more data is
// needed. The payload is valid until the next Feed. Once an error is
// returned, every later call returns it too.
func (f *Framer) Next() (payload []byte, ok bool, err error) {
	if f.err != nil {
		return nil, false, f.err
	}
	b := f.buf[f.off:]
	n, hdr, err := parseHeader(b, f.max(), false)
	if err != nil {
		f.err = err
		return nil, false, err
	}
	if hdr == 0 || len(b) < hdr+n {
		return nil, false, nil
	}
	f.off += hdr + n
	return b[hdr : hdr+n : hdr+n], true, nil
}

func (f *Framer) max() int {
	if f.MaxFrame > 0 {
		return f.MaxFrame
	}
	return DefaultMaxFrame
}

// ParseFrameHeader reads the header "<digits> NUL" at the front of b: the
// payload length n and the header's length hdr, 0 while b ends inside the
// header. A header that is not digits then NUL, has more than 20 digits
// (Perl accepts leading zeros), or announces more than max payload octets
// is an error, a *HeaderError.
func ParseFrameHeader(b []byte, max int) (n, hdr int, err error) {
	return parseHeader(b, max, false)
}

// ParseFrameHeaderFit is ParseFrameHeader for a reader that holds a whole
// frame in a buffer of max octets: the frame, header included, must fit.
func ParseFrameHeaderFit(b []byte, max int) (n, hdr int, err error) {
	return parseHeader(b, max, true)
}

// parseHeader is the one frame header parser; with whole, max bounds the
// frame (the header seen so far, its NUL and the payload) instead of the
// payload.
func parseHeader(b []byte, max int, whole bool) (n, hdr int, err error) {
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if i >= maxHeaderDigits {
				return 0, 0, &HeaderError{Err: ErrBadHeader, Pos: i, Byte: c, Digits: true}
			}
			n = n*10 + int(c-'0')
			if over := n > max || whole && n+i+2 > max; over {
				return 0, 0, &HeaderError{Err: ErrFrameTooLarge, Length: n, Limit: max}
			}
		case c == 0 && i > 0:
			return n, i + 1, nil
		default:
			return 0, 0, &HeaderError{Err: ErrBadHeader, Pos: i, Byte: c}
		}
	}
	return n, 0, nil
}

// HeaderError is a frame header a reader refuses. errors.Is matches Err:
// ErrBadHeader or ErrFrameTooLarge.
type HeaderError struct {
	Err error
	// ErrBadHeader: the position in the header and the value of the
	// offending byte; Digits when it is a digit past the 20th.
	Pos    int
	Byte   byte
	Digits bool
	// ErrFrameTooLarge: the length announced so far and the limit.
	Length, Limit int
}

func (e *HeaderError) Error() string {
	if e.Err == ErrFrameTooLarge {
		return fmt.Sprintf("%v: %d+ bytes announced, limit %d", e.Err, e.Length, e.Limit)
	}
	return e.Err.Error() + ": " + e.Detail()
}

// Detail says what is wrong with a malformed header (ErrBadHeader).
func (e *HeaderError) Detail() string {
	if e.Digits {
		return fmt.Sprintf("more than %d digits", maxHeaderDigits)
	}
	return fmt.Sprintf("byte 0x%02x at header position %d", e.Byte, e.Pos)
}

// Unwrap returns Err.
func (e *HeaderError) Unwrap() error { return e.Err }

// Reader reads frames from an io.Reader, pull style. Pass the same
// *bufio.Reader that read the negotiation lines so that frame bytes it
// already buffered are not lost.
//
// A read that fails with a temporary error (a deadline's timeout) loses
// nothing: the next ReadFrame goes on with the frame where it stopped, so
// a deadline may interrupt a blocked read and another goroutine resume it.
type Reader struct {
	r   *bufio.Reader
	max int
	buf []byte
	got int  // payload octets of the current frame read so far
	in  bool // the header is read, the payload (len(buf)) is not complete
}

// NewReader returns a Reader on r with the given payload limit (0 means
// DefaultMaxFrame). If r is a *bufio.Reader it is used directly.
func NewReader(r io.Reader, maxFrame int) *Reader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	return &Reader{r: br, max: maxFrame}
}

// ReadFrame returns the next payload. It is valid until the next call. At a
// clean end of stream between frames it returns io.EOF; inside a frame,
// io.ErrUnexpectedEOF. After any other error the next call resumes the
// frame where this one stopped.
func (r *Reader) ReadFrame() ([]byte, error) {
	if !r.in {
		if err := r.header(); err != nil {
			return nil, err
		}
	}
	for r.got < len(r.buf) {
		n, err := r.r.Read(r.buf[r.got:])
		r.got += n
		if err != nil && r.got < len(r.buf) {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	r.in, r.got = false, 0
	return r.buf, nil
}

// header reads the next frame header and sizes buf for its payload.
func (r *Reader) header() error {
	// The header is parsed where bufio buffers it, peeking one more octet
	// at a time while it is incomplete.
	want := min(max(r.r.Buffered(), 1), FrameRoom)
	var n int
	for {
		b, err := r.r.Peek(want)
		var hdr int
		var perr error
		n, hdr, perr = parseHeader(b, r.max, false)
		if perr != nil {
			return perr
		}
		if hdr > 0 {
			r.r.Discard(hdr)
			break
		}
		if err == bufio.ErrBufferFull {
			// Only a reader buffer under FrameRoom octets gets here.
			return fmt.Errorf("%w: header longer than the reader's buffer", ErrBadHeader)
		}
		if err != nil {
			// Peek consumed nothing: a later call parses the header again.
			if err == io.EOF && len(b) > 0 {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		want = len(b) + 1
	}
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	r.buf, r.got, r.in = r.buf[:n], 0, true
	return nil
}
