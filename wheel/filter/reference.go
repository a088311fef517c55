package filter

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"

	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// Serializer turns one structured value into bytes and back: POE's
// Serializer class or object with freeze (or nfreeze) and thaw.
type Serializer interface {
	Freeze(v any) ([]byte, error)
	// Thaw decodes a payload. p is valid only during the call.
	Thaw(p []byte) (any, error)
}

// FreezerSerializer adapts an wheel/freezer Freezer (Storable, YAML,
// FreezeThaw) to Serializer; records then are storable.Value.
type FreezerSerializer struct {
	freezer.Freezer
}

// Thaw decodes p with the freezer.
func (s FreezerSerializer) Thaw(p []byte) (any, error) {
	v, err := s.Freezer.Thaw(p)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// NamedSerializer returns the serializer of a freezer name ("Storable",
// "YAML", "FreezeThaw"), POE's Serializer => 'Class'.
func NamedSerializer(name string) (Serializer, error) {
	f, err := freezer.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrParameter, err)
	}
	return FreezerSerializer{f}, nil
}

// DefaultReferenceMaxBuffer is Reference's default MaxBuffer: 16 MiB, the
// payload limit of the IKC framer (freezer.DefaultMaxFrame).
//
// POE's default is 512 MiB. A frame header is a number the peer chooses,
// and the filter buffers until that many octets arrived, so the limit is
// the memory any peer can make each connection hold. Messages between POE
// programs are small (IKC calls are a few hundred octets); 16 MiB leaves
// room for large arguments while keeping a hostile or broken peer from
// pinning half a gigabyte per connection. Raise it with
// ReferenceOptions.MaxBuffer when an application sends bigger values.
const DefaultReferenceMaxBuffer = freezer.DefaultMaxFrame

// ReferenceOptions are POE::Filter::Reference's parameters.
type ReferenceOptions struct {
	// Serializer freezes and thaws records; nil means Storable
	// (freezer.Storable, Perl's nfreeze/thaw, wire-compatible with POE).
	Serializer Serializer
	// Compression zlib-compresses each payload (Compress::Zlib's
	// compress/uncompress format).
	Compression bool
	// NoFatals turns decoding errors into records: the error's text as
	// a string, instead of an error from GetOne.
	NoFatals bool
	// MaxBuffer bounds the buffered input, and the size of a
	// decompressed payload (default DefaultReferenceMaxBuffer).
	MaxBuffer int
}

// Reference is POE::Filter::Reference: each record is one structured value
// (a map, slice, struct, pointer or storable reference), framed as
// "<decimal length> NUL <serialized bytes>". Put of a plain scalar is an
// error (ErrNotReference). Records from GetOne are what the Serializer's
// Thaw returns: storable.Value by default.
//
// Malformed input never panics: a header that is not digits and NUL, more
// than 20 digits, or a length that cannot fit in MaxBuffer is an error,
// after which the buffer is discarded (the stream cannot be resynchronised).
type Reference struct {
	opts ReferenceOptions
	ser  Serializer
	maxB int

	in   inbuf
	recs []any

	zw   *zlib.Writer
	zbuf bytes.Buffer
	zr   io.ReadCloser
	zin  bytes.Reader
	zout bytes.Buffer
}

// NewReference returns a Reference filter, or an error for a negative
// MaxBuffer.
func NewReference(o ReferenceOptions) (*Reference, error) {
	f := &Reference{opts: o, ser: o.Serializer}
	if f.ser == nil {
		f.ser = FreezerSerializer{freezer.Storable{}}
	}
	var err error
	if f.maxB, err = limit("MaxBuffer", o.MaxBuffer, DefaultReferenceMaxBuffer); err != nil {
		return nil, err
	}
	return f, nil
}

// GetOneStart appends chunks ([]byte, string or *Bytes) to the buffer.
func (f *Reference) GetOneStart(chunks []any) { f.in.start(chunks, f.maxB) }

// GetOneStartBytes appends p to the buffer (see BytesStarter).
func (f *Reference) GetOneStartBytes(p []byte) { f.in.startBytes(p, f.maxB) }

// GetOne decodes the next complete frame, or returns nothing. Errors
// (buffer over MaxBuffer, malformed header, decompression or thaw failure)
// are returned, or with NoFatals returned as a string record.
func (f *Reference) GetOne() ([]any, error) {
	if f.in.err != nil {
		return f.fail(f.in.takeErr())
	}
	b := f.in.bytes()
	n, hdr, err := freezer.ParseFrameHeaderFit(b, f.maxB)
	if err != nil {
		f.in.reset()
		return f.fail(headerError(err))
	}
	if hdr == 0 || len(b) < hdr+n {
		f.in.idle()
		return nil, nil
	}
	payload := b[hdr : hdr+n]
	if f.opts.Compression {
		if payload, err = f.uncompress(payload); err != nil {
			f.in.consume(hdr + n)
			return f.fail(err)
		}
	}
	v, err := f.thaw(payload)
	f.in.consume(hdr + n)
	if err != nil {
		return f.fail(err)
	}
	f.recs = append(f.recs[:0], v)
	return f.recs, nil
}

func (f *Reference) fail(err error) ([]any, error) {
	if !f.opts.NoFatals {
		return nil, err
	}
	f.recs = append(f.recs[:0], err.Error())
	return f.recs, nil
}

