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

// Limits is the budget of one payload, the same for every freezer (see
// storable.Limits): Thaw stops with an error wrapping ErrBudget as soon as
// the value it builds, counted with its conversion to plain Go values,
// would take more. The zero Limits is the default: storable.MinBytes plus
// storable.BytesPerPayloadByte (16) bytes per payload byte.
type Limits = storable.Limits

// ErrBudget is storable.ErrBudget: a payload that would cost more memory
// (or more values) than its Limits allow.
var ErrBudget = storable.ErrBudget

// WithLimits returns a copy of f whose Thaw enforces l instead of the
// default budget. Freezers of other packages are returned unchanged.
func WithLimits(f Freezer, l Limits) Freezer {
	switch x := f.(type) {
	case Storable:
		x.Options.Limits = l
		return x
	case *Storable:
		c := *x
		c.Options.Limits = l
		return c
	case YAML:
		x.Limits = l
		return x
	case *YAML:
		return YAML{Limits: l}
	case FreezeThaw:
		x.Limits = l
		return x
	case *FreezeThaw:
		return FreezeThaw{Limits: l}
	}
	return f
}

// Storable is the Storable freezer (nfreeze / thaw).
type Storable struct {
	// Decode options: depth limit and budget (Options.Limits).
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
	// The program's own data: no budget.
	return storable.DecodeLimits(b, storable.Limits{MaxElements: -1, MaxBytes: -1})
}

// DefaultFrameBudget returns the limits the zero Limits gives a payload of
// n bytes (storable.DefaultLimits).
func DefaultFrameBudget(n int) Limits { return storable.DefaultLimits(n) }
