package bench

import (
	"io"
	"testing"

	"github.com/poe-go/poe/poe"
)

// The kernel benchmarks of kernel_test.go with a TraceRecorder on (ring of
// 4096 dispatches): the cost of recording every dispatch. Compare with
// BenchmarkYieldChain, BenchmarkPostPingPong and BenchmarkCall.

func tracedKernel(b *testing.B) (*poe.Kernel, *poe.TraceRecorder) {
	rec := poe.NewTraceRecorder(4096)
	return poe.NewKernel(&poe.Options{Recorder: rec}), rec
}

func checkTrace(b *testing.B, rec *poe.TraceRecorder, min int) {
	b.Helper()
	if got := rec.Total(); got < uint64(min) {
		b.Fatalf("recorded %d dispatches, want at least %d", got, min)
	}
	if _, err := rec.WriteTo(io.Discard); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkTracedYieldChain(b *testing.B) {
	b.ReportAllocs()
	k, rec := tracedKernel(b)
	seen := 0
	k.Create(poe.Spec{Inline: H{
		"_start": func(e *poe.Event) any { e.Kernel.Yield("step"); return nil },
		"step": func(e *poe.Event) any {
			if seen++; seen < b.N {
				e.Kernel.Yield("step")
			}
			return nil
		},
	}})
	b.ResetTimer()
	run(b, k)
	b.StopTimer()
	checkTrace(b, rec, b.N)
}

func BenchmarkTracedPostPingPong(b *testing.B) {
	b.ReportAllocs()
	k, rec := tracedKernel(b)
	seen := 0
	mk := func(me, peer string, starts bool) {
		k.Create(poe.Spec{Inline: H{
			"_start": func(e *poe.Event) any {
				e.Kernel.AliasSet(me)
				if starts {
					e.Kernel.Post(peer, "ball")
				}
				return nil
			},
			"ball": func(e *poe.Event) any {
				if seen++; seen < b.N {
					e.Kernel.Post(peer, "ball")
				} else {
					e.Kernel.AliasRemove(me)
					e.Kernel.Post(peer, "quit")
				}
				return nil
			},
			"quit": func(e *poe.Event) any { e.Kernel.AliasRemove(me); return nil },
		}})
	}
	mk("pong", "ping", false)
	b.ResetTimer()
	mk("ping", "pong", true)
	run(b, k)
	b.StopTimer()
	checkTrace(b, rec, b.N)
}

func BenchmarkTracedCall(b *testing.B) {
	b.ReportAllocs()
	k, rec := tracedKernel(b)
	k.Create(poe.Spec{Inline: H{
		"_start": func(e *poe.Event) any { e.Kernel.AliasSet("callee"); return nil },
		"add":    func(e *poe.Event) any { return e.Arg(0).(*int) },
		"done":   func(e *poe.Event) any { e.Kernel.AliasRemove("callee"); return nil },
	}})
	sum := 0
	k.Create(poe.Spec{Inline: H{
		"_start": func(e *poe.Event) any { e.Kernel.Yield("go"); return nil },
		"go": func(e *poe.Event) any {
			kk := e.Kernel
			x := new(int)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r, _ := kk.Call("callee", "add", x)
				*r.(*int)++
			}
			b.StopTimer()
			sum = *x
			kk.Post("callee", "done")
			return nil
		},
	}})
	run(b, k)
	if sum != b.N {
		b.Fatalf("sum %d", sum)
	}
	checkTrace(b, rec, b.N)
}
