package bench

import (
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
)

// BenchmarkYieldChainTimerPending: BenchmarkYieldChain beside a timer due
// in an hour, which makes each post read the clock (a post is stamped
// when it is made, to be ordered against timers). One op = one event.
func BenchmarkYieldChainTimerPending(b *testing.B) {
	b.ReportAllocs()
	k := poe.NewKernel(nil)
	seen := 0
	k.Create(poe.Spec{Inline: H{
		"_start": func(e *poe.Event) any {
			e.Kernel.Delay("later", time.Hour)
			e.Kernel.Yield("step")
			return nil
		},
		"step": func(e *poe.Event) any {
			if seen++; seen < b.N {
				e.Kernel.Yield("step")
			} else {
				e.Kernel.Delay("later", 0)
				e.Kernel.AlarmRemoveAll()
			}
			return nil
		},
		"later": func(e *poe.Event) any { return nil },
	}})
	b.ResetTimer()
	run(b, k)
	b.StopTimer()
	if seen != b.N {
		b.Fatalf("saw %d of %d", seen, b.N)
	}
}