// headerError gives a header error of the framer this filter's
// sentinels and texts.
func headerError(err error) error {
	var he *freezer.HeaderError
	switch {
	case !errors.As(err, &he):
		return err
	case he.Err == freezer.ErrFrameTooLarge:
		return fmt.Errorf("%w: frame of %d+ octets cannot fit (buffer exceeds MaxBuffer %d)", ErrBlockExceeds, he.Length, he.Limit)
	}
	return fmt.Errorf("%w: %s", ErrBadHeader, he.Detail())
}

func (f *Reference) uncompress(p []byte) ([]byte, error) {
	f.zin.Reset(p)
	var err error
	if f.zr == nil {
		f.zr, err = zlib.NewReader(&f.zin)
	} else {
		err = f.zr.(zlib.Resetter).Reset(&f.zin, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("filter: uncompress: %w", err)
	}
	f.zout.Reset()
	n, err := f.zout.ReadFrom(io.LimitReader(f.zr, int64(f.maxB)+1))
	if err != nil {
		return nil, fmt.Errorf("filter: uncompress: %w", err)
	}
	if n > int64(f.maxB) {
		return nil, fmt.Errorf("filter: uncompress: %w (payload over %d octets)", ErrBufferExceeds, f.maxB)
	}
	return f.zout.Bytes(), nil
}

// Frozen is a record whose payload is already frozen (with the filter's
// Serializer, or in the same format): Reference frames B as it is, after
// compressing it when Compression is set. A sender that must see a freezing
// error itself, rather than the panic of a wheel whose filter fails,
// freezes first and puts a *Frozen.
type Frozen struct {
	B []byte
}

// Put freezes each record into one framed chunk ([]byte). Plain scalars
// (strings, []byte, numbers, bools, nil, storable scalars) are refused
// with ErrNotReference, as POE refuses non-references; a *Frozen is
// framed as it is.
func (f *Reference) Put(records []any) ([]any, error) {
	out := make([]any, 0, len(records))
	for _, r := range records {
		p, err := f.payload(r)
		if err != nil {
			return nil, err
		}
		c := make([]byte, 0, len(p)+len(strconv.Itoa(len(p)))+1)
		out = append(out, freezer.AppendFrame(c, p))
	}
	return out, nil
}

// AppendPut appends the frame Put would make for record to dst (see
// PutAppender): a wheel frames records straight into its output queue.
func (f *Reference) AppendPut(dst []byte, record any) ([]byte, error) {
	p, err := f.payload(record)
	if err != nil {
		return dst, err
	}
	return freezer.AppendFrame(dst, p), nil
}

// payload freezes (and compresses) one record; it is valid until the
// next call.
func (f *Reference) payload(r any) ([]byte, error) {
	var p []byte
	if fz, ok := r.(*Frozen); ok && fz != nil {
		p = fz.B
	} else {
		if !isReference(r) {
			return nil, fmt.Errorf("%w (%T)", ErrNotReference, r)
		}
		var err error
		if p, err = f.freeze(r); err != nil {
			return nil, fmt.Errorf("filter: freeze: %w", err)
		}
	}
	if f.opts.Compression {
		return f.compress(p)
	}
	return p, nil
}

// freeze and thaw turn a panic of the serializer into an error: a
// malformed value or payload must not bring the program down.
func (f *Reference) freeze(v any) (p []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: serializer panicked: %v", ErrRecordType, r)
		}
	}()
	return f.ser.Freeze(v)
}

func (f *Reference) thaw(p []byte) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("filter: thaw: serializer panicked: %v", r)
		}
	}()
	return f.ser.Thaw(p)
}

func (f *Reference) compress(p []byte) ([]byte, error) {
	f.zbuf.Reset()
	if f.zw == nil {
		f.zw = zlib.NewWriter(&f.zbuf)
	} else {
		f.zw.Reset(&f.zbuf)
	}
	if _, err := f.zw.Write(p); err != nil {
		return nil, fmt.Errorf("filter: compress: %w", err)
	}
	if err := f.zw.Close(); err != nil {
		return nil, fmt.Errorf("filter: compress: %w", err)
	}
	return f.zbuf.Bytes(), nil
}

// isReference tells whether v is what Perl would call a reference: not
// nil, a string, []byte, number, bool or storable scalar.
func isReference(v any) bool {
	switch v.(type) {
	case nil, storable.Undef, storable.Int, storable.Float, storable.Bytes,
		storable.String, storable.Bool, []byte, *Bytes:
		return false
	}
	switch reflect.TypeOf(v).Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32,
		reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32,
		reflect.Uint64, reflect.Uintptr, reflect.Float32, reflect.Float64,
		reflect.Complex64, reflect.Complex128, reflect.String:
		return false
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return !reflect.ValueOf(v).IsNil()
	}
	return true
}

// GetPending returns the undecoded frames as one []byte chunk, or nil.
func (f *Reference) GetPending() []any { return f.in.pending() }

// DiscardPending drops the buffered input.
func (f *Reference) DiscardPending() { f.in.reset() }

// Clone returns a Reference with the same options and an empty buffer.
func (f *Reference) Clone() Filter {
	c, _ := NewReference(f.opts)
	return c
}
