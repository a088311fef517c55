package filter

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"regexp"
)

// Default limits of Line and Block, POE's values (64 MiB per record,
// 512 MiB of buffered input).
const (
	DefaultMaxLength = 64 << 20
	DefaultMaxBuffer = 512 << 20
)

// LineOptions are POE::Filter::Line's parameters. The zero value is POE's
// default: input lines end in CR LF, LF CR, CR or LF, output lines in CR LF.
type LineOptions struct {
	// Literal is one terminator for both directions. It excludes the
	// other terminator options.
	Literal string
	// InputLiteral is the input terminator.
	InputLiteral string
	// InputRegexp is the input terminator as a regular expression (Go
	// RE2 syntax, compiled with the s flag as POE does). It must not
	// match the empty string.
	InputRegexp string
	// Autodetect detects the input terminator from the first line: POE's
	// InputLiteral => undef (Go cannot tell an empty InputLiteral from an
	// absent one, so this is a separate switch).
	Autodetect bool
	// OutputLiteral is the output terminator (default CR LF).
	OutputLiteral string
	// MaxLength bounds one line (default DefaultMaxLength); MaxBuffer
	// bounds the buffered input (default DefaultMaxBuffer). Both must not
	// be negative, and MaxBuffer >= MaxLength.
	MaxLength, MaxBuffer int
	// Bytes makes the records *Bytes views of the input buffer instead of
	// strings, and the chunks of Put *Bytes views of an output buffer.
	// Each is valid until the next call of the same kind (GetOne or
	// GetOneStart for records, Put for chunks). Nothing is allocated per
	// line in steady state. Under a filter that keeps records across
	// calls (RecordBlock in a Stackable), copy them first: every record
	// is the same *Bytes.
	Bytes bool
}

// Line is POE::Filter::Line: records are lines without their terminator
// (string, or *Bytes with LineOptions.Bytes). Unterminated trailing input
// is never returned; it stays pending.
//
// POE's quirk of the default terminator is kept (docs/poe-semantics.md A9, case C91): a CR LF
// split across two reads ends one line at the CR and yields an empty line
// at the LF. Autodetect does not have it.
type Line struct {
	opts   LineOptions
	re     *regexp.Regexp // InputRegexp
	lit    []byte         // literal input terminator (Literal, InputLiteral, detected)
	auto   int            // autodetect state
	outLit string
	maxLen int
	maxBuf int

	in inbuf
	// scanned is how much of the buffered input is known to hold no CR
	// or LF (the default terminator's fast path): a long line arriving in
	// many reads is scanned once, not once per read.
	scanned int
	rec     Bytes
	recs    []any
	strs    stringBox // string records
	// Put in byte mode
	obuf   []byte
	ochunk []Bytes
	chunks []any
}

const (
	autoDone = iota
	autoFirst
	autoSecond
)

// NewLine returns a Line filter, or an error (wrapping ErrParameter) for
// conflicting terminators or bad limits.
func NewLine(o LineOptions) (*Line, error) {
	f := &Line{opts: o}
	switch {
	case o.Literal != "" && (o.InputLiteral != "" || o.InputRegexp != "" || o.OutputLiteral != "" || o.Autodetect):
		return nil, paramError("Line cannot have Literal with any other terminator parameter")
	case o.InputLiteral != "" && o.InputRegexp != "":
		return nil, paramError("Line cannot have both InputLiteral and InputRegexp")
	case o.Autodetect && (o.InputLiteral != "" || o.InputRegexp != ""):
		return nil, paramError("Line cannot have Autodetect with InputLiteral or InputRegexp")
	}
	switch {
	case o.Literal != "":
		f.lit = []byte(o.Literal)
		f.outLit = o.Literal
	case o.InputLiteral != "":
		f.lit = []byte(o.InputLiteral)
	case o.InputRegexp != "":
		re, err := regexp.Compile("(?s)(?:" + o.InputRegexp + ")")
		if err != nil {
			return nil, paramError("InputRegexp: %v", err)
		}
		if re.MatchString("") {
			return nil, paramError("InputRegexp %q matches the empty string", o.InputRegexp)
		}
		f.re = re
	case o.Autodetect:
		f.auto = autoFirst
	}
	if o.Literal == "" {
		f.outLit = o.OutputLiteral
		if f.outLit == "" {
			f.outLit = "\r\n"
		}
	}
	var err error
	if f.maxLen, err = limit("MaxLength", o.MaxLength, DefaultMaxLength); err != nil {
		return nil, err
	}
	if f.maxBuf, err = limit("MaxBuffer", o.MaxBuffer, DefaultMaxBuffer); err != nil {
		return nil, err
	}
	if f.maxBuf < f.maxLen {
		return nil, paramError("MaxBuffer (%d) is not large enough for MaxLength (%d) lines", f.maxBuf, f.maxLen)
	}
	return f, nil
}

