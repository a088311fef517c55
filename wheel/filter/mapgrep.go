package filter

// recQueue is a FIFO of records.
type recQueue struct {
	buf  []any
	head int
}

func (q *recQueue) len() int { return len(q.buf) - q.head }

func (q *recQueue) push(recs []any) {
	if q.head > 0 && q.head == len(q.buf) {
		clear(q.buf)
		q.buf, q.head = q.buf[:0], 0
	}
	q.buf = append(q.buf, recs...)
}

func (q *recQueue) pop() any {
	r := q.buf[q.head]
	q.buf[q.head] = nil
	q.head++
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	}
	return r
}

func (q *recQueue) pending() []any {
	if q.len() == 0 {
		return nil
	}
	return append([]any(nil), q.buf[q.head:]...)
}

func (q *recQueue) reset() {
	clear(q.buf)
	q.buf, q.head = q.buf[:0], 0
}

// MapFunc maps one record to any number of records, appended to dst (Perl
// code returning a list). Returning dst unchanged drops the record.
type MapFunc func(dst []any, rec any) []any

// MapOne makes a MapFunc of a one-to-one function.
func MapOne(fn func(any) any) MapFunc {
	return func(dst []any, rec any) []any { return append(dst, fn(rec)) }
}

// MapOptions are POE::Filter::Map's parameters: Code for both directions,
// or both Get and Put. Code wins over Get and Put.
type MapOptions struct {
	Code, Get, Put MapFunc
}

// Map is POE::Filter::Map: it maps records through functions, Get on input
// and Put on output. Its input chunks are records (of the filter below it
// in a Stackable), buffered as they are.
//
// Fixed (port variant of POE's quirk A11, C91): when Get yields nothing for
// a record, GetOne goes on with the next buffered record. POE returns
// nothing there, so get() stops early and the later records wait for more
// input.
type Map struct {
	get, put MapFunc
	in       recQueue
	out      []any
	pout     []any
}

// NewMap returns a Map filter, or an error (wrapping ErrParameter) without
// Code or without both Get and Put.
func NewMap(o MapOptions) (*Map, error) {
	switch {
	case o.Code != nil:
		return &Map{get: o.Code, put: o.Code}, nil
	case o.Get != nil && o.Put != nil:
		return &Map{get: o.Get, put: o.Put}, nil
	}
	return nil, paramError("Map requires a Code or both Get and Put functions")
}

// Modify replaces the functions given (non-nil): Code both, or Get, Put.
func (f *Map) Modify(o MapOptions) {
	if o.Code != nil {
		f.get, f.put = o.Code, o.Code
	}
	if o.Get != nil {
		f.get = o.Get
	}
	if o.Put != nil {
		f.put = o.Put
	}
}

// GetOneStart buffers records.
func (f *Map) GetOneStart(records []any) { f.in.push(records) }

// GetOne maps the next buffered record that yields something and returns
// what Get produced.
func (f *Map) GetOne() ([]any, error) {
	for f.in.len() > 0 {
		f.out = f.get(f.out[:0], f.in.pop())
		if len(f.out) > 0 {
			return f.out, nil
		}
	}
	return nil, nil
}

// Put maps every record through Put and returns the results in order.
func (f *Map) Put(records []any) ([]any, error) {
	f.pout = f.pout[:0]
	for _, r := range records {
		f.pout = f.put(f.pout, r)
	}
	return f.pout, nil
}

// GetPending returns the buffered (unmapped) records, or nil.
func (f *Map) GetPending() []any { return f.in.pending() }

// DiscardPending drops the buffered records.
func (f *Map) DiscardPending() { f.in.reset() }

// Clone returns a Map with the same functions and no buffered records.
func (f *Map) Clone() Filter { return &Map{get: f.get, put: f.put} }

// GrepOptions are POE::Filter::Grep's parameters: Code for both directions,
// or both Get and Put. Code wins over Get and Put.
type GrepOptions struct {
	Code, Get, Put func(rec any) bool
}

// Grep is POE::Filter::Grep: it passes on the records for which Get (on
// input) or Put (on output) is true. It is a Map whose functions keep or
// drop each record.
type Grep struct{ m Map }

// keep turns a predicate into the MapFunc that keeps what it accepts.
func keep(fn func(any) bool) MapFunc {
	if fn == nil {
		return nil
	}
	return func(dst []any, rec any) []any {
		if fn(rec) {
			dst = append(dst, rec)
		}
		return dst
	}
}

// NewGrep returns a Grep filter, or an error (wrapping ErrParameter)
// without Code or without both Get and Put.
func NewGrep(o GrepOptions) (*Grep, error) {
	if o.Code == nil && (o.Get == nil || o.Put == nil) {
		return nil, paramError("Grep requires a Code or both Get and Put functions")
	}
	g := &Grep{}
	g.Modify(o)
	return g, nil
}

// Modify replaces the functions given (non-nil): Code both, or Get, Put.
func (f *Grep) Modify(o GrepOptions) {
	f.m.Modify(MapOptions{Code: keep(o.Code), Get: keep(o.Get), Put: keep(o.Put)})
}

// GetOneStart buffers records.
func (f *Grep) GetOneStart(records []any) { f.m.GetOneStart(records) }

// GetOne returns the next buffered record for which Get is true, skipping
// the others, or nothing.
func (f *Grep) GetOne() ([]any, error) { return f.m.GetOne() }

// Put returns the records for which Put is true.
func (f *Grep) Put(records []any) ([]any, error) { return f.m.Put(records) }

// GetPending returns the buffered (unfiltered) records, or nil.
func (f *Grep) GetPending() []any { return f.m.GetPending() }

// DiscardPending drops the buffered records.
func (f *Grep) DiscardPending() { f.m.DiscardPending() }

// Clone returns a Grep with the same functions and no buffered records.
func (f *Grep) Clone() Filter { return &Grep{m: Map{get: f.m.get, put: f.m.put}} }
