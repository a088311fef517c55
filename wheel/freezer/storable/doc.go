// Package storable reads and writes Perl's Storable network-order images
// (Storable::nfreeze / nstore), byte for byte as Perl does, in pure Go.
//
// Perl programs keep Storable blobs in caches, databases and queues, and
// POE::Component::IKC sends every message as one; this package makes them
// readable and writable from Go without Perl.
//
// Two levels of API:
//
//   - Marshal and Unmarshal work like encoding/json on Go values: structs
//     (tag `perl:"name,omitempty"`), maps, slices, strings, numbers, any.
//     Object carries a Perl class for blessed data.
//   - Decode and Encode work on Value, a model of Perl data that keeps
//     everything a Perl peer can send: undef, integers, byte strings versus
//     character strings, arrays with holes, hashes with byte or character
//     keys in stream order, scalar references, blessed objects, booleans,
//     and shared or cyclic references with their identity. Decoding then
//     encoding a Perl image gives the same bytes back.
//
// Decoding never panics on bad input: truncated data, a wrong header,
// absurd lengths, excessive nesting, bad back-references and unsupported
// opcodes (tied data, hooks, code references, native-order images) give a
// *SyntaxError wrapping a sentinel error such as ErrTruncated.
//
// ToJSON and FromJSON convert a Value to and from a JSON view with a few
// marker objects for what JSON cannot say (see examples/storable).
//
// # Shared and cyclic data
//
// Perl data may share a referent (two references to one array) or contain
// itself (push @a, \@a). The model keeps identity: Decode returns the same
// *Array, *Hash or *Ref for every reference to one Perl referent, cycles
// included, and Encode writes a referent once and then back-references to
// it, as nfreeze does. Every conversion converts a referent once, however
// often it is referenced, so a small image of shared data cannot expand:
//
//   - Unmarshal and UnmarshalValue into an any: all references to one Perl
//     array give the same []any (one backing array), to one hash the same
//     map[string]any. A []any or map may contain itself, so cycles are
//     kept. A scalar reference leading back to itself ($x = \$x) has no Go
//     form and fails with ErrCycle.
//   - into typed Go values: the same for slices, maps and pointers. Structs
//     and Go arrays are values: a further reference gets a copy, and a
//     cycle into one fails with ErrCycle.
//   - Marshal: the same Go slice (same first element and length), map or
//     struct pointer is one Perl array or hash referenced again; a cycle
//     through them is a Perl cycle. A Go pointer leading back to itself
//     with no container on the way fails with ErrCycle.
//
// Decode records which referents the image references more than once;
// conversions keep no identity map for the others. (So a decoded array or
// hash that Go code afterwards places in a second spot converts once per
// spot.) Recursion is bounded on every path: Decode by
// DecodeOptions.MaxDepth, conversions, Encode and ToJSON by a limit of
// about twice DefaultMaxDepth (ErrTooDeep, ErrUnsupportedValue).
//
// # Budgets
//
// Decode bounds the memory an image may cost (see Limits): by default
// MinBytes plus 16 bytes per image byte, counting the Value and its
// conversion to plain Go values; a larger image of tiny values fails with
// ErrBudget before the memory is taken.
package storable
