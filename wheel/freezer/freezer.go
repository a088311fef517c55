package freezer

import (
	"errors"
	"fmt"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// Freezer names as Perl peers write them in FREEZER negotiation lines.
const (
	NameStorable   = "Storable"
	NameYAML       = "YAML"
	NameFreezeThaw = "FreezeThaw"
	// NamePerlFreezer is the Data::Dumper based serializer whose payloads
	// the receiving Perl peer runs with eval. It is always refused.
	NamePerlFreezer = "POE::Component::IKC::Freezer"
)

var (
	// ErrUnknownFreezer: a freezer name this package does not implement.
	ErrUnknownFreezer = errors.New("freezer: unknown freezer")
	// ErrEvalFreezer: POE::Component::IKC::Freezer was proposed. Its
	// payloads are Perl source code the Perl receiver evals; accepting it
	// would let a peer run arbitrary code on Perl hosts, and reading it
	// would mean parsing Perl. It is refused (answer NOT).
	ErrEvalFreezer = errors.New("freezer: POE::Component::IKC::Freezer refused: its payloads are Perl code run with eval")
)

// Freezer serializes one message per payload.
type Freezer interface {
	// Name is the negotiation name ("Storable", "YAML", "FreezeThaw").
	Name() string
	// Freeze serializes v: a storable.Value as is, any other Go value as
	// storable.Marshal describes.
	Freeze(v any) ([]byte, error)
	// Thaw deserializes a payload into the Perl value model: the reference
	// the Perl peer froze (for IKC, a *storable.Hash).
	Thaw(payload []byte) (storable.Value, error)
}

// Lookup returns the freezer for a negotiation name. The Data::Dumper
// freezer gives ErrEvalFreezer, unknown names ErrUnknownFreezer.
func Lookup(name string) (Freezer, error) {
	switch name {
	case NameStorable:
		return Storable{}, nil
	case NameYAML:
		return YAML{}, nil
	case NameFreezeThaw:
		return FreezeThaw{}, nil
	case NamePerlFreezer:
		return nil, ErrEvalFreezer
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownFreezer, name)
}

// Choose picks the first name in offered (an IKC0 FREEZER= list, in the
// peer's order of preference) that Lookup accepts and that is allowed. With
// no allowed list, only Storable is chosen (the safe policy of docs/ikc-protocol.md §5.5).
// ok is false if nothing is acceptable.
func Choose(offered []string, allowed ...string) (f Freezer, ok bool) {
	if len(allowed) == 0 {
		allowed = []string{NameStorable}
	}
	for _, name := range offered {
		for _, a := range allowed {
			if name != a {
				continue
			}
			if f, err := Lookup(name); err == nil {
				return f, true
			}
		}
	}
	return nil, false
}

// Storable is the Storable freezer (nfreeze / thaw).
type Storable struct {
	// Decode options (depth limit).
	Options storable.DecodeOptions
}

// Name returns "Storable".
func (Storable) Name() string { return NameStorable }

// Freeze returns nfreeze of v.
func (Storable) Freeze(v any) ([]byte, error) { return storable.Marshal(v) }

// Thaw decodes an nfreeze payload.
func (s Storable) Thaw(p []byte) (storable.Value, error) { return s.Options.Decode(p) }

// toValue converts a Go value to the Perl value model.
func toValue(v any) (storable.Value, error) {
	if pv, ok := v.(storable.Value); ok {
		return pv, nil
	}
	b, err := storable.Marshal(v)
	if err != nil {
		return nil, err
	}
	return storable.Decode(b)
}
