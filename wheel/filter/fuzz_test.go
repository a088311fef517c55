package filter_test

import (
	"testing"

	"github.com/poe-go/poe/wheel/filter"
)

// FuzzFilters feeds arbitrary input, split at an arbitrary point, to every
// byte-level filter: no panic, no unbounded loop, and a second filter fed
// the first one's pending data behaves.
func FuzzFilters(f *testing.F) {
	f.Add([]byte("a\r\nb\n\rc\rd\n"), uint8(3))
	f.Add([]byte("3\x00abc12\x00"), uint8(1))
	f.Add([]byte("zz3\x00abc"), uint8(0))
	f.Add([]byte("11\x00pst0\x04\x02\x02\x08\x01\x08\x02"), uint8(5))
	f.Add([]byte("99999999999999999999999\x00"), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		cut := int(split) % (len(data) + 1)
		mk := []func() filter.Filter{
			func() filter.Filter { return filter.MustLine(filter.LineOptions{MaxLength: 64, MaxBuffer: 256}) },
			func() filter.Filter { return filter.MustLine(filter.LineOptions{Autodetect: true}) },
			func() filter.Filter { return filter.MustLine(filter.LineOptions{InputRegexp: "a+b|\x00"}) },
			func() filter.Filter { return filter.NewStream(filter.StreamOptions{}) },
			func() filter.Filter { b, _ := filter.NewBlock(filter.BlockOptions{MaxLength: 100}); return b },
			func() filter.Filter { b, _ := filter.NewBlock(filter.BlockOptions{BlockSize: 3}); return b },
			func() filter.Filter {
				r, _ := filter.NewReference(filter.ReferenceOptions{MaxBuffer: 1 << 10})
				return r
			},
			func() filter.Filter {
				r, _ := filter.NewReference(filter.ReferenceOptions{Compression: true, NoFatals: true})
				return r
			},
		}
		for _, newf := range mk {
			fl := newf()
			for _, part := range [][]byte{data[:cut], data[cut:]} {
				fl.GetOneStart([]any{part})
				for i := 0; ; i++ {
					if i > len(data)+2 {
						t.Fatalf("%T: GetOne does not stop", fl)
					}
					recs, err := fl.GetOne()
					if err != nil {
						continue // an error consumes input; go on
					}
					if len(recs) == 0 {
						break
					}
				}
			}
			g := fl.Clone()
			filter.Get(g, fl.GetPending())
		}
	})
}
