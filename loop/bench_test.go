//go:build unix

package loop

import (
	"testing"
	"time"
)

func forEachBackendB(b *testing.B, f func(b *testing.B, p Poller)) {
	for _, name := range Backends() {
		b.Run(name, func(b *testing.B) {
			p, err := NewBackend(name)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			f(b, p)
		})
	}
}

func BenchmarkWaitPoll(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, p Poller) {
		b.ReportAllocs()
		for b.Loop() {
			p.Wait(0, ignore)
		}
	})
}

func BenchmarkWake(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, p Poller) {
		b.ReportAllocs()
		for b.Loop() {
			p.Wake()
			p.Wait(0, ignore)
		}
	})
}

// One ready pipe among 1,000 idle ones: poll(2) scans them all.
func BenchmarkWaitManyFds(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, p Poller) {
		f := newFds(b)
		var w int
		for i := 0; i < 1000; i++ {
			var r int
			r, w = f.pipe()
			if err := p.Add(r, Readable); err != nil {
				b.Fatal(err)
			}
		}
		write(b, w, "x")
		b.ReportAllocs()
		for b.Loop() {
			if n, _ := p.Wait(time.Second, ignore); n != 1 {
				b.Fatal(n)
			}
		}
	})
}

func benchTimedWait(b *testing.B, p Poller) {
	const d = 50 * time.Microsecond
	b.ReportAllocs()
	var late time.Duration
	for b.Loop() {
		t0 := time.Now()
		p.Wait(d, ignore)
		late += time.Since(t0) - d
	}
	b.ReportMetric(float64(late.Microseconds())/float64(b.N), "late-µs")
}

// 50µs waits: what a deadline costs and how late it ends.
func BenchmarkTimedWait(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, p Poller) { benchTimedWait(b, p) })
}
