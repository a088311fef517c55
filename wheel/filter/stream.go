package filter

import "fmt"

// StreamOptions are the options of Stream (POE::Filter::Stream has none).
type StreamOptions struct {
	// Bytes makes the record a *Bytes view of the input buffer, valid
	// until the next GetOne or GetOneStart, instead of a fresh []byte.
	Bytes bool
}

// Stream is POE::Filter::Stream, the pass-through filter: GetOne returns
// everything buffered as one record, Put returns the records as chunks.
type Stream struct {
	opts   StreamOptions
	in     inbuf
	rec    Bytes
	recs   []any
	chunks []any
}

// NewStream returns a Stream filter.
func NewStream(o StreamOptions) *Stream { return &Stream{opts: o} }

// GetOneStart appends chunks ([]byte, string or *Bytes) to the buffer.
func (f *Stream) GetOneStart(chunks []any) { f.in.start(chunks, 0) }

// GetOneStartBytes appends p to the buffer (see BytesStarter).
func (f *Stream) GetOneStartBytes(p []byte) { f.in.startBytes(p, 0) }

// GetOne returns the whole buffer as one record ([]byte, or *Bytes with
// StreamOptions.Bytes), or nothing when it is empty.
func (f *Stream) GetOne() ([]any, error) {
	if f.in.err != nil {
		return nil, f.in.takeErr()
	}
	b := f.in.bytes()
	if len(b) == 0 {
		f.in.idle()
		return nil, nil
	}
	f.in.consume(len(b))
	if f.opts.Bytes {
		f.rec.B = b[:len(b):len(b)]
		f.recs = append(f.recs[:0], &f.rec)
	} else {
		f.recs = append(f.recs[:0], append([]byte(nil), b...))
	}
	return f.recs, nil
}

// Put returns the records unchanged as chunks. They must be []byte, string
// or *Bytes.
func (f *Stream) Put(records []any) ([]any, error) {
	for _, r := range records {
		if chunkLen(r) < 0 {
			return nil, fmt.Errorf("%w: Stream record of type %T", ErrRecordType, r)
		}
	}
	f.chunks = append(f.chunks[:0], records...)
	return f.chunks, nil
}

// GetPending returns the buffer as one []byte chunk, or nil.
func (f *Stream) GetPending() []any { return f.in.pending() }

// DiscardPending drops the buffered input.
func (f *Stream) DiscardPending() { f.in.reset() }

// Clone returns a Stream with the same options and an empty buffer.
func (f *Stream) Clone() Filter { return NewStream(f.opts) }

// AppendPut appends record, unchanged, to dst (see PutAppender).
func (f *Stream) AppendPut(dst []byte, record any) ([]byte, error) {
	if chunkLen(record) < 0 {
		return dst, fmt.Errorf("%w: Stream record of type %T", ErrRecordType, record)
	}
	dst, _ = appendChunk(dst, record)
	return dst, nil
}
