package freezer

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestFrameInPlace: a frame begun with BeginFrame and finished with
// EndFrame is the one AppendFrame makes, for header lengths 2 to 8.
func TestFrameInPlace(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 99, 100, 12345, 1 << 20} {
		payload := bytes.Repeat([]byte{'p'}, n)
		prefix := []byte("before")
		buf := BeginFrame(append([]byte(nil), prefix...))
		buf = append(buf, payload...)
		got := EndFrame(buf, len(prefix))
		if want := AppendFrame(nil, payload); !bytes.Equal(got, want) {
			t.Errorf("%d octets: EndFrame gives %q..., AppendFrame %q...", n, got[:min(len(got), 12)], want[:min(len(want), 12)])
		}
		if !bytes.Equal(buf[:len(prefix)], prefix) {
			t.Errorf("%d octets: EndFrame overwrote what precedes the frame", n)
		}
	}
}

// TestParseFrameHeader: the payload limit and the whole-frame limit, and
// the error texts of each kind of bad header.
func TestParseFrameHeader(t *testing.T) {
	cases := []struct {
		in       string
		max      int
		fit      bool
		n, hdr   int
		want     error
		wantText string
	}{
		{"12\x00", 12, false, 12, 3, nil, ""},
		{"12", 12, false, 12, 0, nil, ""},
		{"13\x00", 12, false, 0, 0, ErrFrameTooLarge, "freezer: frame larger than the limit: 13+ bytes announced, limit 12"},
		{"9\x00", 11, true, 9, 2, nil, ""},
		{"9\x00", 10, true, 0, 0, ErrFrameTooLarge, "freezer: frame larger than the limit: 9+ bytes announced, limit 10"},
		// The whole-frame limit fails as soon as a digit cannot fit,
		// before a later bad byte.
		{"9x", 10, true, 0, 0, ErrFrameTooLarge, ""},
		{"9x", 10, false, 0, 0, ErrBadHeader, "freezer: malformed frame header: byte 0x78 at header position 1"},
		{"000000000000000000001\x00", 100, false, 0, 0, ErrBadHeader, "freezer: malformed frame header: more than 20 digits"},
		{"\x00", 100, false, 0, 0, ErrBadHeader, "freezer: malformed frame header: byte 0x00 at header position 0"},
	}
	for _, c := range cases {
		parse := ParseFrameHeader
		if c.fit {
			parse = ParseFrameHeaderFit
		}
		n, hdr, err := parse([]byte(c.in), c.max)
		if c.want == nil {
			if err != nil || n != c.n || hdr != c.hdr {
				t.Errorf("%q max %d fit %v: %d, %d, %v; want %d, %d", c.in, c.max, c.fit, n, hdr, err, c.n, c.hdr)
			}
			continue
		}
		var he *HeaderError
		if !errors.Is(err, c.want) || !errors.As(err, &he) {
			t.Errorf("%q max %d fit %v: %v, want a HeaderError %v", c.in, c.max, c.fit, err, c.want)
			continue
		}
		if c.wantText != "" && err.Error() != c.wantText {
			t.Errorf("%q: text %q, want %q", c.in, err.Error(), c.wantText)
		}
	}
}

// TestReaderSmallBuffer: a bufio.Reader smaller than the longest header
// still reads frames, and refuses a header it cannot hold.
func TestReaderSmallBuffer(t *testing.T) {
	stream := AppendFrame(AppendFrame(nil, []byte("first")), []byte("second"))
	r := NewReader(bufio.NewReaderSize(bytes.NewReader(stream), 16), 0)
	for _, want := range []string{"first", "second"} {
		if p, err := r.ReadFrame(); err != nil || string(p) != want {
			t.Fatalf("ReadFrame = %q, %v; want %q", p, err, want)
		}
	}
	r = NewReader(bufio.NewReaderSize(strings.NewReader(strings.Repeat("0", 18)+"1\x00x"), 16), 0)
	if _, err := r.ReadFrame(); !errors.Is(err, ErrBadHeader) {
		t.Errorf("a header over the buffer: %v, want ErrBadHeader", err)
	}
}

// stutter hands out its chunks one Read at a time, failing with
// errStutter (a timeout) before each one.
type stutter struct {
	chunks []string
	fail   bool
}

var errStutter = errors.New("i/o timeout")

func (s *stutter) Read(p []byte) (int, error) {
	if len(s.chunks) == 0 {
		return 0, io.EOF
	}
	if s.fail = !s.fail; s.fail {
		return 0, errStutter
	}
	n := copy(p, s.chunks[0])
	if s.chunks[0] = s.chunks[0][n:]; s.chunks[0] == "" {
		s.chunks = s.chunks[1:]
	}
	return n, nil
}

// TestReaderResumes: a read interrupted by an error (a deadline) inside a
// header or a payload loses nothing; the next ReadFrame goes on.
func TestReaderResumes(t *testing.T) {
	src := &stutter{chunks: []string{"1", "1\x00hel", "lo w", "orld", "3\x00a", "bc"}}
	r := NewReader(bufio.NewReaderSize(src, 16), 0)
	var got []string
	fails := 0
	for len(got) < 2 {
		p, err := r.ReadFrame()
		if errors.Is(err, errStutter) {
			fails++
			continue
		}
		if err != nil {
			t.Fatalf("ReadFrame: %v after %q", err, got)
		}
		got = append(got, string(p))
	}
	if got[0] != "hello world" || got[1] != "abc" || fails < 5 {
		t.Errorf("frames %q after %d interruptions, want hello world, abc", got, fails)
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
}
