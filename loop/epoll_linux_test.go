package loop

import (
	"testing"
	"time"
)

// Kernels before 5.11 lack epoll_pwait2; the timerfd path must keep the
// same precision.
func TestSubMillisecondTimerfdFallback(t *testing.T) {
	p, err := newEpoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.noPwait2 = true
	deadline(t, p, 300*time.Microsecond, 600*time.Microsecond, 21)
	// A wake-up before the deadline disarms the timer, so that the next
	// wait is not cut short by it. (A wait that long would park on the
	// netpoller instead: under 2*parkMargin it arms the timer.) A signal
	// may cut that wait short too: tried again; a stale timer cuts every
	// try.
	for attempt := 0; attempt < 5; attempt++ {
		p.Wake()
		p.Wait(3*time.Millisecond+300*time.Microsecond, ignore)
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
