package freezer

import (
	"errors"
	"testing"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// TestConformance/I26 is docs/ikc-protocol.md case I26, "pure-Perl freezer round trip":
// a structure holding one referent twice keeps the sharing through freeze
// and thaw. The case names POE::Component::IKC::Freezer, whose payloads
// are Perl code run with eval; a Go peer refuses that freezer (docs/ikc-protocol.md §7.4),
// so the Go side of the case is that refusal plus the same round trip
// through every freezer Go does speak.
func TestConformance(t *testing.T) {
	t.Run("I26", func(t *testing.T) {
		if _, err := Lookup(NamePerlFreezer); !errors.Is(err, ErrEvalFreezer) {
			t.Fatalf("Lookup(%s) = %v, want ErrEvalFreezer", NamePerlFreezer, err)
		}
		for _, f := range []Freezer{Storable{}, YAML{}, FreezeThaw{}} {
			shared := storable.NewHash("k", storable.Bytes("v"), "n", storable.Int(7))
			in := storable.NewHash("a", shared, "b", storable.NewArray(shared, shared))
			frame, err := f.Freeze(in)
			if err != nil {
				t.Fatalf("%s: Freeze: %v", f.Name(), err)
			}
			out, err := f.Thaw(frame)
			if err != nil {
				t.Fatalf("%s: Thaw: %v\n%q", f.Name(), err, frame)
			}
			h, ok := out.(*storable.Hash)
			if !ok {
				t.Fatalf("%s: thawed %T", f.Name(), out)
			}
			var a, b storable.Value
			for _, e := range h.Entries {
				switch e.Key {
				case "a":
					a = e.Value
				case "b":
					b = e.Value
				}
			}
			arr, ok := b.(*storable.Array)
			if !ok || len(arr.Elems) != 2 {
				t.Fatalf("%s: b thawed as %#v", f.Name(), b)
			}
			if a == nil || a != arr.Elems[0] || a != arr.Elems[1] {
				t.Errorf("%s: sharing lost: a=%p b=%p,%p", f.Name(), a, arr.Elems[0], arr.Elems[1])
			}
		}
	})
}
