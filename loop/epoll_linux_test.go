package loop

import (
	"testing"
	"time"
)

// Kernels before 5.11 lack epoll_pwait2; the timerfd path must keep the
// same precision (see TestDeadlines for why a deadline is retried).
func TestSubMillisecondTimerfdFallback(t *testing.T) {
	p, err := newEpoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.noPwait2 = true
	const d = 300 * time.Microsecond
	ok := false
	for i := 0; i < 100 && !ok; i++ {
		took, calls := waitOut(p, d)
		ok = calls == 1 && took < d+600*time.Microsecond
	}
	if !ok {
		t.Fatal("no 300µs wait through the timerfd ended in time in one call")
	}
	// A wake-up before the deadline disarms the timer: the next wait is
	// not cut short by it (a signal may cut it: tried again).
	for attempt := 0; attempt < 5; attempt++ {
		p.Wake()
		p.Wait(10*time.Millisecond+300*time.Microsecond, ignore)
		if _, calls := waitOut(p, 20*time.Millisecond); calls == 1 {
			return
		}
	}
	t.Fatal("a stale timer ended every later wait early")
}

// 50µs waits through epoll_pwait2 and through the timerfd fallback: the
// first costs one system call, the second three but is not subject to the
// thread's timer slack.
func BenchmarkTimedWaitPwait2(b *testing.B) {
	p, err := newEpoller()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	benchTimedWait(b, p)
}

func BenchmarkTimedWaitTimerfd(b *testing.B) {
	p, err := newEpoller()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	p.noPwait2 = true
	benchTimedWait(b, p)
}
