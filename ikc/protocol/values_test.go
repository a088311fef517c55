package protocol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

func TestToValueScalarsAsPerl(t *testing.T) {
	// Perl 5.36 / Storable 3.26: nfreeze([!!1, !!0, 18446744073709551615])
	// writes the booleans as the strings "1" and "", the large unsigned
	// integer as its digits.
	perl, _ := hex.DecodeString("050b02000000030a01310a000a143138343436373434303733373039353531363135")
	v, err := ToValue([]any{true, false, uint64(math.MaxUint64)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := storable.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, perl) {
		t.Fatalf("ToValue then Encode:\n got % x\nwant % x", got, perl)
	}
	m, _ := storable.Marshal([]any{true, false, uint64(math.MaxUint64)})
	if !bytes.Equal(m, perl) {
		t.Fatalf("storable.Marshal disagrees: % x", m)
	}
	for in, want := range map[any]storable.Value{
		true: storable.Bytes("1"), false: storable.Bytes(""),
		uint64(math.MaxInt64): storable.Int(math.MaxInt64), uint64(math.MaxInt64 + 1): storable.Bytes("9223372036854775808"),
	} {
		if got, err := ToValue(in); err != nil || got != want {
			t.Errorf("ToValue(%T %v) = %#v, %v; want %#v", in, in, got, err, want)
		}
	}
}

func TestToValueSharedAndCyclic(t *testing.T) {
	s := make([]any, 1)
	s[0] = s
	v, err := ToValue(s)
	if err != nil {
		t.Fatal(err)
	}
	if a := v.(*storable.Array); a.Elems[0] != storable.Value(a) {
		t.Fatal("[]any containing itself: not a Perl cycle")
	}
	m := map[string]any{}
	m["self"] = m
	m["list"] = []any{m}
	v, err = ToValue(m)
	if err != nil {
		t.Fatal(err)
	}
	h := v.(*storable.Hash)
	if self, _ := h.Get("self"); self != storable.Value(h) {
		t.Fatal("map containing itself: not a Perl cycle")
	}
	// Typed containers and struct pointers too.
	type node struct{ Next *node }
	n := &node{}
	n.Next = n
	ts := [][]int{{1}}
	ts = append(ts, ts[0])
	v, err = ToValue([]any{n, n, ts})
	if err != nil {
		t.Fatal(err)
	}
	el := v.(*storable.Array).Elems
	if el[0] != el[1] {
		t.Error("one struct pointer twice: two hashes")
	}
	if nh := el[0].(*storable.Hash); func() storable.Value { x, _ := nh.Get("Next"); return x }() != storable.Value(nh) {
		t.Error("struct pointer cycle lost")
	}
	if inner := el[2].(*storable.Array).Elems; inner[0] != inner[1] {
		t.Error("one [][]int element twice: two arrays")
	}

	// 26 levels of [$x, $x]: 27 arrays, at once.
	x := []any{int64(1)}
	for i := 0; i < 26; i++ {
		x = []any{x, x}
	}
	start := time.Now()
	v, err = ToValue(x)
	if err != nil || time.Since(start) > time.Second {
		t.Fatalf("shared levels: %v after %v", err, time.Since(start))
	}
	for a := v.(*storable.Array); len(a.Elems) == 2; a = a.Elems[0].(*storable.Array) {
		if a.Elems[0] != a.Elems[1] {
			t.Fatal("shared level converted twice")
		}
	}
	// A pointer loop has no Perl form.
	var loop any
	loop = &loop
	if _, err := ToValue([]any{loop}); !errors.Is(err, storable.ErrCycle) {
		t.Fatalf("pointer loop: %v, want ErrCycle", err)
	}
}

// hostileFrames are the payloads of the field reports, built with the
// Storable encoder (byte-exact with Perl's nfreeze) and the YAML text a
// Perl peer sends.
func hostileFrames(t *testing.T) map[string]struct {
	f       freezer.Freezer
	payload []byte
} {
	req := func(p storable.Value) *storable.Hash {
		return storable.NewHash("event", storable.Bytes("x/y"), "params", storable.NewArray(p))
	}
	enc := func(v storable.Value) []byte {
		b, err := storable.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	selfA := &storable.Array{Elems: make([]storable.Value, 1)}
	selfA.Elems[0] = selfA
	selfH := &storable.Hash{}
	selfH.Set("h", selfH)
	lv := storable.NewArray(storable.Int(1))
	for i := 0; i < 26; i++ {
		lv = storable.NewArray(lv, lv)
	}
	return map[string]struct {
		f       freezer.Freezer
		payload []byte
	}{
		"storable self array": {freezer.Storable{}, enc(req(selfA))},
		"storable self hash":  {freezer.Storable{}, enc(req(selfH))},
		"storable 26 shared":  {freezer.Storable{}, enc(req(lv))},
		"yaml self anchor":    {freezer.YAML{}, []byte("--- &1\na: *1\n")},
		"yaml self sequence":  {freezer.YAML{}, []byte("--- &1\n- *1\n")},
	}
}

// TestHostileRoundTrip is what an IKC server does with such a frame:
// thaw, FromValue for the handler, ToValue of what it returns, freeze.
func TestHostileRoundTrip(t *testing.T) {
	for name, c := range hostileFrames(t) {
		t.Run(name, func(t *testing.T) {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			before := ms.TotalAlloc
			start := time.Now()
			v, err := c.f.Thaw(c.payload)
			if err != nil {
				t.Fatal(err)
			}
			g := FromValue(v)
			if g == nil {
				t.Fatal("FromValue gave nil")
			}
			back, err := ToValue(g)
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.f.Freeze(back)
			if err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&ms)
			if alloc := ms.TotalAlloc - before; alloc > 1<<20 {
				t.Errorf("took %d bytes", alloc)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			if len(out) > 4*len(c.payload)+64 {
				t.Errorf("%d bytes in, %d out", len(c.payload), len(out))
			}
			// The same structure again.
			v2, err := c.f.Thaw(out)
			if err != nil {
				t.Fatal(err)
			}
			if !sameShape(FromValue(v2), g, map[[2]unsafe.Pointer]bool{}) {
				t.Errorf("round trip changed the structure:\n%q\n%q", c.payload, out)
			}
		})
	}
}

// sameShape compares plain Go values with cycles, following identity.
func sameShape(a, b any, seen map[[2]unsafe.Pointer]bool) bool {
	ra, rb := reflect.ValueOf(a), reflect.ValueOf(b)
	if ra.Kind() != rb.Kind() {
		return false
	}
	switch ra.Kind() {
	case reflect.Slice, reflect.Map:
		k := [2]unsafe.Pointer{ra.UnsafePointer(), rb.UnsafePointer()}
		if seen[k] {
			return true
		}
		seen[k] = true
		if ra.Len() != rb.Len() {
			return false
		}
		if ra.Kind() == reflect.Slice {
			for i := 0; i < ra.Len(); i++ {
				if !sameShape(ra.Index(i).Interface(), rb.Index(i).Interface(), seen) {
					return false
				}
			}
			return true
		}
		for _, k := range ra.MapKeys() {
			vb := rb.MapIndex(k)
			if !vb.IsValid() || !sameShape(ra.MapIndex(k).Interface(), vb.Interface(), seen) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func TestFromValueScalarCycle(t *testing.T) {
	r := &storable.Ref{}
	r.Target = r
	if g := FromValue(storable.NewArray(r)); g != nil {
		t.Fatalf("FromValue of [\\$x] with $x = \\$x: %#v, want nil", g)
	}
}
