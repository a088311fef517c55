package bench

// Freezer benchmarks: Storable decode and encode of an IKC call request (the
// golden vector 57-ikc-call, 121 bytes) and of a ~1 MiB nested structure,
// next to Perl's XS Storable measured by freezer_perl.pl on the same values
// (see the Freezers section of README.md).

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/poe-go/poe/internal/perltest"
	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

type benchRsvp struct {
	Kernel  string `perl:"kernel"`
	Session int    `perl:"session"`
	State   string `perl:"state"`
}

type benchCall struct {
	Event  string     `perl:"event"`
	Params []int      `perl:"params"`
	Rsvp   *benchRsvp `perl:"rsvp"`
}

// ikcCall is { event => "poe://Server/test/add", params => [2, 3],
// rsvp => { kernel => "Client", session => 2, state => "answer" } }.
var ikcCall = benchCall{Event: "poe://Server/test/add", Params: []int{2, 3}, Rsvp: &benchRsvp{"Client", 2, "answer"}}

type bigMeta struct {
	Created int    `perl:"created"`
	Ref     string `perl:"ref"`
}

type bigItem struct {
	Active int      `perl:"active"`
	Email  string   `perl:"email"`
	ID     int      `perl:"id"`
	Meta   bigMeta  `perl:"meta"`
	Name   string   `perl:"name"`
	Score  float64  `perl:"score"`
	Tags   []string `perl:"tags"`
}

// bigItems is the same recipe as make_big in freezer_perl.pl:
// [ map { { id => $i, name => "user-$i", email => "user$i\@example.com",
// score => $i * 1.5, tags => ["a$i", "b", "c"], active => $i % 2,
// meta => { created => 1700000000 + $i, ref => "x" x 20 } } } 0 .. 5999 ].
func bigItems() []bigItem {
	items := make([]bigItem, 6000)
	for i := range items {
		items[i] = bigItem{
			ID: i, Name: fmt.Sprintf("user-%d", i), Email: fmt.Sprintf("user%d@example.com", i),
			Score: float64(i) * 1.5, Tags: []string{fmt.Sprintf("a%d", i), "b", "c"}, Active: i % 2,
			Meta: bigMeta{Created: 1700000000 + i, Ref: "xxxxxxxxxxxxxxxxxxxx"},
		}
	}
	return items
}

func mustMarshal(b *testing.B, v any) []byte {
	data, err := storable.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func benchData(b *testing.B) map[string][]byte {
	return map[string][]byte{
		"ikc-call": mustMarshal(b, ikcCall),
		"1MiB":     mustMarshal(b, bigItems()),
	}
}

// BenchmarkStorableDecode: thaw into the Perl value model.
func BenchmarkStorableDecode(b *testing.B) {
	for _, name := range []string{"ikc-call", "1MiB"} {
		data := benchData(b)[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := storable.Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStorableEncode: nfreeze of the Perl value model.
func BenchmarkStorableEncode(b *testing.B) {
	for _, name := range []string{"ikc-call", "1MiB"} {
		data := benchData(b)[name]
		v, err := storable.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			buf := make([]byte, 0, len(data))
			for b.Loop() {
				if buf, err = storable.AppendEncode(buf[:0], v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStorableUnmarshal: thaw straight into Go structs.
func BenchmarkStorableUnmarshal(b *testing.B) {
	data := benchData(b)
	b.Run("ikc-call", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data["ikc-call"])))
		for b.Loop() {
			var m benchCall
			if err := storable.Unmarshal(data["ikc-call"], &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("1MiB", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data["1MiB"])))
		for b.Loop() {
			var m []bigItem
			if err := storable.Unmarshal(data["1MiB"], &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStorableMarshal: nfreeze straight from Go structs.
func BenchmarkStorableMarshal(b *testing.B) {
	big := bigItems()
	for _, c := range []struct {
		name string
		v    any
	}{{"ikc-call", &ikcCall}, {"1MiB", big}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			buf, err := storable.AppendMarshal(nil, c.v)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				if buf, err = storable.AppendMarshal(buf[:0], c.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFrameSplit: the Reference-filter framer over a stream of
// ikc-call frames, 100 frames per Feed.
func BenchmarkFrameSplit(b *testing.B) {
	payload := benchData(b)["ikc-call"]
	var stream []byte
	for range 100 {
		stream = freezer.AppendFrame(stream, payload)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	var f freezer.Framer
	for b.Loop() {
		f.Feed(stream)
		for n := 0; ; n++ {
			_, ok, err := f.Next()
			if err != nil {
				b.Fatal(err)
			}
			if !ok {
				if n != 100 {
					b.Fatalf("%d frames", n)
				}
				break
			}
		}
	}
}

// TestBenchValuesMatchPerl checks that the benchmark values encode to the
// bytes Perl's canonical nfreeze gives for freezer_perl.pl's recipes, so
// that both sides measure the same data. It skips without perl (fails with
// POE_REQUIRE_PERL=1).
func TestBenchValuesMatchPerl(t *testing.T) {
	perltest.Need(t, "", "Storable")
	for name, v := range map[string]any{"ikc-call": ikcCall, "1MiB": bigItems()} {
		out, err := exec.Command("perl", "freezer_perl.pl", "--dump", name).Output()
		if err != nil {
			t.Fatalf("perl: %v", err)
		}
		want, err := hex.DecodeString(strings.TrimSpace(string(out)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := storable.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: Go's image (%d bytes) differs from Perl's (%d bytes)", name, len(got), len(want))
		}
	}
}
