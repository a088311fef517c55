package filter_test

import (
	"bytes"
	"testing"

	"github.com/poe-go/poe/wheel/filter"
)

// lineInput is 64 lines of 32 octets, as one read.
var lineInput = bytes.Repeat([]byte("the quick brown fox jumps over\r\n"), 64)

func BenchmarkLineGet(b *testing.B) {
	for _, mode := range []struct {
		name  string
		bytes bool
	}{{"string", false}, {"bytes", true}} {
		b.Run(mode.name, func(b *testing.B) {
			f := filter.MustLine(filter.LineOptions{Bytes: mode.bytes})
			b.ReportAllocs()
			b.SetBytes(int64(len(lineInput)))
			for b.Loop() {
				f.GetOneStartBytes(lineInput)
				for {
					recs, err := f.GetOne()
					if err != nil {
						b.Fatal(err)
					}
					if len(recs) == 0 {
						break
					}
				}
			}
		})
	}
}

func BenchmarkLinePut(b *testing.B) {
	rec := &filter.Bytes{B: []byte("the quick brown fox jumps over")}
	for _, mode := range []struct {
		name  string
		bytes bool
		rec   any
	}{{"string", false, "the quick brown fox jumps over"}, {"bytes", true, rec}} {
		b.Run(mode.name, func(b *testing.B) {
			f := filter.MustLine(filter.LineOptions{Bytes: mode.bytes})
			recs := []any{mode.rec}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Put(recs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLineEcho is the echo server's filter work per line: get one
// line from a read, put it back.
func BenchmarkLineEcho(b *testing.B) {
	f := filter.MustLine(filter.LineOptions{Bytes: true})
	line := []byte("the quick brown fox jumps over\r\n")
	put := make([]any, 1)
	b.ReportAllocs()
	for b.Loop() {
		f.GetOneStartBytes(line)
		recs, _ := f.GetOne()
		put[0] = recs[0]
		f.Put(put)
	}
}

func BenchmarkReferenceRoundTrip(b *testing.B) {
	msg := map[string]any{"event": "poe://Server/test/add", "params": []any{2, 3}, "from": "client"}
	for _, compress := range []bool{false, true} {
		name := "plain"
		if compress {
			name = "zlib"
		}
		b.Run(name, func(b *testing.B) {
			f, _ := filter.NewReference(filter.ReferenceOptions{Compression: compress})
			recs := []any{msg}
			b.ReportAllocs()
			for b.Loop() {
				chunks, err := f.Put(recs)
				if err != nil {
					b.Fatal(err)
				}
				f.GetOneStart(chunks)
				if out, err := f.GetOne(); err != nil || len(out) != 1 {
					b.Fatal(out, err)
				}
			}
		})
	}
}
