package bench

import (
	"bytes"
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/filter"
)

// BenchmarkLineFloor is the per-line work of the echo servers without any
// I/O: one read's worth (64 KiB) of BenchmarkEchoPipelined's lines, echoed
// into an output buffer. It reports ns/line of each step the ladder adds:
//
//	split        IndexByte and append: gnet-line's (and poe-loop's) work
//	filter       Line filter records (GetOne) echoed through AppendPut
//	filter-call  the same with a bound self-call per record into the
//	             handler that echoes it, inside a kernel (ReadWrite's work)
//	strings      filter-call with string records, as examples/echo has them
//
// What these cost beside the split is what the ladder's rungs cost beside
// poe-loop, with the sockets taken out.
func BenchmarkLineFloor(b *testing.B) {
	in := bytes.Repeat([]byte(echoLine), 64<<10/len(echoLine))
	lines := bytes.Count(in, []byte{'\n'})
	out := make([]byte, 0, 2*len(in))
	report := func(b *testing.B, d time.Duration) {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N*lines), "ns/line")
	}
	b.Run("split", func(b *testing.B) {
		b.ReportAllocs()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			out = out[:0]
			used := 0
			for {
				j := bytes.IndexByte(in[used:], '\n')
				if j < 0 {
					break
				}
				out = append(out, in[used:used+j+1]...)
				used += j + 1
			}
		}
		report(b, time.Since(start))
	})
	// read is one read's echo: each line a record of f, echoed through
	// AppendPut, or through c, a call into the handler that does it.
	read := func(f *filter.Line, c *poe.BoundCall, id any) {
		out = out[:0]
		f.GetOneStartBytes(in)
		for {
			recs, _ := f.GetOne()
			if len(recs) == 0 {
				return
			}
			if c != nil {
				c.Call(recs[0], id)
				continue
			}
			out, _ = f.AppendPut(out, recs[0])
		}
	}
	b.Run("filter", func(b *testing.B) {
		f := filter.MustLine(filter.LineOptions{Bytes: true})
		b.ReportAllocs()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			read(f, nil, nil)
		}
		report(b, time.Since(start))
	})
	for _, mode := range []struct {
		name  string
		bytes bool
	}{{"filter-call", true}, {"strings", false}} {
		b.Run(mode.name, func(b *testing.B) {
			f := filter.MustLine(filter.LineOptions{Bytes: mode.bytes})
			var d time.Duration
			k := poe.NewKernel(nil)
			_, err := k.Create(poe.Spec{Inline: map[string]poe.Handler{
				"_start": func(e *poe.Event) any { e.Kernel.Yield("run"); return nil },
				"run": func(e *poe.Event) any {
					c := e.Kernel.BindCall(e.Session, "line")
					id := any(1)
					b.ReportAllocs()
					b.ResetTimer()
					start := time.Now()
					for i := 0; i < b.N; i++ {
						read(f, c, id)
					}
					d = time.Since(start)
					return nil
				},
				"line": func(e *poe.Event) any {
					out, _ = f.AppendPut(out, e.Arg(poe.ARG0))
					return nil
				},
			}})
			if err != nil {
				b.Fatal(err)
			}
			if err := k.Run(); err != nil {
				b.Fatal(err)
			}
			report(b, d)
		})
	}
}
