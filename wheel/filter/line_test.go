package filter_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/poe-go/poe/wheel/filter"
)

// standard is TestFilter.pm's test_filter_standard: get, clone clears the
// buffer, get_one_start only loads the buffer, get_one loop, put.
func standard(t *testing.T, f filter.Filter, in, out, put []any) {
	t.Helper()
	if diff := cmp.Diff(out, mustGet(t, f, in)); diff != "" {
		t.Errorf("get (-want +got):\n%s", diff)
	}
	f = f.Clone()
	if p := f.GetPending(); p != nil {
		t.Errorf("clone has pending %q", normList(p))
	}
	f.GetOneStart(in)
	var all, pend strings.Builder
	for _, c := range in {
		b, _ := filter.ChunkBytes(c)
		all.Write(b)
	}
	for _, c := range f.GetPending() {
		b, _ := filter.ChunkBytes(c)
		pend.Write(b)
	}
	if pend.String() != all.String() {
		t.Errorf("pending after get_one_start = %q, want %q", pend.String(), all.String())
	}
	var recs []any
	for {
		r, err := f.GetOne()
		if err != nil {
			t.Fatal(err)
		}
		if len(r) == 0 {
			break
		}
		recs = append(recs, normList(r)...)
	}
	if diff := cmp.Diff(out, recs); diff != "" {
		t.Errorf("get_one (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(put, mustPut(t, f, out)); diff != "" {
		t.Errorf("put (-want +got):\n%s", diff)
	}
}

// getEach feeds each chunk with its own get, as the autodetect tests do.
func getEach(t *testing.T, f filter.Filter, in ...string) []any {
	t.Helper()
	var recs []any
	for _, c := range in {
		recs = append(recs, mustGet(t, f, chunks(c))...)
	}
	return recs
}

func TestLineConformance(t *testing.T) {
	t.Run("C83", func(t *testing.T) {
		t.Run("default", func(t *testing.T) {
			standard(t, filter.MustLine(filter.LineOptions{}),
				chunks("a\r", "b\n", "c\r\n", "d\n\r"),
				strs("a", "b", "c", "d"),
				strs("a\r\n", "b\r\n", "c\r\n", "d\r\n"))
		})
		t.Run("Literal", func(t *testing.T) {
			standard(t, filter.MustLine(filter.LineOptions{Literal: "x"}),
				chunks("axa", "bxb", "cxc", "dxd"),
				strs("a", "ab", "bc", "cd"),
				strs("ax", "abx", "bcx", "cdx"))
		})
		t.Run("InputLiteral", func(t *testing.T) {
			f := filter.MustLine(filter.LineOptions{InputLiteral: "x", OutputLiteral: "y"})
			got := mustGet(t, f, chunks("axa", "bxb", "cxc", "dxd"))
			if diff := cmp.Diff(strs("a", "ab", "bc", "cd"), got); diff != "" {
				t.Error(diff)
			}
			if diff := cmp.Diff(strs("ay", "aby", "bcy", "cdy"), mustPut(t, f, got)); diff != "" {
				t.Error(diff)
			}
		})
		t.Run("InputRegexp", func(t *testing.T) {
			standard(t, filter.MustLine(filter.LineOptions{InputRegexp: "[xy]", OutputLiteral: "!"}),
				chunks("axa", "byb", "cxc", "dyd"),
				strs("a", "ab", "bc", "cd"),
				strs("a!", "ab!", "bc!", "cd!"))
		})
		autodetect := []struct {
			name    string
			in      []string
			put     []any
			pending string
		}{
			{"CR LF split", []string{"a\r", "\nb\r\n", "c\n\r", "\n"}, strs("a!", "b!", "c\n!"), ""},
			{"LF CR first", []string{"a\n\r", "\rb\n\r", "c\r", "\n\r"}, strs("a!", "\rb!", "c\r!"), ""},
			{"LF suspicious", []string{"a\n", "b\r\n", "c\r", "\n"}, strs("a!", "b\r!", "c\r!"), ""},
		}
		for _, tc := range autodetect {
			t.Run("autodetect "+tc.name, func(t *testing.T) {
				f := filter.MustLine(filter.LineOptions{Autodetect: true, OutputLiteral: "!"})
				recs := getEach(t, f, tc.in...)
				if diff := cmp.Diff(tc.put, mustPut(t, f, recs)); diff != "" {
					t.Error(diff)
				}
			})
		}
	})

	t.Run("C84", func(t *testing.T) {
		// Odd parameter lists and non-numeric limits cannot be written with
		// a typed options struct; an empty Literal is the zero value (no
		// Literal).
		bad := map[string]filter.LineOptions{
			"Literal and InputRegexp":    {Literal: "\n", InputRegexp: "\r"},
			"Literal and InputLiteral":   {Literal: "\n", InputLiteral: "\r"},
			"Literal and OutputLiteral":  {Literal: "\n", OutputLiteral: "\r"},
			"Literal and Autodetect":     {Literal: "\n", Autodetect: true},
			"InputLiteral, InputRegexp":  {InputLiteral: "\n", InputRegexp: "\r"},
			"Autodetect and InputRegexp": {Autodetect: true, InputRegexp: "\r"},
			"MaxLength > MaxBuffer":      {MaxLength: 10, MaxBuffer: 5},
			"MaxBuffer below default":    {MaxBuffer: 5},
			"negative MaxLength":         {MaxLength: -1},
			"negative MaxBuffer":         {MaxBuffer: -1},
			"bad regexp":                 {InputRegexp: "("},
			"regexp matching nothing":    {InputRegexp: "x*"},
		}
		for name, o := range bad {
			if f, err := filter.NewLine(o); err == nil || !errors.Is(err, filter.ErrParameter) || f != nil {
				t.Errorf("%s: %v, %v", name, f, err)
			}
		}
		data := chunks("This line is going to be to long for our filter\n")
		f := filter.MustLine(filter.LineOptions{MaxLength: 10})
		if _, err := filter.Get(f, data); !errors.Is(err, filter.ErrLineExceeds) || !strings.Contains(err.Error(), "line exceeds") {
			t.Errorf("MaxLength: %v", err)
		}
		f = filter.MustLine(filter.LineOptions{MaxLength: 5, MaxBuffer: 10})
		if _, err := filter.Get(f, data); !errors.Is(err, filter.ErrBufferExceeds) || !strings.Contains(err.Error(), "buffer exceeds") {
			t.Errorf("MaxBuffer: %v", err)
		}
		// The filter stays usable: the oversized chunk was dropped.
		if got := mustGet(t, f, chunks("ok\n")); !cmp.Equal(got, strs("ok")) {
			t.Errorf("after buffer error: %q", got)
		}
	})

	t.Run("C91", func(t *testing.T) {
		// Quirk A9 reproduced: the default terminator splits CR LF.
		f := filter.MustLine(filter.LineOptions{})
		got := append(mustGet(t, f, chunks("foo\r")), "|")
		got = append(got, mustGet(t, f, chunks("\nbar\r\n"))...)
		if diff := cmp.Diff(strs("foo", "|", "", "bar"), got); diff != "" {
			t.Error(diff)
		}
		f = filter.MustLine(filter.LineOptions{Autodetect: true})
		got = append(mustGet(t, f, chunks("foo\r")), "|")
		got = append(got, mustGet(t, f, chunks("\nbar\r\n"))...)
		if diff := cmp.Diff(strs("foo", "|", "bar"), got); diff != "" {
			t.Error(diff)
		}
	})
}

// TestLineE20 checks the remaining Line lines of experiment e20.
func TestLineE20(t *testing.T) {
	f := filter.MustLine(filter.LineOptions{})
	if diff := cmp.Diff(strs("a\r\n", "b\r\n"), mustPut(t, f, strs("a", "b"))); diff != "" {
		t.Error(diff)
	}
	mustGet(t, f, chunks("xyz"))
	if diff := cmp.Diff(strs("xyz"), normList(f.GetPending())); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff(strs("", "", ""), mustGet(t, filter.MustLine(filter.LineOptions{}), chunks("\n\n\n"))); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff(strs("ax"), mustPut(t, filter.MustLine(filter.LineOptions{Literal: "x"}), strs("a"))); diff != "" {
		t.Error(diff)
	}
}

func TestLineChunkTypes(t *testing.T) {
	f := filter.MustLine(filter.LineOptions{Literal: "\n"})
	f.GetOneStart([]any{"a\nb", []byte("c\n"), &filter.Bytes{B: []byte("d\n")}})
	f.GetOneStartBytes([]byte("e\n"))
	var got []any
	for {
		r, err := f.GetOne()
		if err != nil {
			t.Fatal(err)
		}
		if len(r) == 0 {
			break
		}
		got = append(got, r...)
	}
	if diff := cmp.Diff(strs("a", "bc", "d", "e"), got); diff != "" {
		t.Error(diff)
	}
	out := mustPut(t, f, []any{"a", []byte("b"), &filter.Bytes{B: []byte("c")}})
	if diff := cmp.Diff(strs("a\n", "b\n", "c\n"), out); diff != "" {
		t.Error(diff)
	}
	if _, err := f.Put([]any{42}); !errors.Is(err, filter.ErrRecordType) {
		t.Errorf("put(42): %v", err)
	}
	f.GetOneStart([]any{42})
	if _, err := f.GetOne(); !errors.Is(err, filter.ErrRecordType) {
		t.Errorf("get_one_start(42): %v", err)
	}
}

func TestLineBytesMode(t *testing.T) {
	f := filter.MustLine(filter.LineOptions{Bytes: true})
	in := &filter.Bytes{B: []byte("one\r\ntwo\nthree")}
	f.GetOneStart([]any{in})
	var got []string
	for {
		r, err := f.GetOne()
		if err != nil {
			t.Fatal(err)
		}
		if len(r) == 0 {
			break
		}
		got = append(got, string(r[0].(*filter.Bytes).B))
	}
	if diff := cmp.Diff([]string{"one", "two"}, got); diff != "" {
		t.Error(diff)
	}
	out, err := f.Put([]any{"a", []byte("bb"), &filter.Bytes{B: []byte("ccc")}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strs("a\r\n", "bb\r\n", "ccc\r\n"), normList(out)); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff(strs("three"), normList(f.GetPending())); diff != "" {
		t.Error(diff)
	}
}

// TestLineBytesZeroAlloc is the echo server's hot path: a read arrives,
// lines come out as *Bytes, each is put back. Nothing is allocated per line
// in steady state.
func TestLineBytesZeroAlloc(t *testing.T) {
	f := filter.MustLine(filter.LineOptions{Bytes: true})
	chunk := &filter.Bytes{B: []byte("hello world\r\nsecond line\r\npartial")}
	rest := &filter.Bytes{B: []byte(" line\r\n")}
	in := make([]any, 1)
	put := make([]any, 1)
	run := func() {
		for _, c := range []*filter.Bytes{chunk, rest} {
			in[0] = c
			f.GetOneStart(in)
			for {
				recs, err := f.GetOne()
				if err != nil || len(recs) == 0 {
					break
				}
				put[0] = recs[0]
				if _, err := f.Put(put); err != nil {
					t.Fatal(err)
				}
			}
		}
		f.GetOneStartBytes(chunk.B)
		for {
			recs, _ := f.GetOne()
			if len(recs) == 0 {
				break
			}
		}
		f.GetOneStartBytes(rest.B)
		f.GetOne()
	}
	run()
	if allocs := testing.AllocsPerRun(1000, run); allocs != 0 {
		t.Errorf("%v allocations per round", allocs)
	}
}

func TestStreamConformance(t *testing.T) {
	t.Run("C87", func(t *testing.T) {
		in := chunks("a", "bc", "def", "ghij", "klmno")
		f := filter.NewStream(filter.StreamOptions{})
		if diff := cmp.Diff(strs("abcdefghijklmno"), mustGet(t, f, in)); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(strs("a", "bc", "def", "ghij", "klmno"), mustPut(t, f, in)); diff != "" {
			t.Error(diff)
		}
		f.GetOneStart(in)
		if diff := cmp.Diff(strs("abcdefghijklmno"), normList(f.GetPending())); diff != "" {
			t.Error(diff)
		}
		r, err := f.GetOne()
		if diff := cmp.Diff(strs("abcdefghijklmno"), normList(r)); diff != "" || err != nil {
			t.Error(diff, err)
		}
		if r, err := f.GetOne(); len(r) != 0 || err != nil {
			t.Errorf("second get_one: %q %v", r, err)
		}
		if p := f.GetPending(); p != nil {
			t.Errorf("pending at the end: %q", p)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		f := filter.NewStream(filter.StreamOptions{Bytes: true})
		b := &filter.Bytes{B: []byte("abc")}
		in := []any{b}
		run := func() {
			f.GetOneStart(in)
			r, _ := f.GetOne()
			if string(r[0].(*filter.Bytes).B) != "abc" {
				t.Fatal("bad record")
			}
			f.Put(r)
		}
		run()
		if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
			t.Errorf("%v allocations", allocs)
		}
	})
}

func TestAppendPut(t *testing.T) {
	recs := []any{"a", []byte("bc"), &filter.Bytes{B: []byte("def")}, ""}
	for _, f := range []filter.Filter{
		filter.MustLine(filter.LineOptions{}),
		filter.MustLine(filter.LineOptions{Literal: "!", Bytes: true}),
		filter.NewStream(filter.StreamOptions{}),
	} {
		chunks, err := f.Put(recs)
		if err != nil {
			t.Fatal(err)
		}
		var want, got []byte
		for _, c := range chunks {
			b, _ := filter.ChunkBytes(c)
			want = append(want, b...)
		}
		for _, r := range recs {
			if got, err = f.(filter.PutAppender).AppendPut(got, r); err != nil {
				t.Fatal(err)
			}
		}
		if string(got) != string(want) {
			t.Errorf("%T: AppendPut %q, Put %q", f, got, want)
		}
		if _, err := f.(filter.PutAppender).AppendPut(nil, 42); err == nil {
			t.Errorf("%T: AppendPut(42) accepted", f)
		}
	}
}

func TestIdleBufferReleased(t *testing.T) {
	// A filter whose input is all consumed gives its buffer back: the
	// next GetOne finds nothing, and the pending data is still right
	// after more input.
	f := filter.MustLine(filter.LineOptions{Bytes: true})
	f.GetOneStartBytes([]byte("one\ntw"))
	recs, _ := f.GetOne()
	if len(recs) != 1 || recs[0].(*filter.Bytes).String() != "one" {
		t.Fatalf("got %v", recs)
	}
	if recs, _ := f.GetOne(); len(recs) != 0 {
		t.Fatalf("got %v", recs)
	}
	f.GetOneStartBytes([]byte("o\n"))
	recs, _ = f.GetOne()
	if len(recs) != 1 || recs[0].(*filter.Bytes).String() != "two" {
		t.Fatalf("got %v", recs)
	}
	if recs, _ := f.GetOne(); len(recs) != 0 || f.GetPending() != nil {
		t.Fatalf("got %v, pending %v", recs, f.GetPending())
	}
	f.GetOneStartBytes([]byte("three\n"))
	if recs, _ := f.GetOne(); len(recs) != 1 || recs[0].(*filter.Bytes).String() != "three" {
		t.Fatalf("got %v", recs)
	}
}

// A long line arriving in many small reads is scanned once, not once per
// read: 4 MiB in 256-octet pieces was 16k scans of up to 4 MiB (minutes
// under -race) before the filter remembered how far it had looked.
func TestLineLongLineInPiecesScansOnce(t *testing.T) {
	for _, c := range []struct {
		o          filter.LineOptions
		long, next int // lengths of the two lines, the terminator's CR kept where it is not part of it
	}{
		{filter.LineOptions{Bytes: true}, 4 << 20, 4},
		{filter.LineOptions{}, 4 << 20, 4},
		{filter.LineOptions{InputLiteral: "\r\n"}, 4 << 20, 4},
		{filter.LineOptions{InputLiteral: "\n"}, 4<<20 + 1, 5},
	} {
		f := filter.MustLine(c.o)
		piece := bytes.Repeat([]byte("x"), 256)
		start := time.Now()
		for i := 0; i < 4<<20/len(piece); i++ {
			f.GetOneStartBytes(piece)
			if recs, err := f.GetOne(); err != nil || len(recs) != 0 {
				t.Fatalf("%+v: piece %d: %v, %v before any terminator", c.o, i, recs, err)
			}
		}
		// The terminator cut in two by the reads, where a literal one
		// can be; the default one yields an empty line then (C91).
		var lens []int
		for _, in := range []string{"\r", "\nnext\r\n"} {
			f.GetOneStartBytes([]byte(in))
			for {
				recs, err := f.GetOne()
				if err != nil {
					t.Fatal(err)
				}
				if len(recs) == 0 {
					break
				}
				if b, _ := filter.ChunkBytes(recs[0]); len(b) > 0 {
					lens = append(lens, len(b))
				}
			}
		}
		if len(lens) != 2 || lens[0] != c.long || lens[1] != c.next {
			t.Errorf("%+v: lines of %v octets, want [%d %d]", c.o, lens, c.long, c.next)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%+v: 4 MiB in pieces took %v: scanned more than once", c.o, d)
		}
	}
}
