package filter

import (
	"fmt"
	"strconv"
)

// LengthCodec is a custom block header for Block (POE's LengthCodec
// pair of encoder and decoder).
type LengthCodec struct {
	// Encode appends the header for a payload of n octets to dst.
	Encode func(dst []byte, n int) []byte
	// Decode reads a header at the front of buf. It returns the payload
	// length n, and in consumed the octets to remove (the header, plus
	// any garbage skipped before it). ok is false when no complete header
	// is there yet; the consumed octets are dropped all the same (that is
	// how the default codec drops garbage).
	Decode func(buf []byte) (n, consumed int, ok bool)
}

// BlockOptions are POE::Filter::Block's parameters. The zero value is the
// length-prefixed mode with the default codec, "<decimal length> NUL".
type BlockOptions struct {
	// BlockSize > 0 selects fixed-size mode: records are BlockSize
	// octets; Put concatenates all records into one chunk, without
	// padding. It excludes LengthCodec and MaxLength.
	BlockSize int
	// LengthCodec replaces the default header.
	LengthCodec *LengthCodec
	// MaxLength bounds a block's length (default DefaultMaxLength);
	// MaxBuffer bounds the buffered input (default DefaultMaxBuffer,
	// and at least MaxLength + digits(MaxLength) + 1).
	MaxLength, MaxBuffer int
	// Warn, if set, receives POE's warning about garbage dropped before a
	// header ("N strange bytes removed from stream").
	Warn func(msg string)
}

// Block is POE::Filter::Block: fixed-size blocks, or length-prefixed
// blocks. Records are []byte (fresh copies).
//
// POE's garbage quirk is reproduced (docs/poe-semantics.md A10, case C91): with the default
// codec, non-digits before a header are dropped and that GetOne returns
// nothing even when a complete block follows; the next GetOne returns it.
// Fixed (port variant): GetPending keeps the header of a block whose
// payload is incomplete, so the pending data can be handed to another
// filter; POE loses it.
type Block struct {
	opts  BlockOptions
	codec LengthCodec
	max   int
	maxB  int

	in   inbuf
	hdr  int // header length of the block in progress, -1 if not decoded
	want int // its payload length
	skip int // octets of an oversized payload still to discard
	recs []any
}

// NewBlock returns a Block filter, or an error (wrapping ErrParameter).
func NewBlock(o BlockOptions) (*Block, error) {
	f := &Block{opts: o, hdr: -1}
	var err error
	if f.maxB, err = limit("MaxBuffer", o.MaxBuffer, DefaultMaxBuffer); err != nil {
		return nil, err
	}
	switch {
	case o.BlockSize < 0:
		return nil, paramError("Block doesn't support zero or negative block sizes")
	case o.BlockSize > 0 && o.LengthCodec != nil:
		return nil, paramError("can't use both LengthCodec and BlockSize at the same time")
	case o.BlockSize > 0 && o.MaxLength != 0:
		return nil, paramError("can't use both MaxLength and BlockSize at the same time")
	case o.BlockSize > 0:
		return f, nil
	}
	if o.LengthCodec != nil {
		if o.LengthCodec.Encode == nil || o.LengthCodec.Decode == nil {
			return nil, paramError("LengthCodec needs both Encode and Decode")
		}
		f.codec = *o.LengthCodec
	} else {
		f.codec = LengthCodec{Encode: encodeDecimal, Decode: f.decodeDecimal}
	}
	if f.max, err = limit("MaxLength", o.MaxLength, DefaultMaxLength); err != nil {
		return nil, err
	}
	if f.maxB < f.max+len(strconv.Itoa(f.max))+1 {
		return nil, paramError("MaxBuffer (%d) is not large enough for MaxLength (%d) blocks", f.maxB, f.max)
	}
	return f, nil
}

func encodeDecimal(dst []byte, n int) []byte {
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, 0)
}

