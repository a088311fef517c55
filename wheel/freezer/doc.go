// Package freezer implements what an IKC peer needs to exchange Perl data
// after negotiation: the POE::Filter::Reference framing
// (<decimal length> NUL <payload>), the serializer ("freezer") names a
// Perl peer proposes, and the serializers themselves: Storable (package
// storable, complete), YAML (YAML.pm's dialect) and FreezeThaw for the data
// shapes IKC sends. The Data::Dumper based POE::Component::IKC::Freezer is
// refused: its payloads are Perl source the receiver evals.
//
// All serializers map to the same Perl value model, storable.Value, and
// follow its rules for shared and cyclic data (see package storable): a
// YAML anchor and its aliases, or a FreezeThaw repeated entry and its
// back-references, thaw to one *storable.Array, *storable.Hash or
// *storable.Ref, convert once, and freeze once again; cycles are kept
// where the Go value can hold them and fail with storable.ErrCycle where
// not.
//
// Every Thaw spends a budget of its payload (Limits, the same for the three
// freezers): by default storable.MinBytes plus 16 bytes per payload byte,
// counting the thawed value and its conversion to plain Go values. A
// payload over budget fails with an error wrapping ErrBudget before the
// memory is taken. WithLimits sets other limits, as a server does per
// connection.
package freezer
