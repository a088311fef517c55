package freezer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// goldenDir returns the repository's recorded Perl data (testdata/ikc at
// the module root).
func goldenDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "ikc")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("recorded Perl data missing: %v", err)
	}
	return dir
}

func readFrame(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f Framer
	f.Feed(b)
	p, ok, err := f.Next()
	if err != nil || !ok {
		t.Fatalf("%s: not one frame: ok=%v err=%v", path, ok, err)
	}
	if f.Buffered() != 0 {
		t.Fatalf("%s: %d bytes after the frame", path, f.Buffered())
	}
	return p
}

func toAny(t *testing.T, v storable.Value) any {
	t.Helper()
	var x any
	if err := storable.UnmarshalValue(v, &x); err != nil {
		t.Fatal(err)
	}
	return x
}

// The four values of testdata/ikc/freezers, as the Perl side built them.
func freezerValues() map[string]storable.Value {
	s := storable.NewArray(storable.Int(1))
	return map[string]storable.Value{
		"ikc-call": storable.NewHash(
			"event", storable.Bytes("poe://Server/test/add"),
			"params", storable.NewArray(storable.Int(2), storable.Int(3)),
			"rsvp", storable.NewHash("kernel", storable.Bytes("Client"), "session", storable.Int(2), "state", storable.Bytes("answer"))),
		"mixed": storable.NewArray(storable.Int(1), storable.Bytes("two"), storable.Undef{}, storable.Bytes(""), storable.Float(1.5),
			storable.NewHash("k", storable.Bytes("v"))),
		"shared":  storable.NewArray(s, s),
		"blessed": storable.NewArray(&storable.Hash{Class: "Foo::Bar", Entries: []storable.Entry{{Key: "a", Value: storable.Int(1)}}}),
	}
}

// TestFreezerGolden: each golden YAML and FreezeThaw frame thaws to the
// value Perl froze, and freezing that value gives the frame's bytes.
func TestFreezerGolden(t *testing.T) {
	dir := filepath.Join(goldenDir(t), "freezers")
	for _, ser := range []string{NameYAML, NameFreezeThaw} {
		for name, want := range freezerValues() {
			file := ser + "." + name + ".frame"
			t.Run(file, func(t *testing.T) {
				payload := readFrame(t, filepath.Join(dir, file))
				f, err := Lookup(ser)
				if err != nil {
					t.Fatal(err)
				}
				got, err := f.Thaw(payload)
				if err != nil {
					t.Fatalf("Thaw: %v\n%s", err, payload)
				}
				// Both formats carry numbers as strings: compare the
				// Perl string forms.
				if g, w := stringify(toAny(t, got)), stringify(toAny(t, want)); !reflect.DeepEqual(g, w) {
					t.Errorf("Thaw:\n got %#v\nwant %#v", g, w)
				}
				if name == "shared" {
					a := got.(*storable.Array)
					if a.Elems[0] != a.Elems[1] {
						t.Errorf("sharing lost: %#v", a.Elems)
					}
				}
				out, err := f.Freeze(want)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out, payload) {
					t.Errorf("Freeze:\n got %q\nwant %q", out, payload)
				}
				again, err := f.Freeze(got)
				if err != nil || !bytes.Equal(again, payload) {
					t.Errorf("Freeze(Thaw(frame)): %v\n got %q\nwant %q", err, again, payload)
				}
			})
		}
	}
}

// stringify turns numbers into Perl strings so that YAML/FreezeThaw values
// (all strings) compare with typed ones.
func stringify(v any) any {
	switch x := v.(type) {
	case int64:
		return fmt.Sprint(x)
	case float64:
		return fmt.Sprint(x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = stringify(x[i])
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = stringify(e)
		}
		return out
	case storable.Object:
		return storable.Object{Class: x.Class, Value: stringify(x.Value)}
	}
	return v
}

