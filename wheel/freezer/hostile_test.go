package freezer

import (
	"errors"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// Hostile shapes as a Perl peer builds them (see storable's hostile tests).

// selfArray is @a = (\@a).
func selfArray() *storable.Array {
	a := &storable.Array{Elems: make([]storable.Value, 1)}
	a.Elems[0] = a
	return a
}

// selfHash is %h = (h => \%h).
func selfHash() *storable.Hash {
	h := &storable.Hash{}
	h.Set("h", h)
	return h
}

// sharedLevels is $x = [1]; $x = [$x, $x] for 1..n: 2**n paths, n+1
// arrays.
func sharedLevels(n int) *storable.Array {
	x := storable.NewArray(storable.Int(1))
	for i := 0; i < n; i++ {
		x = storable.NewArray(x, x)
	}
	return x
}

// textFreezers are the freezers without Perl's own sharing table.
var textFreezers = []Freezer{YAML{}, FreezeThaw{}}

// What YAML.pm 1.30 and FreezeThaw 0.5001 write for the cyclic shapes.
var perlCyclic = []struct {
	name, frozen string
	f            Freezer
}{
	{"selfArray", "--- &1\n- *1\n", YAML{}},
	{"selfHash", "--- &1\nh: *1\n", YAML{}},
	{"selfScalar", "--- &1 !!perl/ref\n=: *1\n", YAML{}},
	{"shared3", "---\n- &1\n  - &2\n    - &3\n      - 1\n    - *3\n  - *2\n- *1\n", YAML{}},
	{"selfArray", "FrT;!0|@0|@1|<0|@1|<0|", FreezeThaw{}},
	{"selfHash", "FrT;!0|%0|%2|$1|h<0|@1|<0|", FreezeThaw{}},
	{"selfScalar", "FrT;!0|\\_\\<0|@1|<0|", FreezeThaw{}},
	{"shared3", "FrT;!2|@0|@0|@0|@1|$1|1@2|<0|<0|@2|<1|<1|@1|@2|<2|<2|", FreezeThaw{}},
}

func TestPerlCyclesThawConvertFreeze(t *testing.T) {
	for _, c := range perlCyclic {
		v, err := c.f.Thaw([]byte(c.frozen))
		if err != nil {
			t.Fatalf("%s %s: %v", c.f.Name(), c.name, err)
		}
		var got any
		err = storable.UnmarshalValue(v, &got)
		switch c.name {
		case "selfArray":
			s := got.([]any)
			if in, ok := s[0].([]any); !ok || unsafe.SliceData(in) != unsafe.SliceData(s) {
				t.Errorf("%s %s: the []any does not contain itself", c.f.Name(), c.name)
			}
		case "selfHash":
			m := got.(map[string]any)
			if reflect.ValueOf(m["h"]).UnsafePointer() != reflect.ValueOf(m).UnsafePointer() {
				t.Errorf("%s %s: the map does not contain itself", c.f.Name(), c.name)
			}
		case "selfScalar":
			if !errors.Is(err, storable.ErrCycle) {
				t.Errorf("%s %s: converting gave %v, want ErrCycle", c.f.Name(), c.name, err)
			}
		case "shared3":
			s := got.([]any)
			if unsafe.SliceData(s[0].([]any)) != unsafe.SliceData(s[1].([]any)) {
				t.Errorf("%s %s: the shared array was converted twice", c.f.Name(), c.name)
			}
		}
		if c.name != "selfScalar" && err != nil {
			t.Errorf("%s %s: %v", c.f.Name(), c.name, err)
		}
		// Both the model and the converted value freeze as Perl froze.
		for _, x := range []any{v, got} {
			if x == nil {
				continue
			}
			out, err := c.f.Freeze(x)
			if err != nil || string(out) != c.frozen {
				t.Errorf("%s %s: Freeze(%T) = %q, %v; want %q", c.f.Name(), c.name, x, out, err, c.frozen)
			}
		}
	}
}

// TestSharedLevelsStayShared: $x = [$x, $x] 26 levels deep is 2**26
// paths but 27 arrays; freezing, thawing and converting must visit each
// array once, in both directions.
func TestSharedLevelsStayShared(t *testing.T) {
	for _, f := range textFreezers {
		start := time.Now()
		out, err := f.Freeze(sharedLevels(26))
		if err != nil || len(out) > 4096 {
			t.Fatalf("%s: Freeze: %d bytes, %v", f.Name(), len(out), err)
		}
		v, err := f.Thaw(out)
		if err != nil {
			t.Fatalf("%s: Thaw: %v", f.Name(), err)
		}
		var got any
		if err := storable.UnmarshalValue(v, &got); err != nil {
			t.Fatalf("%s: UnmarshalValue: %v", f.Name(), err)
		}
		arrays := 0
		for x := got; ; arrays++ {
			s, ok := x.([]any)
			if !ok {
				break
			}
			if len(s) == 2 && unsafe.SliceData(s[0].([]any)) != unsafe.SliceData(s[1].([]any)) {
				t.Fatalf("%s: level %d converted twice", f.Name(), arrays)
			}
			x = s[0]
		}
		if arrays != 27 {
			t.Fatalf("%s: %d levels, want 27", f.Name(), arrays)
		}
		again, err := f.Freeze(got)
		if err != nil || string(again) != string(out) {
			t.Fatalf("%s: Freeze of the converted value differs (%v):\n%s\n%s", f.Name(), err, again, out)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("%s: took %v", f.Name(), d)
		}
	}
}

// TestSharedGoValuesFrozenOnce: a Go slice, map or pointer referred to
// twice is written once and comes back shared; a pointer loop is refused.
func TestSharedGoValuesFrozenOnce(t *testing.T) {
	type node struct {
		Name string
		Next *node
	}
	s := []any{"a"}
	m := map[string]any{"k": "v"}
	for _, f := range textFreezers {
		out, err := f.Freeze(map[string]any{"s1": s, "s2": s, "m1": m, "m2": m})
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.Thaw(out)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := storable.UnmarshalValue(v, &got); err != nil {
			t.Fatal(err)
		}
		if unsafe.SliceData(got["s1"].([]any)) != unsafe.SliceData(got["s2"].([]any)) ||
			reflect.ValueOf(got["m1"]).UnsafePointer() != reflect.ValueOf(got["m2"]).UnsafePointer() {
			t.Errorf("%s: sharing lost: %q", f.Name(), out)
		}
		// A struct pointer loop is a hash that contains itself.
		n := &node{Name: "loop"}
		n.Next = n
		out, err = f.Freeze(n)
		if err != nil {
			t.Fatalf("%s: Freeze of a struct loop: %v", f.Name(), err)
		}
		var back *node
		if v, err = f.Thaw(out); err == nil {
			err = storable.UnmarshalValue(v, &back)
		}
		if err != nil || back.Next != back || back.Name != "loop" {
			t.Errorf("%s: struct loop came back as %+v, %v (%q)", f.Name(), back, err, out)
		}
		// A pointer to itself with no container between has no Perl form.
		var x any
		x = &x
		if _, err := f.Freeze([]any{x}); !errors.Is(err, storable.ErrCycle) {
			t.Errorf("%s: Freeze of x = &x: %v, want ErrCycle", f.Name(), err)
		}
	}
}

// allocated runs f and returns the bytes it allocated on the heap.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// undefArrays are arrays of n undefs, as cheap per element as each
// format allows.
func undefArrays(n int) map[Freezer][]byte {
	return map[Freezer][]byte{
		YAML{}:       []byte("---\n" + strings.Repeat("-\n", n)),
		FreezeThaw{}: []byte("FrT;@" + strconv.Itoa(n) + "|" + strings.Repeat("_", n)),
	}
}

func TestBudgetRefusesCheapElements(t *testing.T) {
	if strconv.IntSize == 32 {
		// Words are half as wide: these elements cost 16 bytes or less
		// each, within the default budget of 16 per payload byte.
		t.Skip("32-bit: the frame stays within the default budget")
	}
	// FreezeThaw's 16M-undef array, one byte an element: 512 MiB decoded
	// and converted, refused at its header. YAML's "-" lines take two
	// bytes: a million of them is over budget too.
	sizes := map[string]int{NameYAML: 1 << 20, NameFreezeThaw: 16 << 20}
	for _, f := range textFreezers {
		p := undefArrays(sizes[f.Name()])[f]
		var err error
		start := time.Now()
		alloc := allocated(func() { _, err = f.Thaw(p) })
		if !errors.Is(err, ErrBudget) || !errors.Is(err, storable.ErrBudget) {
			t.Fatalf("%s: Thaw: %v, want ErrBudget", f.Name(), err)
		}
		// What was built before the refusal is within the budget; the
		// reader's scratch and the payload's copy come on top.
		budget := DefaultFrameBudget(len(p)).MaxBytes
		if lim := uint64(budget*3/2 + len(p)); alloc > lim {
			t.Errorf("%s: refusing a %d byte payload allocated %d bytes", f.Name(), len(p), alloc)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: refusing took %v", f.Name(), d)
		}
		// Without a limit the same payload thaws.
		if f.Name() == NameYAML {
			v, err := WithLimits(f, Limits{MaxElements: -1, MaxBytes: -1}).Thaw(p)
			if err != nil || len(v.(*storable.Array).Elems) != 1<<20 {
				t.Fatalf("%s: unlimited Thaw: %v", f.Name(), err)
			}
		}
	}
}

func TestWithLimits(t *testing.T) {
	for _, f := range []Freezer{Storable{}, &Storable{}, YAML{}, &YAML{}, FreezeThaw{}, &FreezeThaw{}} {
		p, err := f.Freeze(storable.NewArray(storable.Undef{}, storable.Undef{}, storable.Undef{}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Thaw(p); err != nil {
			t.Fatalf("%T: default Thaw: %v", f, err)
		}
		small := WithLimits(f, Limits{MaxElements: 3})
		if small.Name() != f.Name() {
			t.Fatalf("%T: WithLimits changed the freezer to %s", f, small.Name())
		}
		if _, err := small.Thaw(p); !errors.Is(err, ErrBudget) {
			t.Errorf("%T: 4 values within MaxElements 3: %v, want ErrBudget", f, err)
		}
		if _, err := WithLimits(f, Limits{MaxElements: 4}).Thaw(p); err != nil {
			t.Errorf("%T: 4 values within MaxElements 4: %v", f, err)
		}
		if _, err := WithLimits(f, Limits{MaxBytes: 64}).Thaw(p); !errors.Is(err, ErrBudget) {
			t.Errorf("%T: MaxBytes 64: %v, want ErrBudget", f, err)
		}
	}
	// The Storable freezer stays a Storable (ikc reuses its Decoder).
	if _, ok := WithLimits(&Storable{}, Limits{}).(Storable); !ok {
		t.Error("WithLimits(*Storable) is not a Storable")
	}
}

func TestDefaultFrameBudget(t *testing.T) {
	if d := DefaultFrameBudget(100); d != storable.DefaultLimits(100) {
		t.Fatalf("DefaultFrameBudget(100) = %+v", d)
	}
}