// decodeDecimal is POE's default decoder: /^(\d+)\0/, dropping leading
// non-digits (/^\D+/) with a warning.
func (f *Block) decodeDecimal(b []byte) (n, consumed int, ok bool) {
	i := 0
	for i < len(b) && (b[i] < '0' || b[i] > '9') {
		i++
	}
	if i > 0 {
		if f.opts.Warn != nil {
			f.opts.Warn(fmt.Sprintf("%d strange bytes removed from stream", i))
		}
		return 0, i, false
	}
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if n <= f.max {
			n = n*10 + int(b[i]-'0')
		}
		i++
	}
	if i == len(b) {
		if n > f.max {
			// The block is too large whatever follows: report it now.
			return n, i, true
		}
		return 0, 0, false
	}
	if b[i] != 0 {
		// Digits then neither a digit nor NUL: POE buffers forever;
		// drop the digits as garbage.
		if f.opts.Warn != nil {
			f.opts.Warn(fmt.Sprintf("%d strange bytes removed from stream", i))
		}
		return 0, i, false
	}
	return n, i + 1, true
}

// GetOneStart appends chunks ([]byte, string or *Bytes) to the buffer.
func (f *Block) GetOneStart(chunks []any) { f.in.start(chunks, f.maxB) }

// GetOneStartBytes appends p to the buffer (see BytesStarter).
func (f *Block) GetOneStartBytes(p []byte) { f.in.startBytes(p, f.maxB) }

// GetOne returns the next block, or nothing. A header announcing more
// than MaxLength is an error wrapping ErrBlockExceeds; the payload that
// follows it is then discarded as it arrives.
func (f *Block) GetOne() ([]any, error) {
	if f.in.err != nil {
		return nil, f.in.takeErr()
	}
	if f.skip > 0 {
		n := min(f.skip, f.in.len())
		f.in.consume(n)
		f.skip -= n
		if f.skip > 0 {
			f.in.idle()
			return nil, nil
		}
	}
	b := f.in.bytes()
	if f.opts.BlockSize > 0 {
		if len(b) < f.opts.BlockSize {
			f.in.idle()
			return nil, nil
		}
		return f.emit(b, 0, f.opts.BlockSize)
	}
	if f.hdr < 0 {
		n, used, ok := f.codec.Decode(b)
		used = max(0, min(used, len(b)))
		if !ok {
			f.in.consume(used)
			f.in.idle()
			return nil, nil
		}
		switch {
		case n < 0:
			f.in.consume(used)
			return nil, fmt.Errorf("%w: negative length %d", ErrBadHeader, n)
		case n > f.max:
			f.in.consume(used)
			if used > 0 {
				f.skip = n
			}
			return nil, fmt.Errorf("%w (%d > %d octets)", ErrBlockExceeds, n, f.max)
		}
		f.hdr, f.want = used, n
	}
	if len(b) < f.hdr+f.want {
		f.in.idle()
		return nil, nil
	}
	hdr := f.hdr
	f.hdr = -1
	return f.emit(b, hdr, f.want)
}

func (f *Block) emit(b []byte, hdr, n int) ([]any, error) {
	rec := append([]byte(nil), b[hdr:hdr+n]...)
	f.in.consume(hdr + n)
	f.recs = append(f.recs[:0], rec)
	return f.recs, nil
}

// Put frames the records ([]byte, string, *Bytes or fmt.Stringer): one
// chunk per record with its header, or in fixed-size mode one chunk with
// all records concatenated (none for no records).
func (f *Block) Put(records []any) ([]any, error) {
	if f.opts.BlockSize > 0 {
		var c []byte
		for _, r := range records {
			var ok bool
			if c, ok = appendChunk(c, r); !ok {
				return nil, fmt.Errorf("%w: Block record of type %T", ErrRecordType, r)
			}
		}
		if len(records) == 0 {
			return nil, nil
		}
		if c == nil {
			c = []byte{}
		}
		return []any{c}, nil
	}
	out := make([]any, 0, len(records))
	for _, r := range records {
		n := chunkLen(r)
		if n < 0 {
			s, ok := r.(fmt.Stringer)
			if !ok {
				return nil, fmt.Errorf("%w: Block record of type %T", ErrRecordType, r)
			}
			str := s.String()
			r, n = str, len(str)
		}
		c := f.codec.Encode(make([]byte, 0, n+12), n)
		c, _ = appendChunk(c, r)
		out = append(out, c)
	}
	return out, nil
}

// GetPending returns the unparsed input as one []byte chunk, or nil,
// including the header of a block in progress.
func (f *Block) GetPending() []any { return f.in.pending() }

// DiscardPending drops the buffered input.
func (f *Block) DiscardPending() { f.in.reset(); f.hdr, f.skip = -1, 0 }

// Clone returns a Block with the same options and an empty buffer.
func (f *Block) Clone() Filter {
	c, _ := NewBlock(f.opts)
	return c
}
