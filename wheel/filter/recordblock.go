package filter

import (
	"fmt"
	"reflect"
)

// RecordBlockOptions are POE::Filter::RecordBlock's parameters.
type RecordBlockOptions struct {
	// BlockSize is the number of records per block (required, > 0).
	BlockSize int
	// CheckPut makes Put output whole blocks only and hold the rest
	// (PutPending).
	CheckPut bool
}

// RecordBlock is POE::Filter::RecordBlock: on input it groups records into
// blocks of BlockSize ([]any, a new slice each); on output it flattens
// blocks (slices) into records.
type RecordBlock struct {
	size     int
	checkPut bool
	in       recQueue
	putBuf   []any
	out      []any
	pout     []any
}

// NewRecordBlock returns a RecordBlock filter, or an error (wrapping
// ErrParameter) when BlockSize is not positive.
func NewRecordBlock(o RecordBlockOptions) (*RecordBlock, error) {
	if o.BlockSize <= 0 {
		return nil, paramError("BlockSize must be greater than 0")
	}
	return &RecordBlock{size: o.BlockSize, checkPut: o.CheckPut}, nil
}

// BlockSize returns the block size.
func (f *RecordBlock) BlockSize() int { return f.size }

// SetBlockSize changes the block size; values <= 0 are ignored.
func (f *RecordBlock) SetBlockSize(n int) {
	if n > 0 {
		f.size = n
	}
}

// CheckPut returns the CheckPut flag.
func (f *RecordBlock) CheckPut() bool { return f.checkPut }

// SetCheckPut changes the CheckPut flag.
func (f *RecordBlock) SetCheckPut(v bool) { f.checkPut = v }

// GetOneStart buffers records.
func (f *RecordBlock) GetOneStart(records []any) { f.in.push(records) }

// GetOne returns the next block of BlockSize records, or nothing.
func (f *RecordBlock) GetOne() ([]any, error) {
	if f.in.len() < f.size {
		return nil, nil
	}
	block := make([]any, f.size)
	for i := range block {
		block[i] = f.in.pop()
	}
	f.out = append(f.out[:0], block)
	return f.out, nil
}

// Put flattens blocks (any slice; []any without reflection) into records.
// With CheckPut only whole blocks of records are returned and the rest is
// held for the next Put; without it, records held from earlier come first
// and everything is returned.
func (f *RecordBlock) Put(records []any) ([]any, error) {
	f.pout = f.pout[:0]
	if !f.checkPut {
		f.pout = append(f.pout, f.putBuf...)
		clear(f.putBuf)
		f.putBuf = f.putBuf[:0]
	}
	var err error
	dst := &f.pout
	if f.checkPut {
		dst = &f.putBuf
	}
	for _, r := range records {
		if *dst, err = appendElems(*dst, r); err != nil {
			return nil, err
		}
	}
	if f.checkPut {
		n := len(f.putBuf) / f.size * f.size
		f.pout = append(f.pout, f.putBuf[:n]...)
		rest := copy(f.putBuf, f.putBuf[n:])
		clear(f.putBuf[rest:])
		f.putBuf = f.putBuf[:rest]
	}
	return f.pout, nil
}

func appendElems(dst []any, block any) ([]any, error) {
	if s, ok := block.([]any); ok {
		return append(dst, s...), nil
	}
	v := reflect.ValueOf(block)
	if !v.IsValid() || (v.Kind() != reflect.Slice && v.Kind() != reflect.Array) {
		return dst, fmt.Errorf("%w: RecordBlock block of type %T, want a slice", ErrRecordType, block)
	}
	for i := 0; i < v.Len(); i++ {
		dst = append(dst, v.Index(i).Interface())
	}
	return dst, nil
}

// PutPending returns the records Put holds back (CheckPut), or nil.
func (f *RecordBlock) PutPending() []any {
	if !f.checkPut || len(f.putBuf) == 0 {
		return nil
	}
	return append([]any(nil), f.putBuf...)
}

// GetPending returns the buffered records not yet in a block, or nil.
func (f *RecordBlock) GetPending() []any { return f.in.pending() }

// DiscardPending drops the buffered input records.
func (f *RecordBlock) DiscardPending() { f.in.reset() }

// Clone returns a RecordBlock with the same settings and empty buffers.
func (f *RecordBlock) Clone() Filter {
	return &RecordBlock{size: f.size, checkPut: f.checkPut}
}
