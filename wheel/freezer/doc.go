// Package freezer implements what an IKC peer needs to exchange Perl data
// after negotiation: the POE::Filter::Reference framing
// (<decimal length> NUL <payload>), the serializer ("freezer") names a
// Perl peer proposes, and the serializers themselves: Storable (package
// storable, complete), YAML (YAML.pm's dialect) and FreezeThaw for the data
// shapes IKC sends. The Data::Dumper based POE::Component::IKC::Freezer is
// refused: its payloads are Perl source the receiver evals.
//
// All serializers map to the same Perl value model, storable.Value.
package freezer
