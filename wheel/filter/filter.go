// Package filter holds POE's filters: stateful converters between the raw
// chunks a driver reads and writes and the records a program handles
// (POE::Filter::Line, Stream, Block, Reference, Stackable, Map, Grep,
// RecordBlock). Filters work without sockets, so they test on their own.
package filter

// Filter is POE::Filter. Chunks facing the driver are []byte; records are
// whatever the filter produces (string for Line, []byte for Stream and
// Block, decoded values for Reference, []any for RecordBlock). In a
// Stackable, one filter's records are the next one's chunks, hence []any
// on both sides.
//
// Slices a filter returns (the record list of GetOne, the chunk list of
// Put, byte records it documents as views) belong to the filter and are
// valid until its next call: the hot path allocates nothing. Callers that
// keep them copy.
type Filter interface {
	// GetOneStart appends chunks to the input buffer without parsing.
	GetOneStart(chunks []any)
	// GetOne returns the next complete record(s), or none when no
	// complete record is buffered. A record that breaks a limit, or
	// input that cannot be decoded, is an error (POE dies instead).
	GetOne() ([]any, error)
	// Put serialises records into chunks; it does not touch the input
	// buffer.
	Put(records []any) ([]any, error)
	// GetPending returns the input not parsed yet (nil when there is
	// none) without clearing it.
	GetPending() []any
	// Clone returns a filter with the same configuration and empty
	// buffers.
	Clone() Filter
}

// Get is POE's get: GetOneStart, then GetOne until it returns nothing.
// It returns a new slice.
func Get(f Filter, chunks []any) ([]any, error) {
	f.GetOneStart(chunks)
	var out []any
	for {
		recs, err := f.GetOne()
		if err != nil {
			return out, err
		}
		if len(recs) == 0 {
			return out, nil
		}
		out = append(out, recs...)
	}
}
