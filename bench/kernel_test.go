// Package bench holds the project's benchmarks and the comparisons with
// Perl POE (see README.md beside this file).
package bench

import (
	"math/rand/v2"
	"slices"
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
func BenchmarkYieldChain(b *testing.B) { yieldChain(b, poe.NewKernel(nil)) }

// yieldChain runs BenchmarkYieldChain's workload on k.
func yieldChain(b *testing.B, k *poe.Kernel) {
	b.ReportAllocs()
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
	if seen != b.N {
		b.Fatalf("saw %d of %d", seen, b.N)
	}
}

// BenchmarkPostPingPong: two sessions post an event back and forth by
// alias (perl core.pl post_pingpong). One op = one event.
func BenchmarkPostPingPong(b *testing.B) { postPingPong(b, poe.NewKernel(nil)) }

// postPingPong runs BenchmarkPostPingPong's workload on k.
func postPingPong(b *testing.B, k *poe.Kernel) {
	b.ReportAllocs()
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
	if seen != b.N {
		b.Fatalf("saw %d of %d", seen, b.N)
	}
}

// BenchmarkCall: synchronous Call into another session by alias, the
// handler returning its argument plus one (perl core.pl call_rate). One op
// = one call.
func BenchmarkCall(b *testing.B) { callRate(b, poe.NewKernel(nil)) }

// callRate runs BenchmarkCall's workload on k.
func callRate(b *testing.B, k *poe.Kernel) {
	b.ReportAllocs()
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

// BenchmarkDelaySetFire: 100k DelaySet timers with random delays in
// [0, 1s) (perl core.pl timers, first half), then a steady state in which
// every timer that fires sets a new random one, so 100k stay pending, for
// one measured second. One op = one timer set and fired in that steady
// state:
//
//   - ns/op is the kernel's busy time per timer: the window's wall time
//     minus the time the kernel slept in the reactor, divided by the timers
//     fired (the work per timer, as Perl's figure is for a loop that never
//     sleeps);
//   - cpu-ns/timer is the whole process's CPU time per timer, which also
//     counts the operating system's cost of each sleep and wake-up;
//   - p50/p99-late-µs is how late timers fire after their due time,
//     measured on one timer in sampleEvery (probes, which carry their due
//     time), so that the measuring (a clock read and a random memory access
//     per timer, 70–200 ns here) does not swamp the kernel's own work;
//   - burst-ns/set is the cost of the initial 100k DelaySet calls;
//   - timers/poll is how many timers each reactor wait gave (the operating
//     system's timer slack batches them).
//
// Each call runs one such round whatever b.N is (it takes about 3 s).
func BenchmarkDelaySetFire(b *testing.B) {
	const n = 100_000
	const sampleEvery = 16
	const winStart, winEnd = 1200 * time.Millisecond, 2200 * time.Millisecond
	b.ReportAllocs()
	k := poe.NewKernel(nil)
	rng := rand.New(rand.NewPCG(1, 2))
	dues := make([]time.Duration, n/sampleEvery)
	late := make([]time.Duration, 0, 4*len(dues))
	var t0 time.Time
	var burst time.Duration
	var cpuA, cpuB time.Duration
	var stA, stB poe.Stats
	var wA, wB time.Duration
	phase, fired, firedA, firedB := 0, 0, 0, 0
	k.Create(poe.Spec{Inline: H{
		"_start": func(e *poe.Event) any { e.Kernel.Yield("arm"); return nil },
		"arm": func(e *poe.Event) any {
			t0 = time.Now()
			for i := 0; i < n; i++ {
				d := time.Duration(rng.Int64N(int64(time.Second)))
				if i%sampleEvery != 0 {
					e.Kernel.DelaySet("ring", d)
					continue
				}
				due := &dues[i/sampleEvery]
				*due = time.Since(t0) + d
				e.Kernel.DelaySet("probe", d, due)
			}
			burst = time.Since(t0)
			return nil
		},
		"ring": func(e *poe.Event) any {
			fired++
			if phase < 2 {
				e.Kernel.DelaySet("ring", time.Duration(rng.Int64N(int64(time.Second))))
			}
			return nil
		},
		// A probe also opens and closes the measured window: within a
		// few timers of its bounds.
		"probe": func(e *poe.Event) any {
			fired++
			now := time.Since(t0)
			due := e.Arg(0).(*time.Duration)
			switch {
			case phase == 0 && now >= winStart:
				phase, cpuA, stA, wA, firedA = 1, cpuTime(), e.Kernel.Stats(), now, fired
			case phase == 1 && now >= winEnd:
				phase, cpuB, stB, wB, firedB = 2, cpuTime(), e.Kernel.Stats(), now, fired
			}
			if phase == 1 {
				late = append(late, now-*due)
			}
			if phase < 2 {
				d := time.Duration(rng.Int64N(int64(time.Second)))
				*due = now + d
				e.Kernel.DelaySet("probe", d, due)
			}
			return nil
		},
	}})
	m0 := memStats()
	run(b, k)
	m1 := memStats()
	if phase != 2 || len(late) == 0 {
		b.Fatal("the measured window never closed")
	}
	timers := float64(firedB - firedA)
	busy := (wB - wA) - (stB.Waited - stA.Waited)
	slices.Sort(late)
	b.ReportMetric(float64(busy.Nanoseconds())/timers, "ns/op")
	b.ReportMetric(float64(m1-m0)/(timers+n), "allocs/op")
	b.ReportMetric(float64((cpuB-cpuA).Nanoseconds())/timers, "cpu-ns/timer")
	b.ReportMetric(float64(late[len(late)/2].Microseconds()), "p50-late-µs")
	b.ReportMetric(float64(late[len(late)*99/100].Microseconds()), "p99-late-µs")
	b.ReportMetric(float64(burst.Nanoseconds())/n, "burst-ns/set")
	b.ReportMetric(timers, "timers")
	b.ReportMetric(float64(len(late)), "probes")
	b.ReportMetric(timers/float64(stB.Polls-stA.Polls), "timers/poll")
}

// BenchmarkAlarmSetRemove: AlarmSet timers 100 s ahead within a 1 s
// window, then every one removed in random order (perl core.pl timers,
// second half), in rounds of 100k pending timers as Perl does. One op =
// one set plus one remove.
func BenchmarkAlarmSetRemove(b *testing.B) {
	const round = 100_000
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
			at := make([]time.Time, min(b.N, round))
			ids := make([]poe.AlarmID, len(at))
			b.ResetTimer()
			for done := 0; done < b.N; done += len(at) {
				b.StopTimer()
				n := min(len(at), b.N-done)
				for i := range at[:n] {
					at[i] = base.Add(time.Duration(rng.Int64N(int64(time.Second))))
				}
				b.StartTimer()
				for i := range ids[:n] {
					ids[i], _ = kk.AlarmSet("never", at[i])
				}
				b.StopTimer()
				rng.Shuffle(n, func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
				b.StartTimer()
				for _, id := range ids[:n] {
					if _, err := kk.AlarmRemove(id); err != nil {
						b.Fatal(err)
					}
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
			l.ring[(l.head+l.n)&63] = ev{name: "step", args: nil} // an event has its arguments
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
