package filter

import (
	"errors"
	"fmt"
	"sync"
)

// Bytes is a byte record or chunk that is a view of a filter's (or a
// wheel's) buffer. It is pointer-shaped on purpose: a *Bytes in an any costs
// no allocation, where a []byte would be copied to the heap each time. A
// filter reuses the same Bytes for every record, so B is valid only until
// the next call on the filter that returned it; copy it to keep it.
//
// Every byte-level filter of this package (Line, Stream, Block, Reference)
// accepts *Bytes, []byte and string as chunks in GetOneStart and as records
// in Put.
type Bytes struct {
	B []byte
}

// String returns a copy of the bytes as a string.
func (b *Bytes) String() string { return string(b.B) }

// BytesStarter is implemented by filters that take raw input as bytes
// directly, without boxing a []byte in an interface per read. Line,
// Stream, Block, Reference and Stackable (when its first filter does)
// implement it. GetOneStartBytes(p) is GetOneStart([]any{p}); the filter
// copies p.
type BytesStarter interface {
	GetOneStartBytes(p []byte)
}

// PutAppender is implemented by filters whose Put makes exactly one chunk
// per record (Line, Stream, Reference): AppendPut appends the chunk Put
// would make for record to dst. A wheel uses it to serialise straight into
// its driver's output queue (driver.Appender), with no intermediate chunk.
// An empty chunk appends nothing.
type PutAppender interface {
	AppendPut(dst []byte, record any) ([]byte, error)
}

// PendingDiscarder is implemented by filters that can drop their buffered
// input. Stackable uses it on the filter that Pop or Shift removes after
// handing that filter's pending data on, so the data is not held twice.
type PendingDiscarder interface {
	DiscardPending()
}

// Errors. Constructors wrap ErrParameter (POE croaks); GetOne and Put
// return the others, wrapped with details where useful. A filter stays
// usable after an error: the offending record, frame or chunk is consumed.
var (
	// ErrParameter: a constructor was given an invalid combination of
	// options or a bad value.
	ErrParameter = errors.New("filter: bad parameter")
	// ErrBufferExceeds: GetOneStart was given more input than MaxBuffer
	// allows; the chunks of that call are dropped and the next GetOne
	// returns this error ("buffer exceeds" as in POE's message).
	ErrBufferExceeds = errors.New("filter: framing buffer exceeds the limit")
	// ErrLineExceeds: a line is longer than MaxLength.
	ErrLineExceeds = errors.New("filter: next line exceeds maximum line length")
	// ErrBlockExceeds: a Block or Reference header announces more than the
	// filter accepts.
	ErrBlockExceeds = errors.New("filter: expected size of next block exceeds the limit")
	// ErrBadHeader: a Reference frame header is not <digits> NUL, or a
	// LengthCodec decoded a negative length.
	ErrBadHeader = errors.New("filter: malformed frame header")
	// ErrRecordType: Put was given a record the filter cannot serialise.
	ErrRecordType = errors.New("filter: record of unsupported type")
	// ErrNotReference: Reference.Put was given a plain scalar (a string,
	// number, bool or nil) instead of a structured value (POE: "Choking on
	// a non-reference").
	ErrNotReference = errors.New("filter: choking on a non-reference")
)

func paramError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrParameter}, args...)...)
}

// ChunkBytes returns the bytes of a chunk or byte record: a []byte as is, a
// *Bytes's view, a string converted (copied). ok is false for other types.
func ChunkBytes(c any) (b []byte, ok bool) {
	switch v := c.(type) {
	case []byte:
		return v, true
	case *Bytes:
		if v == nil {
			return nil, true
		}
		return v.B, true
	case string:
		return []byte(v), true
	}
	return nil, false
}

// appendChunk appends the bytes of a chunk or record to dst without an
// intermediate copy. ok is false for unsupported types.
func appendChunk(dst []byte, c any) ([]byte, bool) {
	switch v := c.(type) {
	case []byte:
		return append(dst, v...), true
	case *Bytes:
		if v == nil {
			return dst, true
		}
		return append(dst, v.B...), true
	case string:
		return append(dst, v...), true
	case fmt.Stringer:
		return append(dst, v.String()...), true
	}
	return dst, false
}

// chunkLen is the length of a chunk, -1 for an unsupported type.
func chunkLen(c any) int {
	switch v := c.(type) {
	case []byte:
		return len(v)
	case *Bytes:
		if v == nil {
			return 0
		}
		return len(v.B)
	case string:
		return len(v)
	}
	return -1
}