func TestEvalFreezerRefused(t *testing.T) {
	if _, err := Lookup(NamePerlFreezer); !errors.Is(err, ErrEvalFreezer) {
		t.Errorf("Lookup(%s) = %v", NamePerlFreezer, err)
	}
	if _, err := Lookup("Capture::LocalOnly"); !errors.Is(err, ErrUnknownFreezer) {
		t.Errorf("unknown freezer: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(goldenDir(t), "freezers", "POE-Component-IKC-Freezer.*.frame"))
	if len(files) != 4 {
		t.Fatalf("%d Data::Dumper frames", len(files))
	}
	if f, ok := Choose([]string{NamePerlFreezer, NameYAML, NameStorable}); !ok || f.Name() != NameStorable {
		t.Errorf("Choose picked %v", f)
	}
	if _, ok := Choose([]string{NamePerlFreezer, "Capture::LocalOnly"}); ok {
		t.Errorf("Choose accepted an unacceptable list")
	}
	if f, ok := Choose([]string{NamePerlFreezer, NameYAML}, NamePerlFreezer, NameYAML); !ok || f.Name() != NameYAML {
		t.Errorf("Choose with YAML allowed: %v", f)
	}
}

type unit struct {
	Type          string `json:"type"`
	Offset        int    `json:"offset"`
	Length        int    `json:"length"`
	Freezer       string `json:"freezer"`
	PayloadOffset int    `json:"payload_offset"`
	PayloadLength int    `json:"payload_length"`
}

type conn struct {
	Connection int    `json:"connection"`
	C2S        []unit `json:"c2s"`
	S2C        []unit `json:"s2c"`
}

type stream struct {
	name   string
	raw    []byte
	units  []unit
	frames int // offset of the first frame (len(raw) if none)
}

func captureStreams(t *testing.T) []stream {
	dirs, _ := filepath.Glob(filepath.Join(goldenDir(t), "captures", "*"))
	sort.Strings(dirs)
	var out []stream
	for _, dir := range dirs {
		js, err := os.ReadFile(filepath.Join(dir, "frames.json"))
		if err != nil {
			t.Fatal(err)
		}
		var fr struct{ Connections []conn }
		if err := json.Unmarshal(js, &fr); err != nil {
			t.Fatal(err)
		}
		for _, c := range fr.Connections {
			for dirn, units := range map[string][]unit{"c2s": c.C2S, "s2c": c.S2C} {
				name := fmt.Sprintf("%s/conn%d.%s", filepath.Base(dir), c.Connection, dirn)
				raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("conn%d.%s.bin", c.Connection, dirn)))
				if err != nil {
					t.Fatal(err)
				}
				s := stream{name: name, raw: raw, units: units, frames: len(raw)}
				for _, u := range units {
					if u.Type == "frame" {
						s.frames = u.Offset
						break
					}
				}
				out = append(out, s)
			}
		}
	}
	return out
}

// TestCaptureFraming splits every recorded stream, fed in many
// segmentations, into exactly the frames frames.json lists, and thaws each
// Storable and YAML payload.
func TestCaptureFraming(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	total := 0
	for _, s := range captureStreams(t) {
		t.Run(s.name, func(t *testing.T) {
			var want [][]byte
			var kinds []string
			for _, u := range s.units {
				if u.Type == "frame" {
					want = append(want, s.raw[u.PayloadOffset:u.PayloadOffset+u.PayloadLength])
					kinds = append(kinds, u.Freezer)
				}
			}
			body := s.raw[s.frames:]
			for _, chunk := range []int{0, 1, 2, 3, 7, 64, -1} {
				var f Framer
				var got [][]byte
				for off := 0; off < len(body); {
					n := chunk
					if n == 0 {
						n = len(body)
					} else if n < 0 {
						n = 1 + rng.Intn(50)
					}
					n = min(n, len(body)-off)
					f.Feed(body[off : off+n])
					off += n
					for {
						p, ok, err := f.Next()
						if err != nil {
							t.Fatalf("chunk %d: %v", chunk, err)
						}
						if !ok {
							break
						}
						got = append(got, append([]byte(nil), p...))
					}
				}
				if len(got) != len(want) {
					t.Fatalf("chunk %d: %d frames, want %d", chunk, len(got), len(want))
				}
				for i := range got {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("chunk %d: frame %d differs", chunk, i)
					}
				}
				if f.Buffered() != 0 {
					t.Fatalf("chunk %d: %d bytes left over", chunk, f.Buffered())
				}
			}
			// Pull style over the whole stream: negotiation lines and the
			// first frames arrive together in one read; the line reader and
			// the frame reader share one bufio.Reader.
			br := bufio.NewReader(iotest.HalfReader(bytes.NewReader(s.raw)))
			for _, u := range s.units {
				if u.Type != "line" {
					break
				}
				line := make([]byte, u.Length)
				if _, err := io.ReadFull(br, line); err != nil {
					t.Fatal(err)
				}
			}
			r := NewReader(br, 0)
			for i, w := range want {
				p, err := r.ReadFrame()
				if err != nil {
					t.Fatalf("ReadFrame %d: %v", i, err)
				}
				if !bytes.Equal(p, w) {
					t.Fatalf("ReadFrame %d differs", i)
				}
				var f Freezer
				switch kinds[i] {
				case NameStorable:
					f = Storable{}
				case NameYAML:
					f = YAML{}
				}
				if f != nil && !strings.Contains(s.name, "p4-") {
					v, err := f.Thaw(p)
					if err != nil {
						t.Errorf("frame %d: %s Thaw: %v", i, kinds[i], err)
					}
					if kinds[i] == NameYAML {
						out, err := DumpYAML(v)
						if err != nil || !bytes.Equal(out, p) {
							t.Errorf("frame %d: YAML re-dump %v\n got %q\nwant %q", i, err, out, p)
						}
					}
				}
				total++
			}
			if _, err := r.ReadFrame(); err != io.EOF {
				t.Errorf("after the last frame: %v, want io.EOF", err)
			}
		})
	}
	t.Logf("%d frames", total)
}

