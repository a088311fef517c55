package loop

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func pipe(t *testing.T) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

func TestReadinessLevelTriggered(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r, w := pipe(t)
	if err := p.Add(r, Readable); err != nil {
		t.Fatal(err)
	}
	n, _ := p.Wait(0, func(int, Events) { t.Error("ready before write") })
	if n != 0 {
		t.Fatalf("n = %d", n)
	}
	unix.Write(w, []byte("x"))
	for i := 0; i < 2; i++ { // level-triggered: reported until consumed
		got := 0
		p.Wait(time.Second, func(fd int, ev Events) {
			if fd != r || ev&Readable == 0 {
				t.Errorf("fd %d ev %v", fd, ev)
			}
			got++
		})
		if got != 1 {
			t.Fatalf("pass %d: %d reports", i, got)
		}
	}
	// Paused: registered but silent.
	if err := p.Modify(r, 0); err != nil {
		t.Fatal(err)
	}
	if n, _ := p.Wait(0, func(int, Events) {}); n != 0 {
		t.Fatal("paused fd reported")
	}
	if err := p.Delete(r); err != nil {
		t.Fatal(err)
	}
}

func TestWakeFromGoroutine(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	go func() { time.Sleep(20 * time.Millisecond); p.Wake() }()
	start := time.Now()
	p.Wait(5*time.Second, func(int, Events) {})
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("wake took %v", d)
	}
	// Many wakes collapse into one pending wake-up.
	for i := 0; i < 100; i++ {
		p.Wake()
	}
	p.Wait(time.Second, func(int, Events) {})
	start = time.Now()
	p.Wait(30*time.Millisecond, func(int, Events) {})
	if d := time.Since(start); d < 25*time.Millisecond {
		t.Fatalf("stale wake-up ended the wait after %v", d)
	}
}

func TestSubMillisecondTimeout(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const want = 300 * time.Microsecond
	var worst time.Duration
	for i := 0; i < 20; i++ {
		start := time.Now()
		p.Wait(want, func(int, Events) {})
		d := time.Since(start)
		if d < want {
			t.Fatalf("woke early after %v", d)
		}
		if d-want > worst {
			worst = d - want
		}
	}
	// epoll_wait alone would round 300µs up to 1ms.
	if worst > 5*time.Millisecond {
		t.Fatalf("worst lateness %v", worst)
	}
}

func BenchmarkWaitPoll(b *testing.B) {
	p, _ := New()
	defer p.Close()
	b.ReportAllocs()
	for b.Loop() {
		p.Wait(0, func(int, Events) {})
	}
}

func BenchmarkWake(b *testing.B) {
	p, _ := New()
	defer p.Close()
	b.ReportAllocs()
	for b.Loop() {
		p.Wake()
		p.Wait(0, func(int, Events) {})
	}
}

// Kernels before 5.11 lack epoll_pwait2; the timerfd path must keep the
// same precision.
func TestSubMillisecondTimerfdFallback(t *testing.T) {
	p, err := newPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.noPwait2 = true
	start := time.Now()
	p.Wait(300*time.Microsecond, func(int, Events) {})
	if d := time.Since(start); d < 300*time.Microsecond || d > 5*time.Millisecond {
		t.Fatalf("waited %v", d)
	}
	// A wake-up before the deadline disarms the timer.
	p.Wake()
	p.Wait(10*time.Millisecond+300*time.Microsecond, func(int, Events) {})
	start = time.Now()
	p.Wait(20*time.Millisecond, func(int, Events) {})
	if d := time.Since(start); d < 15*time.Millisecond {
		t.Fatalf("stale timer ended a later wait after %v", d)
	}
}

func benchTimedWait(b *testing.B, noPwait2 bool) {
	p, err := newPoller()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	p.noPwait2 = noPwait2
	const d = 50 * time.Microsecond
	b.ReportAllocs()
	var late time.Duration
	for b.Loop() {
		t0 := time.Now()
		p.Wait(d, func(int, Events) {})
		late += time.Since(t0) - d
	}
	b.ReportMetric(float64(late.Microseconds())/float64(b.N), "late-µs")
}

// 50µs waits through epoll_pwait2 and through the timerfd fallback: the
// first costs one system call, the second three but is not subject to the
// thread's timer slack.
func BenchmarkTimedWaitPwait2(b *testing.B)  { benchTimedWait(b, false) }
func BenchmarkTimedWaitTimerfd(b *testing.B) { benchTimedWait(b, true) }
