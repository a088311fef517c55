package filter

import (
	"fmt"
	"reflect"
)

// Stackable is POE::Filter::Stackable: a chain of filters. The first faces
// the raw stream, the last the application; on input each filter's records
// are the next one's chunks, on output the other way round. A stack with
// no filters passes data through unchanged.
//
// Fixed (port variant of POE's quirk A12, C90, C91): pending data is handed
// on, not lost. GetPending returns the raw input of the whole stack: each
// later filter's pending records are turned back into raw chunks through the
// Put of the filters before it (exact when each Put inverts its Get, as for
// Line, Block, Stream, Reference and RecordBlock) and come first, being
// older, followed by the earlier filters' pending data. POE returns only the
// last filter's pending data. Shift hands the removed first filter's
// pending raw input to the new first filter, and Pop delivers the removed
// last filter's pending records from the next GetOne; POE pushes both
// through Put (the wrong direction) and drops the result.
type Stackable struct {
	filters []Filter
	ready   recQueue // records to deliver before running the chain
	out     []any
}

// NewStackable returns a stack of filters, the first facing the raw
// stream. A nil filter is an error (wrapping ErrParameter).
func NewStackable(filters ...Filter) (*Stackable, error) {
	for i, f := range filters {
		if isNilFilter(f) {
			return nil, paramError("filter %d is nil", i)
		}
	}
	return &Stackable{filters: append([]Filter(nil), filters...)}, nil
}

func isNilFilter(f Filter) bool {
	if f == nil {
		return true
	}
	v := reflect.ValueOf(f)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// GetOneStart gives chunks to the first filter.
func (s *Stackable) GetOneStart(chunks []any) {
	if len(s.filters) == 0 {
		s.ready.push(chunks)
		return
	}
	s.filters[0].GetOneStart(chunks)
}

// GetOneStartBytes gives raw bytes to the first filter without boxing when
// it implements BytesStarter (see BytesStarter).
func (s *Stackable) GetOneStartBytes(p []byte) {
	if len(s.filters) > 0 {
		if bs, ok := s.filters[0].(BytesStarter); ok {
			bs.GetOneStartBytes(p)
			return
		}
	}
	s.GetOneStart([]any{append([]byte(nil), p...)})
}

// GetOne runs records up the chain (POE's algorithm) until the last filter
// returns some or no filter was given anything new. An error of any filter
// is returned at once.
func (s *Stackable) GetOne() ([]any, error) {
	if s.ready.len() > 0 {
		s.out = s.out[:0]
		for s.ready.len() > 0 {
			s.out = append(s.out, s.ready.pop())
		}
		return s.out, nil
	}
	for {
		var recs []any
		fed := false
		for _, f := range s.filters {
			if len(recs) > 0 {
				f.GetOneStart(recs)
				fed = true
			}
			var err error
			if recs, err = f.GetOne(); err != nil {
				return nil, err
			}
		}
		if len(recs) > 0 || !fed {
			return recs, nil
		}
	}
}

// Put runs records down the chain, last filter first, stopping early when
// a filter returns nothing.
func (s *Stackable) Put(records []any) ([]any, error) {
	for i := len(s.filters) - 1; i >= 0; i-- {
		var err error
		if records, err = s.filters[i].Put(records); err != nil {
			return nil, err
		}
		if len(records) == 0 {
			break
		}
	}
	if len(s.filters) == 0 {
		s.out = append(s.out[:0], records...)
		return s.out, nil
	}
	return records, nil
}

// GetPending returns the stack's unparsed input as raw chunks (see the
// type's documentation), or nil.
func (s *Stackable) GetPending() []any {
	acc := s.ready.pending()
	for i := len(s.filters) - 1; i >= 0; i-- {
		f := s.filters[i]
		if len(acc) > 0 {
			put, err := f.Put(acc)
			if err != nil {
				put = nil
			}
			acc = ownChunks(put)
		}
		acc = append(acc, f.GetPending()...)
	}
	if len(acc) == 0 {
		return nil
	}
	return acc
}

// ownChunks copies a filter's output list, turning *Bytes views into
// []byte so the result outlives the filter's next call.
func ownChunks(l []any) []any {
	out := make([]any, len(l))
	for i, c := range l {
		if b, ok := c.(*Bytes); ok {
			c = append([]byte(nil), b.B...)
		}
		out[i] = c
	}
	return out
}

// Filters returns the filters, first (raw side) to last.
func (s *Stackable) Filters() []Filter { return append([]Filter(nil), s.filters...) }

// FilterTypes returns the filters' Go types, e.g. "*filter.Line" (POE
// returns class names).
func (s *Stackable) FilterTypes() []string {
	out := make([]string, len(s.filters))
	for i, f := range s.filters {
		out[i] = fmt.Sprintf("%T", f)
	}
	return out
}

// Push appends filters on the application side. A nil filter is an error
// and leaves the stack unchanged.
func (s *Stackable) Push(filters ...Filter) error {
	for i, f := range filters {
		if isNilFilter(f) {
			return paramError("filter %d is nil", i)
		}
	}
	s.filters = append(s.filters, filters...)
	return nil
}

// Unshift prepends filters on the raw side. A nil filter is an error and
// leaves the stack unchanged.
func (s *Stackable) Unshift(filters ...Filter) error {
	for i, f := range filters {
		if isNilFilter(f) {
			return paramError("filter %d is nil", i)
		}
	}
	s.filters = append(append([]Filter(nil), filters...), s.filters...)
	return nil
}

// Pop removes and returns the last filter (nil when the stack is empty).
// Its pending records are delivered by the stack's next GetOne, and
// dropped from the filter when it is a PendingDiscarder.
func (s *Stackable) Pop() Filter {
	if len(s.filters) == 0 {
		return nil
	}
	f := s.filters[len(s.filters)-1]
	s.filters[len(s.filters)-1] = nil
	s.filters = s.filters[:len(s.filters)-1]
	if p := f.GetPending(); len(p) > 0 {
		s.ready.push(p)
		discard(f)
	}
	return f
}

// Shift removes and returns the first filter (nil when the stack is
// empty). Its pending raw input goes to the new first filter (or is
// delivered as is if none is left), and is dropped from the removed filter
// when it is a PendingDiscarder.
func (s *Stackable) Shift() Filter {
	if len(s.filters) == 0 {
		return nil
	}
	f := s.filters[0]
	s.filters[0] = nil
	s.filters = s.filters[1:]
	if p := f.GetPending(); len(p) > 0 {
		s.GetOneStart(p)
		discard(f)
	}
	return f
}

func discard(f Filter) {
	if d, ok := f.(PendingDiscarder); ok {
		d.DiscardPending()
	}
}

// DiscardPending drops the pending data of every filter of the stack.
func (s *Stackable) DiscardPending() {
	s.ready.reset()
	for _, f := range s.filters {
		discard(f)
	}
}

// Clone returns a stack of clones of the filters.
func (s *Stackable) Clone() Filter {
	c := &Stackable{filters: make([]Filter, len(s.filters))}
	for i, f := range s.filters {
		c.filters[i] = f.Clone()
	}
	return c
}