// MustLine is NewLine for options known to be valid; it panics on error.
func MustLine(o LineOptions) *Line {
	f, err := NewLine(o)
	if err != nil {
		panic(err)
	}
	return f
}

// GetOneStart appends chunks ([]byte, string or *Bytes) to the input
// buffer. Input beyond MaxBuffer is dropped and reported by the next
// GetOne.
func (f *Line) GetOneStart(chunks []any) { f.in.start(chunks, f.maxBuf) }

// GetOneStartBytes appends p to the input buffer (see BytesStarter).
func (f *Line) GetOneStartBytes(p []byte) { f.in.startBytes(p, f.maxBuf) }

// GetOne returns the next line, or nothing when no complete line is
// buffered. A line longer than MaxLength is consumed and reported as an
// error wrapping ErrLineExceeds.
func (f *Line) GetOne() ([]any, error) {
	if f.in.err != nil {
		return nil, f.in.takeErr()
	}
	if f.auto == autoDone && f.re == nil && f.lit == nil {
		// The default terminator: the echo server's path, one scan and
		// no branches on options per line.
		b := f.in.bytes()
		i, n := defaultTerm(b[f.scanned:])
		if i < 0 {
			f.scanned = len(b)
			f.in.idle()
			return nil, nil
		}
		i += f.scanned
		f.scanned = 0
		if i > f.maxLen {
			return f.getSlow()
		}
		f.in.consume(i + n)
		if !f.opts.Bytes {
			f.recs = append(f.recs[:0], f.strs.box(b[:i]))
			return f.recs, nil
		}
		f.rec.B = b[:i:i]
		if len(f.recs) != 1 || f.recs[0] != &f.rec {
			f.recs = append(f.recs[:0], &f.rec)
		}
		return f.recs, nil
	}
	return f.getSlow()
}

func (f *Line) getSlow() ([]any, error) {
	for {
		b := f.in.bytes()
		switch f.auto {
		case autoFirst:
			i, n := defaultTerm(b)
			if i < 0 {
				f.in.idle()
				return nil, nil
			}
			f.lit = append(f.lit[:0], b[i:i+n]...)
			if n == 2 || i+n < len(b) {
				f.auto = autoDone
			} else {
				f.auto = autoSecond
			}
			return f.emit(b, i, n)
		case autoSecond:
			if len(b) == 0 {
				f.in.idle()
				return nil, nil
			}
			want := byte('\r')
			if f.lit[0] == '\r' {
				want = '\n'
			}
			if b[0] == want {
				f.lit = append(f.lit, want)
				f.in.consume(1)
			}
			f.auto = autoDone
			continue
		}
		var i, n int
		switch {
		case f.re != nil:
			loc := f.re.FindIndex(b)
			if loc == nil {
				f.in.idle()
				return nil, nil
			}
			i, n = loc[0], loc[1]-loc[0]
		case f.lit != nil:
			// Resume where the last search stopped, less what could be
			// the start of a terminator cut by the end of that input.
			from := max(0, f.scanned-len(f.lit)+1)
			if len(f.lit) == 1 {
				i = bytes.IndexByte(b[from:], f.lit[0])
			} else {
				i = bytes.Index(b[from:], f.lit)
			}
			if i >= 0 {
				i += from
			} else {
				f.scanned = len(b)
			}
			n = len(f.lit)
		default:
			i, n = defaultTerm(b)
		}
		if i < 0 {
			f.in.idle()
			return nil, nil
		}
		return f.emit(b, i, n)
	}
}

