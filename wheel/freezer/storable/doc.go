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
package storable
