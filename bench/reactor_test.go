package bench

import (
	"testing"
	"time"

	"github.com/poe-go/poe/loop"
)

// The figures behind the reactor decision in docs/design.md: one timed
// wait (what the kernel does when its next timer is due in 50µs), on our
// poller and on gnet's pkg/netpoll. netpoll's Polling owns its loop and
// has no timeout, so a timer has to be a timerfd attachment whose
// callback ends Polling, and every timeslice re-enters Polling (Linux
// only: reactor_linux_test.go).

const timedWait = 50 * time.Microsecond

func BenchmarkReactorTimedWaitLoop(b *testing.B) {
	p, err := loop.New()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ReportAllocs()
	var late time.Duration
	for b.Loop() {
		t0 := time.Now()
		p.Wait(timedWait, func(int, loop.Events) {})
		late += time.Since(t0) - timedWait
	}
	b.ReportMetric(float64(late.Microseconds())/float64(b.N), "late-µs")
}

// A zero-timeout poll: the kernel's cost per timeslice when I/O is watched
// and events are queued.
func BenchmarkReactorPollLoop(b *testing.B) {
	p, err := loop.New()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ReportAllocs()
	for b.Loop() {
		p.Wait(0, func(int, loop.Events) {})
	}
}