func TestFramerErrors(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want error
	}{
		{"12x", 0, ErrBadHeader},
		{"\x00", 0, ErrBadHeader},
		{"SETUP\r\n", 0, ErrBadHeader},
		{"99999999999\x00", 0, ErrFrameTooLarge},
		{"1025\x00", 1024, ErrFrameTooLarge},
		{"000000000000000000001\x00x", 0, ErrBadHeader},
	}
	for _, c := range cases {
		f := Framer{MaxFrame: c.max}
		f.Feed([]byte(c.in))
		if _, _, err := f.Next(); !errors.Is(err, c.want) {
			t.Errorf("Framer %q: %v, want %v", c.in, err, c.want)
		}
		if _, err := NewReader(strings.NewReader(c.in), c.max).ReadFrame(); !errors.Is(err, c.want) {
			t.Errorf("Reader %q: %v, want %v", c.in, err, c.want)
		}
	}
	// Leading zeros are accepted, as Perl does.
	f := Framer{}
	f.Feed([]byte("003\x00abc"))
	if p, ok, err := f.Next(); !ok || err != nil || string(p) != "abc" {
		t.Errorf("leading zeros: %q %v %v", p, ok, err)
	}
	if _, err := NewReader(strings.NewReader("5\x00ab"), 0).ReadFrame(); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated payload: %v", err)
	}
	if _, err := NewReader(strings.NewReader("12"), 0).ReadFrame(); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated header: %v", err)
	}
	var buf bytes.Buffer
	if err := WriteFrame(&buf, []byte("hello")); err != nil || buf.String() != "5\x00hello" {
		t.Errorf("WriteFrame: %q %v", buf.String(), err)
	}
}