// emit returns b[:i] as the record and consumes it and its n-byte
// terminator.
func (f *Line) emit(b []byte, i, n int) ([]any, error) {
	f.scanned = 0
	f.in.consume(i + n)
	if i > f.maxLen {
		return nil, fmt.Errorf("%w (%d > %d octets)", ErrLineExceeds, i, f.maxLen)
	}
	if f.opts.Bytes {
		// consume may have reset the buffer's length, never its contents.
		f.rec.B = b[:i:i]
		f.recs = append(f.recs[:0], &f.rec)
	} else {
		f.recs = append(f.recs[:0], f.strs.box(b[:i]))
	}
	return f.recs, nil
}

// defaultTerm finds POE's default terminator, (\r\n?|\n\r?): the index of
// the first CR or LF and the terminator's length (1 or 2), or -1.
func defaultTerm(b []byte) (int, int) {
	i := indexCRLF(b)
	if i < 0 {
		return -1, 0
	}
	if i+1 < len(b) && (b[i+1] == '\r' || b[i+1] == '\n') && b[i+1] != b[i] {
		return i, 2
	}
	return i, 1
}

// indexCRLF is the index of the first CR or LF in b, or -1. It tests
// eight bytes at a time in a word: for short lines that is cheaper than
// two calls of bytes.IndexByte (one for each byte), whose set-up costs
// more than a line's worth of scanning.
func indexCRLF(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		lf, cr := x^('\n'*ones), x^('\r'*ones)
		// A zero byte of lf or cr sets its high bit here; a borrow can
		// only flag bytes after the first zero byte, and only the
		// first one is used.
		if m := ((lf-ones)&^lf | (cr-ones)&^cr) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if b[i] == '\n' || b[i] == '\r' {
			return i
		}
	}
	return -1
}

// Put returns one chunk per record: the record ([]byte, string, *Bytes or
// fmt.Stringer) followed by the output terminator. Chunks are []byte, or
// *Bytes views of a reused buffer with LineOptions.Bytes.
func (f *Line) Put(records []any) ([]any, error) {
	f.chunks = f.chunks[:0]
	if !f.opts.Bytes {
		for _, r := range records {
			c, ok := appendChunk(make([]byte, 0, chunkLen(r)+len(f.outLit)), r)
			if !ok {
				return nil, fmt.Errorf("%w: Line record of type %T", ErrRecordType, r)
			}
			f.chunks = append(f.chunks, append(c, f.outLit...))
		}
		return f.chunks, nil
	}
	f.obuf = f.obuf[:0]
	if cap(f.ochunk) < len(records) {
		f.ochunk = make([]Bytes, len(records))
	}
	f.ochunk = f.ochunk[:len(records)]
	for i, r := range records {
		var ok bool
		start := len(f.obuf)
		if f.obuf, ok = appendChunk(f.obuf, r); !ok {
			return nil, fmt.Errorf("%w: Line record of type %T", ErrRecordType, r)
		}
		f.obuf = append(f.obuf, f.outLit...)
		f.ochunk[i].B = f.obuf[start:len(f.obuf):len(f.obuf)]
	}
	// obuf may have moved while growing: take the views again.
	end := 0
	for i := range f.ochunk {
		n := len(f.ochunk[i].B)
		f.ochunk[i].B = f.obuf[end : end+n : end+n]
		end += n
		f.chunks = append(f.chunks, &f.ochunk[i])
	}
	return f.chunks, nil
}

// GetPending returns the buffered partial line as one []byte chunk, or nil.
func (f *Line) GetPending() []any { return f.in.pending() }

// DiscardPending drops the buffered input (see PendingDiscarder).
func (f *Line) DiscardPending() { f.in.reset(); f.scanned = 0 }

// Clone returns a Line with the same options and an empty buffer. An
// autodetecting filter detects again.
func (f *Line) Clone() Filter {
	c, _ := NewLine(f.opts)
	return c
}

// AppendPut appends the chunk Put makes for record (the record and the
// output terminator) to dst (see PutAppender).
func (f *Line) AppendPut(dst []byte, record any) ([]byte, error) {
	dst, ok := appendChunk(dst, record)
	if !ok {
		return dst, fmt.Errorf("%w: Line record of type %T", ErrRecordType, record)
	}
	if f.outLit == "\r\n" {
		return append(dst, '\r', '\n'), nil // two stores, not a copy
	}
	return append(dst, f.outLit...), nil
}
