package storable

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func goldenBin(t testing.TB, prefix string) []byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(goldenDir(t), "storable", prefix+"-*.bin"))
	if len(files) != 1 {
		t.Fatalf("golden vector %s not found", prefix)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type rsvp struct {
	Kernel  string `perl:"kernel"`
	Session int    `perl:"session"`
	State   string `perl:"state"`
}

type callRequest struct {
	Event  string `perl:"event"`
	Params []int  `perl:"params"`
	Rsvp   *rsvp  `perl:"rsvp,omitempty"`
}

// TestMarshalGolden: Go values marshal to the exact bytes Perl's nfreeze
// wrote for the same data (canonical key order).
func TestMarshalGolden(t *testing.T) {
	cases := []struct {
		vector string
		v      any
	}{
		{"01", nil},
		{"03", 0},
		{"04", -1},
		{"05", int8(127)},
		{"06", 128},
		{"07", -128},
		{"08", int32(-129)},
		{"09", uint8(255)},
		{"10", 256},
		{"11", math.MaxInt32},
		{"12", math.MinInt32},
		{"13", int64(1) << 31},
		{"14", int64(1) << 40},
		{"15", -(int64(1) << 40)},
		{"16", uint64(math.MaxUint64)},
		{"17", 1.5},
		{"18", 0.1 + 0.2},
		{"19", math.Pi},
		{"20", 4.0 / 2},
		{"21", 1e300},
		{"22", math.Inf(1)},
		{"23", math.NaN()},
		{"24", ""},
		{"25", "hello"},
		{"26", "42"},
		{"27", []byte("caf\xe9")},
		{"29", "☺"},
		{"30", strings.Repeat("x", 300)},
		{"31", strings.Repeat("☺", 100)},
		{"32", []any{}},
		{"33", []any{1, "a", nil}},
		{"35", [][]any{{1, 2}, {[]int{3}}}},
		{"36", map[string]int{}},
		{"37", map[string]int{"a": 1}},
		{"38", map[string]any{"b": 2, "a": 1, "c": []int{1}}},
		{"39", map[string]any{"list": []any{1, map[string]int{"b": 2}}, "name": "n", "none": nil}},
		{"41", map[string]int{"☺": 1}},
		{"42", map[string]int{"a": 1, "☺": 2}},
		{"46", []any{&Ref{Target: Bytes("x")}}},
		{"47", &Ref{Target: &Ref{Target: Int(1)}}},
		{"48", Object{Class: "Foo::Bar", Value: map[string]int{"a": 1}}},
		{"49", []any{Object{"Foo", map[string]any{}}, Object{"Foo", []any{}}}},
		{"50", Object{Class: strings.Repeat("A", 130), Value: struct{}{}}},
		{"53", &Ref{Target: Bool(true)}},
		{"54", &Ref{Target: Bool(false)}},
		{"55", []bool{true, false}},
		{"56", map[string]any{"event": "poe://Server/test/posted", "params": []any{1, "two"}}},
		{"57", callRequest{Event: "poe://Server/test/add", Params: []int{2, 3}, Rsvp: &rsvp{"Client", 2, "answer"}}},
		{"57", &callRequest{Event: "poe://Server/test/add", Params: []int{2, 3}, Rsvp: &rsvp{"Client", 2, "answer"}}},
		{"58", map[string]any{
			"event":  rsvp{"Client", 2, "answer"},
			"from":   map[string]string{"kernel": "k1", "session": "test", "state": "IKC:proxy"},
			"params": 5,
		}},
		{"59", map[string]any{
			"event":    map[string]string{"kernel": "Client", "session": "IKC", "state": "remote_error"},
			"is_error": 1,
			"params":   []string{"Session 'nosuch' is not available for remote kernels.  Request poe://Server/nosuch/state", "Server", "check"},
		}},
	}
	for _, c := range cases {
		want := goldenBin(t, c.vector)
		got, err := Marshal(c.v)
		if err != nil {
			t.Errorf("vector %s: Marshal(%#v): %v", c.vector, c.v, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("vector %s: Marshal(%#v)\n got % x\nwant % x", c.vector, c.v, got, want)
		}
	}
}

func TestUnmarshalStruct(t *testing.T) {
	var req callRequest
	if err := Unmarshal(goldenBin(t, "57"), &req); err != nil {
		t.Fatal(err)
	}
	want := callRequest{Event: "poe://Server/test/add", Params: []int{2, 3}, Rsvp: &rsvp{"Client", 2, "answer"}}
	if !reflect.DeepEqual(req, want) {
		t.Errorf("got %+v, want %+v", req, want)
	}

	// Numbers arrive as strings when large or fractional.
	var nums struct {
		A int64   `perl:"a"`
		B float64 `perl:"b"`
		C uint64  `perl:"c"`
		D bool    `perl:"d"`
		E string  `perl:"e"`
		F []byte  `perl:"f"`
		G any     `perl:"g"`
		H Value   `perl:"h"`
	}
	data, err := Marshal(map[string]any{"a": int64(1) << 40, "b": 1.5, "c": uint64(math.MaxUint64), "d": "0", "e": 17, "f": []byte{0xff}, "g": []any{1, "x"}, "h": map[string]int{"k": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := Unmarshal(data, &nums); err != nil {
		t.Fatal(err)
	}
	if nums.A != 1<<40 || nums.B != 1.5 || nums.C != math.MaxUint64 || nums.D || nums.E != "17" || !bytes.Equal(nums.F, []byte{0xff}) {
		t.Errorf("got %+v", nums)
	}
	if !reflect.DeepEqual(nums.G, []any{int64(1), "x"}) {
		t.Errorf("any field: %#v", nums.G)
	}
	if h, ok := nums.H.(*Hash); !ok || h.Len() != 1 {
		t.Errorf("Value field: %#v", nums.H)
	}

	var wrong struct {
		Params map[string]int `perl:"params"`
	}
	var te *UnmarshalTypeError
	if err := Unmarshal(goldenBin(t, "57"), &wrong); !errors.As(err, &te) {
		t.Errorf("array into map: err = %v, want UnmarshalTypeError", err)
	} else if te.Path != ".params" {
		t.Errorf("path = %q", te.Path)
	}
}

func TestUnmarshalAny(t *testing.T) {
	var v any
	if err := Unmarshal(goldenBin(t, "49"), &v); err != nil {
		t.Fatal(err)
	}
	want := []any{Object{"Foo", map[string]any{}}, Object{"Foo", []any{}}}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("got %#v", v)
	}

	// A cycle survives: the array contains itself.
	if err := Unmarshal(goldenBin(t, "45"), &v); err != nil {
		t.Fatal(err)
	}
	a := v.([]any)
	if inner := a[0].([]any); &inner[0] != &a[0] {
		t.Errorf("cycle not kept")
	}

	var o Object
	if err := Unmarshal(goldenBin(t, "48"), &o); err != nil {
		t.Fatal(err)
	}
	if o.Class != "Foo::Bar" || !reflect.DeepEqual(o.Value, map[string]any{"a": int64(1)}) {
		t.Errorf("object: %#v", o)
	}
	var fields struct{ A int }
	o = Object{Value: &fields}
	if err := Unmarshal(goldenBin(t, "48"), &o); err != nil || fields.A != 1 || o.Class != "Foo::Bar" {
		t.Errorf("object into struct: %v %+v %q", err, fields, o.Class)
	}
}

func TestEncodeShared(t *testing.T) {
	s := NewArray(Int(1))
	root := NewArray(s, s)
	got, err := Encode(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := goldenBin(t, "43"); !bytes.Equal(got, want) {
		t.Errorf("got % x want % x", got, want)
	}
	self := NewArray()
	self.Elems = append(self.Elems, self)
	got, err = Encode(self)
	if err != nil {
		t.Fatal(err)
	}
	if want := goldenBin(t, "45"); !bytes.Equal(got, want) {
		t.Errorf("got % x want % x", got, want)
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"wrong magic", []byte("52.101"), ErrBadMagic},
		{"native order", []byte{0x04, 0x0b, 0x08}, ErrNativeOrder},
		{"future major", []byte{0x07, 0x00, 0x05}, ErrVersion},
		{"future minor", []byte{0x05, 0x0d, 0x05}, ErrVersion},
		{"absurd array", []byte{0x05, 0x0b, 0x02, 0xff, 0xff, 0xff, 0xff}, ErrTooLarge},
		{"absurd hash", []byte{0x05, 0x0b, 0x03, 0x7f, 0xff, 0xff, 0xff, 0x05}, ErrTooLarge},
		{"absurd string", []byte{0x05, 0x0b, 0x01, 0xff, 0xff, 0xff, 0xff, 'x'}, ErrTruncated},
		{"backref forward", []byte{0x05, 0x0b, 0x02, 0, 0, 0, 1, 0x04, 0x00, 0, 0, 0, 9}, ErrBadBackref},
		{"backref negative", []byte{0x05, 0x0b, 0x02, 0, 0, 0, 1, 0x04, 0x00, 0xff, 0xff, 0xff, 0xff}, ErrBadBackref},
		{"class index", []byte{0x05, 0x0b, 0x12, 0x00, 0x03, 0, 0, 0, 0}, ErrBadClassIndex},
		{"unknown opcode", []byte{0x05, 0x0b, 0x13}, ErrUnknownOpcode},
		{"tied hash", []byte{0x05, 0x0b, 0x0c, 0x03, 0, 0, 0, 0}, ErrUnknownOpcode},
		{"native double", []byte{0x05, 0x0b, 0x07, 0, 0, 0, 0, 0, 0, 0, 0}, ErrUnknownOpcode},
		{"locked key", []byte{0x05, 0x0b, 0x19, 0x01, 0, 0, 0, 1, 0x05, 0x04, 0, 0, 0, 1, 'a'}, ErrBadFlags},
		{"trailing", []byte{0x05, 0x0b, 0x05, 0x05}, ErrTrailingData},
		{"too deep", append([]byte{0x05, 0x0b}, bytes.Repeat([]byte{0x04}, 5000)...), ErrTooDeep},
		{"deep arrays", append([]byte{0x05, 0x0b}, bytes.Repeat([]byte{0x02, 0, 0, 0, 1, 0x04}, 3000)...), ErrTooDeep},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.data)
			if !errors.Is(err, c.want) {
				t.Fatalf("Decode(% x) = %v, want %v", c.data, err, c.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("%v is not a *SyntaxError", err)
			}
			t.Log(err)
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	for _, v := range []any{make(chan int), func() {}, map[float64]int{1: 1}, complex(1, 2)} {
		if _, err := Marshal(v); !errors.Is(err, ErrUnsupportedValue) {
			t.Errorf("Marshal(%T) = %v, want ErrUnsupportedValue", v, err)
		}
	}
	// A pointer that leads back to itself with no container on the way
	// has no Perl form, at the root or inside.
	var x any
	x = &x
	for _, v := range []any{x, []any{1, x}, map[string]any{"a": []any{x}}} {
		if _, err := Marshal(v); !errors.Is(err, ErrCycle) {
			t.Errorf("Marshal(%T with x = &x) = %v, want ErrCycle", v, err)
		}
	}
}

// Go's int and uint are 32 bits wide on 386 and arm: a Perl integer past
// them is a type error there, never a truncated value, and int64 holds it
// everywhere. The limits of this platform's int round-trip.
func TestUnmarshalIntWidth(t *testing.T) {
	const wide = int64(1) << 40
	const int32bit = math.MaxInt == math.MaxInt32
	data, err := Marshal([]any{wide, int64(math.MaxInt32) + 1, math.MaxInt, math.MinInt, uint(math.MaxUint)})
	if err != nil {
		t.Fatal(err)
	}
	var v []any
	if err := Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	one := func(i int) []byte {
		b, err := Marshal([]any{v[i]})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var i64 []int64
	if err := Unmarshal(one(0), &i64); err != nil || i64[0] != wide {
		t.Errorf("2^40 into int64: %v, %v", i64, err)
	}
	var ints []int
	err = Unmarshal(one(0), &ints)
	if int32bit {
		if err == nil {
			t.Errorf("2^40 into a 32-bit int: %v, want an error", ints)
		}
	} else if err != nil || int64(ints[0]) != wide {
		t.Errorf("2^40 into a 64-bit int: %v, %v", ints, err)
	}
	err = Unmarshal(one(1), &ints)
	if int32bit {
		if err == nil {
			t.Errorf("2^31 into a 32-bit int: %v, want an error", ints)
		}
	} else if err != nil || int64(ints[0]) != 1<<31 {
		t.Errorf("2^31 into a 64-bit int: %v, %v", ints, err)
	}
	for i, want := range []int{math.MaxInt, math.MinInt} {
		if err := Unmarshal(one(2+i), &ints); err != nil || ints[0] != want {
			t.Errorf("int limit %d: %v, %v", want, ints, err)
		}
	}
	var uints []uint
	if err := Unmarshal(one(4), &uints); err != nil || uints[0] != math.MaxUint {
		t.Errorf("uint limit: %v, %v", uints, err)
	}
	var i32 []int32
	if err := Unmarshal(one(1), &i32); err == nil {
		t.Errorf("2^31 into int32: %v, want an error", i32)
	}
}
