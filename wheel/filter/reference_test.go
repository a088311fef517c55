package filter_test

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/poe-go/poe/wheel/filter"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// myFreezer is 07_reference.t's MyFreezer: reverse(join "\0", type,
// contents) for a scalar reference and an array blessed into Package.
type myFreezer struct{}

func (myFreezer) Freeze(v any) ([]byte, error) {
	var parts []string
	switch x := v.(type) {
	case *storable.Ref:
		s, _ := storable.Text(x.Target)
		parts = []string{"SCALAR", s}
	case *storable.Array:
		parts = []string{x.Class}
		for _, e := range x.Elems {
			s, _ := storable.Text(e)
			parts = append(parts, s)
		}
	default:
		return nil, fmt.Errorf("myFreezer: %T", v)
	}
	b := []byte(strings.Join(parts, "\x00"))
	slices.Reverse(b)
	return b, nil
}

func (myFreezer) Thaw(p []byte) (any, error) {
	b := slices.Clone(p)
	slices.Reverse(b)
	parts := strings.Split(string(b), "\x00")
	switch parts[0] {
	case "SCALAR":
		return &storable.Ref{Target: storable.Bytes(parts[1])}, nil
	case "Package":
		a := &storable.Array{Class: "Package"}
		for _, s := range parts[1:] {
			a.Elems = append(a.Elems, storable.Bytes(s))
		}
		return a, nil
	}
	return nil, errors.New("myFreezer: unknown thing")
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	pv, ok := v.(storable.Value)
	if !ok {
		t.Fatalf("record %T is not a storable.Value", v)
	}
	j, err := storable.ToJSON(pv, nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(j)
}

// perlish renders a value as Perl's is_deeply sees it: scalars by their
// string value (YAML does not keep 1 and "1" apart, nor does Perl).
func perlish(v any) string {
	switch x := v.(type) {
	case *storable.Ref:
		return x.Class + `\` + perlish(x.Target)
	case *storable.Array:
		var parts []string
		for _, e := range x.Elems {
			parts = append(parts, perlish(e))
		}
		return x.Class + "[" + strings.Join(parts, ",") + "]"
	case storable.Value:
		s, _ := storable.Text(x)
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("?%T", v)
}

func mustReference(t *testing.T, o filter.ReferenceOptions) *filter.Reference {
	t.Helper()
	f, err := filter.NewReference(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestReferenceConformance(t *testing.T) {
	t.Run("C86", func(t *testing.T) {
		yaml, err := filter.NamedSerializer("YAML")
		if err != nil {
			t.Fatal(err)
		}
		storableSer, _ := filter.NamedSerializer("Storable")
		sers := map[string]filter.Serializer{"default": nil, "named Storable": storableSer, "named YAML": yaml, "object": myFreezer{}}
		for name, ser := range sers {
			for _, compress := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s compression=%v", name, compress), func(t *testing.T) {
					scalarRef := &storable.Ref{Target: storable.Bytes("this is a test")}
					object := &storable.Array{Class: "Package", Elems: []storable.Value{storable.Int(1), storable.Int(1), storable.Int(2), storable.Int(3), storable.Int(5)}}
					if name == "object" {
						object = &storable.Array{Class: "Package", Elems: []storable.Value{storable.Bytes("1"), storable.Bytes("1"), storable.Bytes("2"), storable.Bytes("3"), storable.Bytes("5")}}
					}
					f := mustReference(t, filter.ReferenceOptions{Serializer: ser, Compression: compress})
					put, err := f.Put([]any{scalarRef, object})
					if err != nil {
						t.Fatal(err)
					}
					got, err := filter.Get(f, put)
					if err != nil {
						t.Fatal(err)
					}
					if len(got) != 2 {
						t.Fatalf("got %d records", len(got))
					}
					if diff := cmp.Diff(perlish(scalarRef), perlish(got[0])); diff != "" {
						t.Error(diff)
					}
					if diff := cmp.Diff(perlish(object), perlish(got[1])); diff != "" {
						t.Error(diff)
					}
				})
			}
		}

		// get_pending: the raw frames, decodable again.
		f := mustReference(t, filter.ReferenceOptions{})
		frozen, _ := f.Put([]any{[]int{2, 4, 6}})
		f.GetOneStart(frozen)
		recs, err := filter.Get(f, f.GetPending())
		if err != nil || len(recs) != 2 || jsonOf(t, recs[0]) != "[2,4,6]" || jsonOf(t, recs[1]) != "[2,4,6]" {
			t.Errorf("pending round trip: %v %v", recs, err)
		}

		// NoFatals: a bad payload is a string record.
		f = mustReference(t, filter.ReferenceOptions{NoFatals: true})
		recs, err = filter.Get(f, chunks("12\x00123456789012"))
		if err != nil || len(recs) != 1 {
			t.Fatalf("NoFatals: %v %v", recs, err)
		}
		if _, ok := recs[0].(string); !ok {
			t.Errorf("NoFatals record is %T", recs[0])
		}
		f = mustReference(t, filter.ReferenceOptions{NoFatals: true, MaxBuffer: 10})
		recs, err = filter.Get(f, chunks("12\x00123456789012"))
		if err != nil || len(recs) != 1 || !strings.Contains(fmt.Sprint(recs[0]), "buffer exceeds") {
			t.Errorf("NoFatals MaxBuffer: %q %v", recs, err)
		}
		// Without NoFatals these are errors.
		f = mustReference(t, filter.ReferenceOptions{})
		if _, err := filter.Get(f, chunks("12\x00123456789012")); err == nil {
			t.Error("bad payload: no error")
		}
		f = mustReference(t, filter.ReferenceOptions{MaxBuffer: 10})
		if _, err := filter.Get(f, chunks("12\x00123456789012")); !errors.Is(err, filter.ErrBufferExceeds) {
			t.Errorf("MaxBuffer: %v", err)
		}

		// Compression shortens compressible values.
		big := map[string]string{"text": strings.Repeat("all work and no play ", 100)}
		plain, _ := mustReference(t, filter.ReferenceOptions{}).Put([]any{big})
		packed, _ := mustReference(t, filter.ReferenceOptions{Compression: true}).Put([]any{big})
		if len(packed[0].([]byte)) >= len(plain[0].([]byte)) {
			t.Errorf("compressed %d >= plain %d", len(packed[0].([]byte)), len(plain[0].([]byte)))
		}

		// Non-references are refused.
		for _, v := range []any{"not a ref", 42, 1.5, true, nil, []byte("x"), storable.Bytes("x"), storable.Int(1), (*storable.Hash)(nil)} {
			if _, err := f.Put([]any{v}); !errors.Is(err, filter.ErrNotReference) {
				t.Errorf("put(%#v): %v", v, err)
			}
		}
		for _, v := range []any{map[string]int{}, []string{"a"}, struct{ A int }{1}, storable.NewHash("a", storable.Int(1)), &storable.Ref{Target: storable.Int(1)}} {
			if _, err := f.Put([]any{v}); err != nil {
				t.Errorf("put(%#v): %v", v, err)
			}
		}
	})
}

func TestReferenceE20(t *testing.T) {
	// e20: Perl's frame for [1,2] has length prefix 11, total 14.
	f := mustReference(t, filter.ReferenceOptions{})
	out, err := f.Put([]any{[]int{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	c := out[0].([]byte)
	if !bytes.HasPrefix(c, []byte("11\x00")) || len(c) != 14 {
		t.Errorf("frame %q", c)
	}
}

func TestReferenceMalformed(t *testing.T) {
	cases := map[string]string{
		"letters":          "abc",
		"digits then junk": "12x",
		"NUL first":        "\x00",
		"too many digits":  strings.Repeat("0", 21) + "1\x00x",
		"absurd length":    "99999999999999\x00",
		"truncated image":  "5\x00pst0\x04",
	}
	for name, in := range cases {
		f := mustReference(t, filter.ReferenceOptions{})
		if _, err := filter.Get(f, chunks(in)); err == nil && name != "truncated image" {
			t.Errorf("%s: no error", name)
		}
		// The buffer is discarded after a framing error; the filter works.
		g := mustReference(t, filter.ReferenceOptions{NoFatals: true})
		if recs, err := filter.Get(g, chunks(in)); err != nil || (len(recs) != 1 && name != "truncated image") {
			t.Errorf("%s NoFatals: %v %v", name, recs, err)
		}
	}
	// Bad zlib data and zlib bombs.
	f := mustReference(t, filter.ReferenceOptions{Compression: true, MaxBuffer: 1000})
	if _, err := filter.Get(f, chunks("3\x00abc")); err == nil {
		t.Error("bad zlib: no error")
	}
	bomb, _ := mustReference(t, filter.ReferenceOptions{Compression: true}).Put([]any{map[string]string{"a": strings.Repeat("x", 5000)}})
	if _, err := filter.Get(f, bomb); !errors.Is(err, filter.ErrBufferExceeds) {
		t.Errorf("zlib bomb: %v", err)
	}
}

// TestReferencePerl checks wire compatibility with POE::Filter::Reference
// when perl with POE is installed: Perl's frames decode here and ours in
// Perl, with and without compression.
func TestReferencePerl(t *testing.T) {
	if err := exec.Command("perl", "-MPOE::Filter::Reference", "-MCompress::Zlib", "-e1").Run(); err != nil {
		t.Skip("perl with POE::Filter::Reference and Compress::Zlib not available")
	}
	for _, compress := range []int{0, 1} {
		script := fmt.Sprintf(`use POE::Filter::Reference; binmode STDOUT; my $f = POE::Filter::Reference->new(undef, %d); print @{$f->put([{a => [1, 2, "three"]}, \"x"])};`, compress)
		out, err := exec.Command("perl", "-e", script).Output()
		if err != nil {
			t.Fatal(err)
		}
		f := mustReference(t, filter.ReferenceOptions{Compression: compress == 1})
		recs, err := filter.Get(f, []any{out})
		if err != nil || len(recs) != 2 {
			t.Fatalf("decoding Perl's frames: %v %v", recs, err)
		}
		if _, ok := recs[1].(*storable.Ref); !ok {
			t.Errorf("second record is %T, want a scalar reference", recs[1])
		}
		if got := jsonOf(t, recs[0]) + " " + jsonOf(t, recs[1]); got != `{"a":[1,2,"three"]} "x"` {
			t.Errorf("records: %s", got)
		}
		frames, err := f.Put([]any{map[string]any{"b": []any{1, "two"}}})
		if err != nil {
			t.Fatal(err)
		}
		back := fmt.Sprintf(`use POE::Filter::Reference; binmode STDIN; local $/; my $in = <STDIN>; my $f = POE::Filter::Reference->new(undef, %d); my $r = $f->get([$in]); print scalar(@$r), " ", join(",", @{$r->[0]{b}});`, compress)
		cmd := exec.Command("perl", "-e", back)
		cmd.Stdin = bytes.NewReader(frames[0].([]byte))
		res, err := cmd.Output()
		if err != nil || string(res) != "1 1,two" {
			t.Errorf("Perl decoding ours: %q %v", res, err)
		}
	}
}

// TestReferenceAppendPut: AppendPut makes the chunk Put makes (plain and
// compressed), appended after what dst holds; a Frozen payload is framed
// as it is; refusals leave dst as it was.
func TestReferenceAppendPut(t *testing.T) {
	rec := storable.NewHash("event", storable.Bytes("poe://k/s/t"), "params", storable.Int(7))
	for _, compress := range []bool{false, true} {
		f := mustReference(t, filter.ReferenceOptions{Compression: compress})
		chunk, err := f.Put([]any{rec})
		if err != nil {
			t.Fatal(err)
		}
		dst, err := f.AppendPut([]byte("queued"), rec)
		if err != nil || !bytes.Equal(dst, append([]byte("queued"), chunk[0].([]byte)...)) {
			t.Errorf("compress %v: AppendPut = %q, %v; want queued+%q", compress, dst, err, chunk[0])
		}
		var pf filter.PutAppender = f
		if dst, err := pf.AppendPut([]byte("q"), "scalar"); !errors.Is(err, filter.ErrNotReference) || string(dst) != "q" {
			t.Errorf("compress %v: AppendPut of a scalar = %q, %v", compress, dst, err)
		}
	}
	f := mustReference(t, filter.ReferenceOptions{})
	payload, err := storable.Encode(rec)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := f.Put([]any{rec})
	got, err := f.Put([]any{&filter.Frozen{B: payload}})
	if err != nil || !bytes.Equal(got[0].([]byte), want[0].([]byte)) {
		t.Errorf("Put(Frozen) = %q, %v; want %q", got, err, want[0])
	}
	if _, err := f.Put([]any{(*filter.Frozen)(nil)}); !errors.Is(err, filter.ErrNotReference) {
		t.Errorf("Put(nil *Frozen): %v, want ErrNotReference", err)
	}
	// The frame is read back by the same filter.
	recs, err := filter.Get(f, []any{got[0]})
	if err != nil || len(recs) != 1 {
		t.Fatalf("Get of the Frozen frame: %v %v", recs, err)
	}
	if h, ok := recs[0].(*storable.Hash); !ok || h.Len() != 2 {
		t.Errorf("Get of the Frozen frame: %#v", recs[0])
	}
}

// TestReferenceHeaderErrors: a header that cannot fit in MaxBuffer is
// ErrBlockExceeds as soon as a digit says so; a malformed one
// ErrBadHeader, with the position of the bad byte.
func TestReferenceHeaderErrors(t *testing.T) {
	for _, c := range []struct {
		in   string
		want error
		text string
	}{
		{"9x", filter.ErrBlockExceeds, "filter: expected size of next block exceeds the limit: frame of 9+ octets cannot fit (buffer exceeds MaxBuffer 10)"},
		{"8\x00", nil, ""},
		{"1x", filter.ErrBadHeader, "filter: malformed frame header: byte 0x78 at header position 1"},
		{"x", filter.ErrBadHeader, "filter: malformed frame header: byte 0x78 at header position 0"},
	} {
		f := mustReference(t, filter.ReferenceOptions{MaxBuffer: 10})
		_, err := filter.Get(f, chunks(c.in))
		if c.want == nil {
			if err != nil {
				t.Errorf("%q: %v", c.in, err)
			}
			continue
		}
		if !errors.Is(err, c.want) || err.Error() != c.text {
			t.Errorf("%q: %v, want %s", c.in, err, c.text)
		}
	}
}
