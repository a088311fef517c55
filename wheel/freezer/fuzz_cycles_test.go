package freezer

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// Fuzz targets for shared and cyclic data: thaw, convert to plain Go
// values, freeze both again. Whatever the input, each step must end in
// bounded time (budgets, sharing kept), never panic, and refuse only with
// the errors the model allows; what thaws must freeze again.

// hostileSeeds returns the hostile frames of every freezer: a
// self-referencing array and hash inside a request, a scalar that refers
// to itself, $x = [$x, $x] 26 levels deep, a YAML self-anchor, and 16M
// undef arrays announced by a header.
func hostileSeeds(tb testing.TB, f Freezer) [][]byte {
	req := func(v storable.Value) storable.Value {
		return storable.NewHash("event", storable.Bytes("x/y"), "params", storable.NewArray(v))
	}
	self := &storable.Ref{}
	self.Target = self
	var seeds [][]byte
	for _, v := range []storable.Value{req(selfArray()), req(selfHash()), selfHash(), req(self), sharedLevels(26), req(sharedLevels(26))} {
		p, err := f.Freeze(v)
		if err != nil {
			tb.Fatalf("%s: %v", f.Name(), err)
		}
		seeds = append(seeds, p)
	}
	switch f.Name() {
	case NameStorable:
		// nfreeze([ (undef) x 16M ]) cut after its header and one undef.
		seeds = append(seeds, []byte{0x05, 0x0b, 0x02, 0x01, 0x00, 0x00, 0x00, 0x0e})
	case NameYAML:
		seeds = append(seeds, []byte("--- &1\na: *1\n"), []byte("--- &1\n- *1\n"), []byte("--- &1 !!perl/ref\n=: *1\n"),
			[]byte("---\n"+strings.Repeat("-\n", 64)))
	case NameFreezeThaw:
		seeds = append(seeds, []byte("FrT;@1|@16777216|___"), []byte("FrT;!0|\\_\\<0|@1|<0|"))
	}
	for _, c := range perlCyclic {
		if c.f.Name() == f.Name() {
			seeds = append(seeds, []byte(c.frozen))
		}
	}
	return seeds
}

func fuzzCycles(f *testing.F, fz Freezer) {
	for _, s := range hostileSeeds(f, fz) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		// A hang must fail too, with the input saved: crash the worker.
		watchdog := time.AfterFunc(10*time.Second, func() {
			panic(fmt.Sprintf("%s: a %d byte input took over 10 s: %q", fz.Name(), len(p), p))
		})
		defer watchdog.Stop()
		v, err := fz.Thaw(p)
		if err != nil {
			return
		}
		if _, err := fz.Freeze(v); err != nil && fz.Name() != NameStorable {
			t.Fatalf("Freeze(Thaw(p)): %v", err)
		}
		var x any
		if err := storable.UnmarshalValue(v, &x); err != nil {
			if !errors.Is(err, storable.ErrCycle) && !errors.Is(err, storable.ErrUnsupportedValue) {
				t.Fatalf("UnmarshalValue: %v", err)
			}
			return
		}
		out, err := fz.Freeze(x)
		if err != nil {
			t.Fatalf("Freeze of the converted value: %v", err)
		}
		// The converted value's frame thaws and converts again, and is
		// then stable.
		v2, err := fz.Thaw(out)
		if err != nil {
			t.Fatalf("Thaw(Freeze(converted)): %v\n%q", err, out)
		}
		var y any
		if err := storable.UnmarshalValue(v2, &y); err != nil {
			t.Fatalf("UnmarshalValue again: %v", err)
		}
		again, err := fz.Freeze(y)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not stable (%v):\n%q\n%q", err, out, again)
		}
	})
}

func FuzzStorableCycles(f *testing.F)   { fuzzCycles(f, Storable{}) }
func FuzzYAMLCycles(f *testing.F)       { fuzzCycles(f, YAML{}) }
func FuzzFreezeThawCycles(f *testing.F) { fuzzCycles(f, FreezeThaw{}) }
