// Package bench holds the project's benchmarks and the comparisons with
// Perl POE (see README.md beside this file).
package bench

import (
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
)

type H = map[string]poe.Handler

func nop(*poe.Event) any { return nil }

func run(b *testing.B, k *poe.Kernel) {
	b.Helper()
	if err := k.Run(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkYieldChain: one session yields an event to itself b.N times
// (perl core.pl yield_chain). One op = one event.
func BenchmarkYieldChain(b *testing.B) {
	b.ReportAllocs()
	k := poe.NewKernel(nil)
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
	if seen != b.N {
		b.Fatalf("saw %d of %d", seen, b.N)
	}
}

// BenchmarkPostPingPong: two sessions post an event back and forth by
// alias (perl core.pl post_pingpong). One op = one event.
func BenchmarkPostPingPong(b *testing.B) {
	b.ReportAllocs()
	k := poe.NewKernel(nil)
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
	if seen != b.N {
		b.Fatalf("saw %d of %d", seen, b.N)
	}
}

// BenchmarkCall: synchronous Call into another session by alias, the
// handler returning its argument plus one (perl core.pl call_rate). One op
// = one call.
func BenchmarkCall(b *testing.B) {
	b.ReportAllocs()
	k := poe.NewKernel(nil)
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
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDelaySetFire: 100k DelaySet timers with random delays in
// [0, 1s), all fired (perl core.pl timers, first half). The run takes
// about one second of wall time whatever the speed, so ns/op here is the
// process CPU time per timer (set and fire), and the lateness of the
// firings is reported as p50/p99 metrics.
func BenchmarkDelaySetFire(b *testing.B) {
	const n = 100_000
	b.ReportAllocs()
	for round := 0; round < b.N; round++ {
		k := poe.NewKernel(nil)
		rng := rand.New(rand.NewPCG(1, uint64(round)))
		dues := make([]time.Duration, n)
		fires := make([]time.Duration, 0, n)
		var t0 time.Time
		var cpu0 time.Duration
		k.Create(poe.Spec{Inline: H{
			"_start": func(e *poe.Event) any { e.Kernel.Yield("arm"); return nil },
			"arm": func(e *poe.Event) any {
				cpu0 = cpuTime()
				t0 = time.Now()
				for i := range dues {
					d := time.Duration(rng.Int64N(int64(time.Second)))
					dues[i] = time.Since(t0) + d
					e.Kernel.DelaySet("ring", d)
				}
				return nil
			},
			"ring": func(e *poe.Event) any { fires = append(fires, time.Since(t0)); return nil },
		}})
		ms0 := memStats()
		run(b, k)
		cpu := cpuTime() - cpu0
		ms1 := memStats()
		wall := fires[len(fires)-1]
		if len(fires) != n {
			b.Fatalf("fired %d of %d", len(fires), n)
		}
		// Timers fire in due order, so the i-th firing belongs to the
		// i-th smallest due time.
		slices.Sort(dues)
		late := make([]time.Duration, n)
		for i := range fires {
			late[i] = fires[i] - dues[i]
		}
		slices.Sort(late)
		b.ReportMetric(float64(cpu.Nanoseconds())/n, "ns/op")
		b.ReportMetric(float64(ms1-ms0)/n, "allocs/op")
		b.ReportMetric(float64(late[n/2].Microseconds()), "p50-late-µs")
		b.ReportMetric(float64(late[n*99/100].Microseconds()), "p99-late-µs")
		b.ReportMetric(wall.Seconds(), "wall-s")
	}
}

// BenchmarkAlarmSetRemove: b.N AlarmSet timers 100 s ahead within a 1 s
// window, then every one removed in random order (perl core.pl timers,
// second half). One op = one set plus one remove.
func BenchmarkAlarmSetRemove(b *testing.B) {
	b.ReportAllocs()
	k := poe.NewKernel(nil)
	stray := 0
	k.Create(poe.Spec{Inline: H{
		"_start": func(e *poe.Event) any { e.Kernel.Yield("go"); return nil },
		"never":  func(e *poe.Event) any { stray++; return nil },
		"go": func(e *poe.Event) any {
			kk := e.Kernel
			rng := rand.New(rand.NewPCG(2, 3))
			base := time.Now().Add(100 * time.Second)
			at := make([]time.Time, b.N)
			for i := range at {
				at[i] = base.Add(time.Duration(rng.Int64N(int64(time.Second))))
			}
			ids := make([]poe.AlarmID, b.N)
			b.ResetTimer()
			for i := range ids {
				ids[i], _ = kk.AlarmSet("never", at[i])
			}
			b.StopTimer()
			rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
			b.StartTimer()
			for _, id := range ids {
				if _, err := kk.AlarmRemove(id); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			return nil
		},
	}})
	run(b, k)
	if stray != 0 {
		b.Fatal("a removed alarm fired")
	}
}

// BenchmarkSessionCreateGC: sessions created in batches of 500 by a
// driver session, each doing nothing and garbage-collected (perl core.pl
// sessions). One op = one session, from creation to _stop.
func BenchmarkSessionCreateGC(b *testing.B) {
	b.ReportAllocs()
	k := poe.NewKernel(nil)
	child := H{"_start": nop, "_stop": nop}
	spec := poe.Spec{Inline: child}
	made := 0
	k.Create(poe.Spec{Inline: H{
		"_start": func(e *poe.Event) any { e.Kernel.Yield("batch"); return nil },
		"batch": func(e *poe.Event) any {
			for i := 0; i < 500 && made < b.N; i++ {
				e.Kernel.Create(spec)
				made++
			}
			if made < b.N {
				e.Kernel.Yield("batch")
			}
			return nil
		},
	}})
	b.ResetTimer()
	run(b, k)
	if made != b.N {
		b.Fatal(made)
	}
}

// BenchmarkBareLoop is the floor: a ring buffer of events and an indirect
// call per event, with none of POE's bookkeeping.
func BenchmarkBareLoop(b *testing.B) {
	b.ReportAllocs()
	type ev struct {
		name string
		args []any
	}
	type loop struct {
		ring    [64]ev
		head, n int
		handler func(l *loop, e *ev)
		count   int
	}
	l := &loop{}
	l.handler = func(l *loop, e *ev) {
		if l.count++; l.count < b.N {
			l.ring[(l.head+l.n)&63] = ev{name: "step"}
			l.n++
		}
	}
	l.ring[0] = ev{name: "step"}
	l.n = 1
	b.ResetTimer()
	for l.n > 0 {
		e := &l.ring[l.head]
		l.head = (l.head + 1) & 63
		l.n--
		l.handler(l, e)
	}
}