// bigBuffer is the capacity above which an emptied buffer is released
// rather than kept for reuse, so that one large message does not pin memory
// on an idle connection.
const bigBuffer = 1 << 20

// inbuf is the input buffer of the byte-level filters: data is buf[off:].
//
// Its storage comes from inPool and goes back there when a GetOne finds
// the buffer empty (idle): views of it given out as records are invalid
// by then, and a connection that is not in the middle of a record holds
// no input buffer.
type inbuf struct {
	buf []byte
	off int
	err error   // deferred error from GetOneStart (MaxBuffer)
	h   *[]byte // holder of buf while it is pooled
}

var inPool sync.Pool

// minInbuf is the capacity of a new pooled input buffer.
const minInbuf = 1024

// take gives an empty inbuf pooled storage.
func (b *inbuf) take(need int) {
	if h, ok := inPool.Get().(*[]byte); ok {
		if cap(*h) >= need {
			b.h, b.buf = h, (*h)[:0]
			return
		}
		inPool.Put(h)
	}
	b.h = new([]byte)
	b.buf = make([]byte, 0, max(need, minInbuf))
}

// idle returns the storage of an empty buffer to the pool.
func (b *inbuf) idle() {
	if b.buf == nil || len(b.buf) != b.off || b.err != nil {
		return
	}
	if b.h != nil && cap(b.buf) <= bigBuffer {
		*b.h = b.buf[:0]
		inPool.Put(b.h)
	}
	b.buf, b.off, b.h = nil, 0, nil
}

func (b *inbuf) len() int      { return len(b.buf) - b.off }
func (b *inbuf) bytes() []byte { return b.buf[b.off:] }

// compact moves the unread data to the front (invalidating views) so that
// appending reuses the space already consumed.
func (b *inbuf) compact() {
	if b.off == 0 {
		return
	}
	if b.off == len(b.buf) {
		if cap(b.buf) > bigBuffer {
			b.buf, b.h = nil, nil
		} else {
			b.buf = b.buf[:0]
		}
		b.off = 0
		return
	}
	n := copy(b.buf, b.buf[b.off:])
	b.buf = b.buf[:n]
	b.off = 0
}

// consume marks n bytes as read.
func (b *inbuf) consume(n int) {
	b.off += n
	if b.off == len(b.buf) {
		b.off = 0
		if cap(b.buf) > bigBuffer {
			b.buf, b.h = nil, nil
		} else {
			b.buf = b.buf[:0]
		}
	}
}

// start appends chunks, enforcing maxBuffer (0: none). Over the limit the
// chunks are dropped and the error deferred to the next GetOne. Chunks of
// unsupported types are a deferred ErrRecordType.
func (b *inbuf) start(chunks []any, maxBuffer int) {
	total := b.len()
	for _, c := range chunks {
		n := chunkLen(c)
		if n < 0 {
			b.err = fmt.Errorf("%w: chunk of type %T", ErrRecordType, c)
			return
		}
		total += n
	}
	if maxBuffer > 0 && total > maxBuffer {
		b.err = fmt.Errorf("%w (%d > %d octets)", ErrBufferExceeds, total, maxBuffer)
		return
	}
	b.compact()
	if b.buf == nil {
		b.take(total)
	}
	for _, c := range chunks {
		b.buf, _ = appendChunk(b.buf, c)
	}
}

// startBytes appends one chunk, enforcing maxBuffer.
func (b *inbuf) startBytes(p []byte, maxBuffer int) {
	if maxBuffer > 0 && b.len()+len(p) > maxBuffer {
		b.err = fmt.Errorf("%w (%d > %d octets)", ErrBufferExceeds, b.len()+len(p), maxBuffer)
		return
	}
	b.compact()
	if b.buf == nil {
		b.take(len(p))
	}
	b.buf = append(b.buf, p...)
}

// takeErr returns and clears the deferred error.
func (b *inbuf) takeErr() error {
	err := b.err
	b.err = nil
	return err
}

// pending returns a copy of the unread data as one chunk, or nil.
func (b *inbuf) pending() []any {
	if b.len() == 0 {
		return nil
	}
	return []any{append([]byte(nil), b.bytes()...)}
}

func (b *inbuf) reset() {
	b.buf, b.off, b.err, b.h = nil, 0, nil, nil
}

// limit returns v, or def when v is 0; negative values are an error.
func limit(name string, v, def int) (int, error) {
	if v < 0 {
		return 0, paramError("%s must be greater than 0, got %d", name, v)
	}
	if v == 0 {
		return def, nil
	}
	return v, nil
}
