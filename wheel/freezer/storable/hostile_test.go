package storable

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"
	"unsafe"
)

// Hostile shapes, as a Perl peer builds them, inside an IKC-like request
// { event => "x/y", params => [ $x ] }.

// selfArray is @a = (\@a).
func selfArray() *Array {
	a := &Array{Elems: make([]Value, 1)}
	a.Elems[0] = a
	return a
}

// selfHash is %h = (h => \%h).
func selfHash() *Hash {
	h := &Hash{}
	h.Set("h", h)
	return h
}

// selfScalar is $x = \$x.
func selfScalar() *Ref {
	r := &Ref{}
	r.Target = r
	return r
}

// sharedLevels is $x = [1]; $x = [$x, $x] for 1..n: 2**n paths, n+1
// arrays.
func sharedLevels(n int) *Array {
	x := NewArray(Int(1))
	for i := 0; i < n; i++ {
		x = NewArray(x, x)
	}
	return x
}

func request(param Value) *Hash {
	return NewHash("event", Bytes("x/y"), "params", NewArray(param))
}

func mustEncode(t testing.TB, v Value) []byte {
	t.Helper()
	b, err := Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Perl's nfreeze of the cyclic shapes (Storable 3.26), byte for byte.
var perlCycles = map[string]string{
	"selfHash":   "050b03000000010400000000000000000168", // my %h; $h{h} = \%h; nfreeze(\%h)
	"selfScalar": "050b040000000000",                     // my $s; $s = \$s; nfreeze(\$s)
}

func TestCyclesDecodeEncodeExact(t *testing.T) {
	for name, h := range perlCycles {
		img, _ := hex.DecodeString(h)
		v, err := Decode(img)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		switch x := v.(type) {
		case *Hash:
			if got, _ := x.Get("h"); got != Value(x) {
				t.Errorf("%s: the hash does not contain itself: %#v", name, got)
			}
		case *Ref:
			// nfreeze(\$s): the root is \$s, whose target is $s = \$s.
			if in, ok := x.Target.(*Ref); !ok || in.Target != Value(in) {
				t.Errorf("%s: not a scalar that refers to itself: %#v", name, x.Target)
			}
		}
		if again := mustEncode(t, v); hex.EncodeToString(again) != h {
			t.Errorf("%s: Encode gives %x, Perl %s", name, again, h)
		}
		if _, err := ToJSON(v, nil); err != nil {
			t.Errorf("%s: ToJSON: %v", name, err)
		}
	}
}

func TestCyclesToAny(t *testing.T) {
	// The IKC frame of a self-referential array (96 bytes in the field).
	v, err := Decode(mustEncode(t, request(selfArray())))
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := UnmarshalValue(v, &got); err != nil {
		t.Fatal(err)
	}
	s := got.(map[string]any)["params"].([]any)[0].([]any)
	if in, ok := s[0].([]any); !ok || unsafe.SliceData(in) != unsafe.SliceData(s) {
		t.Fatalf("the []any does not contain itself: %#v", s[0])
	}

	v, _ = Decode(mustEncode(t, selfHash()))
	got = nil
	if err := UnmarshalValue(v, &got); err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	if reflect.ValueOf(m["h"]).UnsafePointer() != reflect.ValueOf(m).UnsafePointer() {
		t.Fatal("the map does not contain itself")
	}

	// A blessed cycle: Object values around the same map.
	bh := selfHash()
	bh.Class = "Node"
	v, _ = Decode(mustEncode(t, bh))
	got = nil
	if err := UnmarshalValue(v, &got); err != nil {
		t.Fatal(err)
	}
	o := got.(Object)
	inner := o.Value.(map[string]any)["h"].(Object)
	if o.Class != "Node" || reflect.ValueOf(inner.Value).UnsafePointer() != reflect.ValueOf(o.Value).UnsafePointer() {
		t.Fatalf("blessed cycle: %#v", o)
	}
}

func TestScalarCycleRefused(t *testing.T) {
	img, _ := hex.DecodeString(perlCycles["selfScalar"])
	v, err := Decode(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, dst := range []any{new(any), new(string), new(int), new([]any), new(*string)} {
		if err := UnmarshalValue(v, dst); !errors.Is(err, ErrCycle) {
			t.Errorf("into %T: %v, want ErrCycle", dst, err)
		}
	}
	// The model keeps it.
	var keep Value
	if err := UnmarshalValue(v, &keep); err != nil || keep != v {
		t.Errorf("into Value: %v", err)
	}
	// A blessed scalar cycle cannot be held by Object (a struct) either.
	b := selfScalar()
	b.Class = "Loop"
	if err := UnmarshalValue(b, new(any)); !errors.Is(err, ErrCycle) {
		t.Errorf("blessed scalar cycle: %v", err)
	}
	// Through a container the scalar reference leads somewhere: kept.
	a := &Array{}
	a.Elems = []Value{&Ref{Target: a}}
	var got any
	if err := UnmarshalValue(a, &got); err != nil {
		t.Fatal(err)
	}
	if s := got.([]any); unsafe.SliceData(s[0].([]any)) != unsafe.SliceData(s) {
		t.Fatal("[\\$x] with $x = that array: not the same slice")
	}
}

// TestCycleThroughSharedScalarRef: $r = \@a; $a[0] = $r; nfreeze(\$r).
// The array is referred to once in the image, the scalar reference twice:
// the array is reached again through it and must be converted once.
func TestCycleThroughSharedScalarRef(t *testing.T) {
	img := []byte{netorderHeader0, 0, sxRef, sxArray, 0, 0, 0, 1, sxObject, 0, 0, 0, 0}
	v, err := Decode(img)
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := UnmarshalValue(v, &got); err != nil {
		t.Fatalf("into any: %v", err)
	}
	if s := got.([]any); unsafe.SliceData(s[0].([]any)) != unsafe.SliceData(s) {
		t.Fatal("the array does not contain itself")
	}
	// Into a Value the model is kept as it is.
	var keep Value
	if err := UnmarshalValue(v, &keep); err != nil || keep != v {
		t.Fatalf("into Value: %v", err)
	}
}

func TestSharedConvertedOnce(t *testing.T) {
	// The 26-level frame: 27 arrays, 2**26 paths.
	img := mustEncode(t, request(sharedLevels(26)))
	if len(img) > 400 {
		t.Fatalf("frame of %d bytes", len(img))
	}
	start := time.Now()
	var got any
	var err error
	alloc := allocated(func() {
		var v Value
		if v, err = Decode(img); err == nil {
			err = UnmarshalValue(v, &got)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if alloc > 64<<10 {
		t.Errorf("decoding and converting took %d bytes", alloc)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	x := got.(map[string]any)["params"].([]any)[0].([]any)
	for depth := 0; depth < 26; depth++ {
		a, b := x[0].([]any), x[1].([]any)
		if unsafe.SliceData(a) != unsafe.SliceData(b) {
			t.Fatalf("level %d: the two references are different slices", depth)
		}
		x = a
	}
	if x[0] != int64(1) {
		t.Fatalf("leaf %#v", x)
	}
}

type selfTree []selfTree

type node struct {
	Name string
	Next *node
}

type cyc [1][]cyc

type byValue struct {
	Kids []byValue
}

func TestTypedCyclesAndSharing(t *testing.T) {
	// Each case on the Value built in Go and on the same Value decoded
	// (where Decode's record of sharing replaces the identity map).
	for _, decoded := range []bool{false, true} {
		in := func(v Value) Value {
			if !decoded {
				return v
			}
			d, err := Decode(mustEncode(t, v))
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		t.Run(map[bool]string{false: "built", true: "decoded"}[decoded], func(t *testing.T) { typedCases(t, in) })
	}
}

func typedCases(t *testing.T, in func(Value) Value) {
	// A slice may contain itself.
	var tr selfTree
	if err := UnmarshalValue(in(selfArray()), &tr); err != nil {
		t.Fatal(err)
	}
	if unsafe.SliceData(tr[0]) != unsafe.SliceData(tr) {
		t.Fatal("selfTree does not contain itself")
	}
	// Shared levels into a recursive slice type: once each.
	lv := NewArray()
	for i := 0; i < 26; i++ {
		lv = NewArray(lv, lv)
	}
	var st selfTree
	alloc := allocated(func() {
		if err := UnmarshalValue(in(lv), &st); err != nil {
			t.Error(err)
		}
	})
	if alloc > 64<<10 {
		t.Errorf("typed shared conversion took %d bytes", alloc)
	}
	if unsafe.SliceData(st[0]) != unsafe.SliceData(st[1]) {
		t.Error("typed shared levels: different slices")
	}

	// Pointers: $n = { Name => "a", Next => $n }.
	h := NewHash("Name", Bytes("a"))
	h.Set("Next", h)
	var n node
	if err := UnmarshalValue(in(h), &n); err != nil {
		t.Fatal(err)
	}
	if n.Name != "a" || n.Next == nil || n.Next.Next != n.Next {
		t.Fatalf("pointer cycle: %+v", n)
	}
	var pn *node
	if err := UnmarshalValue(in(h), &pn); err != nil || pn.Next != pn {
		t.Fatalf("pointer cycle through a pointer root: %v %+v", err, pn)
	}

	// A struct value cannot contain itself.
	k := &Hash{}
	k.Set("Kids", NewArray(k))
	var bv byValue
	if err := UnmarshalValue(in(k), &bv); !errors.Is(err, ErrCycle) {
		t.Fatalf("struct cycle: %v, want ErrCycle", err)
	}
	var ga [1]any
	if err := UnmarshalValue(in(selfArray()), &ga); err != nil {
		// [1]any holds the array by value, but its element is an any: the
		// inner reference converts as []any, which is fine.
		t.Fatalf("[1]any: %v", err)
	}
	// [1][]cyc: a Go array is a value, and the Perl array contains itself.
	outer := &Array{}
	outer.Elems = []Value{NewArray(outer)}
	var c cyc
	if err := UnmarshalValue(in(outer), &c); !errors.Is(err, ErrCycle) {
		t.Fatalf("Go array cycle: %v, want ErrCycle", err)
	}
	var aa [1]selfTree
	if err := UnmarshalValue(in(NewArray(selfArray())), &aa); err != nil || unsafe.SliceData(aa[0]) != unsafe.SliceData(aa[0][0]) {
		t.Fatalf("[1]selfTree: %v", err)
	}
}

type link struct {
	Name string `perl:"name"`
	Next *link  `perl:"next"`
}

func TestMarshalSharesGoContainers(t *testing.T) {
	same := func(name string, v any, want Value) {
		t.Helper()
		got, err := Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w := mustEncode(t, want); !bytes.Equal(got, w) {
			t.Errorf("%s:\n got % x\nwant % x", name, got, w)
		}
	}
	s := make([]any, 1)
	s[0] = s
	same("[]any containing itself", s, selfArray())
	m := map[string]any{}
	m["h"] = m
	same("map containing itself", m, selfHash())
	if b, _ := Marshal(m); hex.EncodeToString(b) != perlCycles["selfHash"] {
		t.Errorf("map containing itself: % x, Perl %s", b, perlCycles["selfHash"])
	}

	// 26 levels of [$x, $x]: 27 arrays written, not 2**26.
	x := []any{int64(1)}
	for i := 0; i < 26; i++ {
		x = []any{x, x}
	}
	same("shared levels", map[string]any{"event": "x/y", "params": []any{x}}, request(sharedLevels(26)))
	ty := [][]int{{1, 2}}
	ty = append(ty, ty[0])
	same("typed shared slice", ty, NewArray(NewArray(Int(1), Int(2))).withSecond())

	// Struct pointers: one hash each, cycles kept.
	l := &link{Name: "a"}
	l.Next = l
	h := NewHash("name", Bytes("a"))
	h.Set("next", h)
	same("struct pointer cycle", l, h)
	shared := &link{Name: "b"}
	pair := []*link{shared, shared}
	sh := NewHash("name", Bytes("b"), "next", Undef{})
	same("shared struct pointer", pair, NewArray(sh, sh))

	// Different slices of one array, and empty slices, stay apart.
	base := []any{int64(1), int64(2), int64(3)}
	same("sub-slices", []any{base[:2], base, []any{}, []any{}},
		NewArray(NewArray(Int(1), Int(2)), NewArray(Int(1), Int(2), Int(3)), NewArray(), NewArray()))
}

// withSecond appends a second reference to a's first element.
func (a *Array) withSecond() *Array {
	a.Elems = append(a.Elems, a.Elems[0])
	return a
}

// TestPlainAndTypedShareOneConversion: a referent reached as []any (or
// map[string]any) and as any is one Go slice (map), not one per route.
func TestPlainAndTypedShareOneConversion(t *testing.T) {
	var sl []any
	if err := UnmarshalValue(selfArray(), &sl); err != nil || unsafe.SliceData(sl[0].([]any)) != unsafe.SliceData(sl) {
		t.Fatalf("@a = (\\@a) into []any: %v, not one slice", err)
	}
	var m map[string]any
	if err := UnmarshalValue(selfHash(), &m); err != nil || reflect.ValueOf(m["h"]).UnsafePointer() != reflect.ValueOf(m).UnsafePointer() {
		t.Fatalf("%%h = (h => \\%%h) into map[string]any: %v, not one map", err)
	}
	a := NewArray(Int(1))
	var both struct {
		A any   `perl:"a"`
		B []any `perl:"b"`
		C []any `perl:"c"`
	}
	if err := UnmarshalValue(NewHash("a", a, "b", a, "c", a), &both); err != nil {
		t.Fatal(err)
	}
	if p := unsafe.SliceData(both.B); unsafe.SliceData(both.A.([]any)) != p || unsafe.SliceData(both.C) != p {
		t.Fatal("one array reached as any and as []any converted twice")
	}
}
