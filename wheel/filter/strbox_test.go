package filter

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// The boxed strings are ordinary strings: equal, assertable, printable,
// usable as map keys, and intact after the blocks they live in filled up
// and garbage collections ran.
func TestStringBoxValues(t *testing.T) {
	var x stringBox
	var got []any
	var want []string
	for i := 0; i < 5000; i++ {
		s := fmt.Sprintf("line %d %s", i, strings.Repeat("x", i%300))
		b := []byte(s)
		got = append(got, x.box(b))
		for j := range b {
			b[j] = '!' // the record must not share the input's bytes
		}
		want = append(want, s)
		if i%1000 == 0 {
			runtime.GC()
		}
	}
	runtime.GC()
	seen := map[any]int{}
	for i, v := range got {
		s, ok := v.(string)
		if !ok || s != want[i] || fmt.Sprint(v) != want[i] {
			t.Fatalf("record %d = %#v, want %q", i, v, want[i])
		}
		seen[v] = i
	}
	if seen[want[42]] != 42 {
		t.Fatal("a boxed string is not found as a map key by its value")
	}
	if v := x.box(nil); v != "" {
		t.Fatalf("empty record %#v", v)
	}
}

// Short lines cost almost no allocation each; the record a program keeps
// still reads back right.
func TestStringBoxAllocs(t *testing.T) {
	var x stringBox
	line := []byte("0123456789abcdef")
	var keep any
	n := testing.AllocsPerRun(10000, func() { keep = x.box(line) })
	if n > 0.05 {
		t.Errorf("%.3f allocations per short line, want about 1/64", n)
	}
	if keep != "0123456789abcdef" {
		t.Fatalf("kept %#v", keep)
	}
}

// The Line filter's string records: at most a few percent of an
// allocation per line.
func TestLineStringRecordAllocs(t *testing.T) {
	f, err := NewLine(LineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	chunk := []byte(strings.Repeat("0123456789abcdef\r\n", 100))
	var last any
	n := testing.AllocsPerRun(200, func() {
		f.GetOneStartBytes(chunk)
		for {
			recs, err := f.GetOne()
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			last = recs[0]
		}
	})
	if per := n / 100; per > 0.05 {
		t.Errorf("%.3f allocations per line, want about 1/64", per)
	}
	if last != "0123456789abcdef" {
		t.Fatalf("last record %#v", last)
	}
}