func TestYAMLShapes(t *testing.T) {
	// Values YAML.pm writes (see the README): every string form, blessed
	// and anchored data.
	doc := "---\na: ''\naa:\n  - &1\n    - 1\n  - *1\nb: ~\nbb: '  '\nc: \"multi\\nline\"\nh: café\nk: '~'\nkey with space: 1\nk:x: 2\nn: []\no: {}\np:\n  -\n    - 1\n    - 2\n  -\n    - 3\nq:\n  - a: 1\n    b: 2\n  - c: 3\nr: !!perl/ref\n  =: x\nrr: !!perl/hash:E {}\nt: !!perl/array:Foo\n  - 1\nu: !!perl/scalar:Bar x\ny: \"\\x01\"\nz: a\"b'c\n"
	v, err := ParseYAML([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	h := v.(*storable.Hash)
	get := func(k string) storable.Value {
		x, ok := h.Get(k)
		if !ok {
			t.Fatalf("key %q missing", k)
		}
		return x
	}
	checks := map[string]storable.Value{
		"a": storable.Bytes(""), "b": storable.Undef{}, "bb": storable.Bytes("  "), "c": storable.Bytes("multi\nline"),
		"h": storable.String("café"), "k": storable.Bytes("~"), "key with space": storable.Bytes("1"), "k:x": storable.Bytes("2"),
		"y": storable.Bytes("\x01"), "z": storable.Bytes(`a"b'c`),
	}
	for k, want := range checks {
		if got := get(k); got != want {
			t.Errorf("%s: got %#v want %#v", k, got, want)
		}
	}
	aa := get("aa").(*storable.Array)
	if aa.Elems[0] != aa.Elems[1] {
		t.Errorf("alias not shared")
	}
	if r := get("r").(*storable.Ref); r.Target != storable.Bytes("x") {
		t.Errorf("perl/ref: %#v", r)
	}
	if e := get("rr").(*storable.Hash); e.Class != "E" || e.Len() != 0 {
		t.Errorf("blessed empty hash: %#v", e)
	}
	if u := get("u").(*storable.Ref); u.Class != "Bar" || u.Target != storable.Bytes("x") {
		t.Errorf("blessed scalar: %#v", u)
	}
	q := get("q").(*storable.Array)
	if q.Elems[0].(*storable.Hash).Len() != 2 {
		t.Errorf("inline hash in sequence: %#v", q.Elems[0])
	}
	out, err := DumpYAML(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != doc {
		t.Errorf("re-dump differs:\n%s\nwant\n%s", out, doc)
	}
	for _, bad := range []string{"", "---\n- [1, 2]\n", "---\na: *9\n", "---\na: 1\n b: 2\n", "---\n- !!perl/code '{ 1 }'\n", "---\na: \"\\q\"\n", "\xff"} {
		if _, err := ParseYAML([]byte(bad)); !errors.Is(err, ErrYAML) {
			t.Errorf("ParseYAML(%q) = %v, want ErrYAML", bad, err)
		}
	}
}

// Lengths, counts and ids stop at 2^31-1 on every platform: a larger one
// is an error, never a wrapped int (on 32-bit, 4294967297 would be 1).
func TestFreezeThawNumberEdges(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int // -1: an error
	}{
		{"0|", 0},
		{"2147483647|", 2147483647},
		{"2147483648|", -1},
		{"4294967297|", -1},
		{"18446744073709551617|", -1},
		{"|", -1},
		{"12", -1},
	} {
		p := &ftParser{s: c.in}
		n, err := p.number()
		switch {
		case c.want < 0 && !errors.Is(err, ErrFreezeThaw):
			t.Errorf("number(%q) = %d, %v; want ErrFreezeThaw", c.in, n, err)
		case c.want >= 0 && (err != nil || n != c.want):
			t.Errorf("number(%q) = %d, %v; want %d", c.in, n, err, c.want)
		}
	}
	// Through the parser: a string length that wraps to 1 on 32-bit.
	for _, bad := range []string{"FrT;@1|$4294967297|x", "FrT;@1|$2147483647|x", "FrT;@4294967297|$1|x"} {
		if v, err := ParseFreezeThaw([]byte(bad)); !errors.Is(err, ErrFreezeThaw) {
			t.Errorf("ParseFreezeThaw(%q) = %v, %v; want ErrFreezeThaw", bad, v, err)
		}
	}
}

func TestFreezeThawErrors(t *testing.T) {
	for _, bad := range []string{"FrT;", "FrT;@2|$1|a", "FrT;<0|", "FrT;$99|x", "FrT;&$3|sub", "FrT;@1|%1|$1|a", "FrT;!0|@0|", "FrT;@1|>)7|@0|", "FrT;@1|$1|ab", "FrT;?$1|x@0|", "FrT;@99999999999|"} {
		if _, err := ParseFreezeThaw([]byte(bad)); !errors.Is(err, ErrFreezeThaw) {
			t.Errorf("ParseFreezeThaw(%q) = %v, want ErrFreezeThaw", bad, err)
		}
	}
	// A cycle: an array holding itself.
	c := storable.NewArray()
	c.Elems = append(c.Elems, c)
	b, err := DumpFreezeThaw(c)
	if err != nil {
		t.Fatal(err)
	}
	list, err := ParseFreezeThaw(b)
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	a := list[0].(*storable.Array)
	if a.Elems[0] != a {
		t.Errorf("%s: cycle lost", b)
	}
}

// TestFatalFramesSurvive: the frames that kill a Perl IKC server (p4: not
// Storable data, p5: an array instead of a hash) are plain errors or values
// here.
func TestFatalFramesSurvive(t *testing.T) {
	dir := filepath.Join(goldenDir(t), "captures")
	bad, err := os.ReadFile(filepath.Join(dir, "p4-probe-bad-frame", "conn1.c2s.bin"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Storable{}.Thaw(bad[59 : 59+5])
	var se *storable.SyntaxError
	if !errors.As(err, &se) {
		t.Errorf("p4 payload: %v, want a *storable.SyntaxError", err)
	}
	arr, err := os.ReadFile(filepath.Join(dir, "p5-probe-array-frame", "conn1.c2s.bin"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := Storable{}.Thaw(arr[60 : 60+21])
	if err != nil {
		t.Fatal(err)
	}
	if _, isHash := v.(*storable.Hash); isHash {
		t.Errorf("p5 payload thawed to a hash: %#v", v)
	}
}
