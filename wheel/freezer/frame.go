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

// AppendFrame appends the frame for payload to dst: the decimal length, a
// NUL byte and the payload.
func AppendFrame(dst, payload []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(payload)), 10)
	dst = append(dst, 0)
	return append(dst, payload...)
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
	n, hdr, err := parseHeader(b, f.max())
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

// parseHeader reads "<digits>\0" at the start of b. hdr is 0 if the header
// is not complete yet.
func parseHeader(b []byte, max int) (n, hdr int, err error) {
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if i >= maxHeaderDigits {
				return 0, 0, fmt.Errorf("%w: more than %d digits", ErrBadHeader, maxHeaderDigits)
			}
			n = n*10 + int(c-'0')
			if n > max {
				return 0, 0, fmt.Errorf("%w: %d+ bytes announced, limit %d", ErrFrameTooLarge, n, max)
			}
		case c == 0 && i > 0:
			return n, i + 1, nil
		default:
			return 0, 0, fmt.Errorf("%w: byte 0x%02x at header position %d", ErrBadHeader, c, i)
		}
	}
	return n, 0, nil
}

// Reader reads frames from an io.Reader, pull style. Pass the same
// *bufio.Reader that read the negotiation lines so that frame bytes it
// already buffered are not lost.
type Reader struct {
	r   *bufio.Reader
	max int
	buf []byte
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
// io.ErrUnexpectedEOF.
func (r *Reader) ReadFrame() ([]byte, error) {
	n, digits := 0, 0
	for {
		c, err := r.r.ReadByte()
		if err != nil {
			if err == io.EOF && digits > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		switch {
		case c >= '0' && c <= '9':
			digits++
			if digits > maxHeaderDigits {
				return nil, fmt.Errorf("%w: more than %d digits", ErrBadHeader, maxHeaderDigits)
			}
			n = n*10 + int(c-'0')
			if n > r.max {
				return nil, fmt.Errorf("%w: %d+ bytes announced, limit %d", ErrFrameTooLarge, n, r.max)
			}
			continue
		case c == 0 && digits > 0:
		default:
			return nil, fmt.Errorf("%w: byte 0x%02x at header position %d", ErrBadHeader, c, digits)
		}
		break
	}
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	r.buf = r.buf[:n]
	if _, err := io.ReadFull(r.r, r.buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return r.buf, nil
}
