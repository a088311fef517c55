package main

import (
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/examples/internal/clitest"
)

type runInfo struct {
	n       int
	due, at time.Time
	skipped int
}

// start runs cfg on its own goroutine; runs are reported on the channel.
func start(t *testing.T, cfg config) (chan runInfo, chan error, *strings.Builder, *sync.Mutex) {
	t.Helper()
	runs := make(chan runInfo, 100)
	var mu sync.Mutex
	var out strings.Builder
	cfg.out = lockedWriter{&mu, &out}
	cfg.report = func(n int, due, at time.Time, skipped int) { runs <- runInfo{n, due, at, skipped} }
	done := make(chan error, 1)
	go func() { done <- run(cfg) }()
	return runs, done, &out, &mu
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func next(t *testing.T, runs chan runInfo) runInfo {
	t.Helper()
	select {
	case r := <-runs:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no run in 5 s")
	}
	return runInfo{}
}

func wait(t *testing.T, done chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("did not stop")
	}
}

// TestNoDrift: each run works 10 ms of a 30 ms period, yet the due times
// stay on the grid of the first one (re-arming with "now + period" would
// push every run 10 ms further).
func TestNoDrift(t *testing.T) {
	const every = 30 * time.Millisecond
	runs, done, _, _ := start(t, config{every: every, work: 10 * time.Millisecond, limit: 8})
	var got []runInfo
	for range 8 {
		got = append(got, next(t, runs))
	}
	wait(t, done)
	// Every due time is on the first one's grid, one period after the
	// last unless that run overran (a busy machine can stall one), and
	// then exactly the skipped periods later.
	skipped := 0
	for i, r := range got {
		if r.at.Before(r.due) {
			t.Errorf("run %d ran %v early", r.n, r.due.Sub(r.at))
		}
		if i == 0 {
			continue
		}
		prev := got[i-1]
		want := time.Duration(1+prev.skipped) * every
		if d := r.due.Sub(prev.due); d != want {
			t.Errorf("run %d due %v after run %d (want %v, %d skipped)", r.n, d, prev.n, want, prev.skipped)
		}
		if prev.skipped > 0 && prev.at.Add(10*time.Millisecond).Before(prev.due.Add(every)) {
			t.Errorf("run %d skipped %d without overrunning (%v late)", prev.n, prev.skipped, prev.at.Sub(prev.due))
		}
		skipped += prev.skipped
	}
	if skipped > 2 {
		t.Errorf("%d runs skipped: the schedule drifts", skipped)
	}
	// Loose: a shared machine may be slow, but not a whole period per run.
	if late := got[7].at.Sub(got[7].due); late > 8*every {
		t.Errorf("last run %v late", late)
	}
}

// TestOverrun: a run longer than the period skips the missed due times
// and the next one is still on the grid, in the future.
func TestOverrun(t *testing.T) {
	const every = 20 * time.Millisecond
	runs, done, _, _ := start(t, config{every: every, work: 50 * time.Millisecond, limit: 3})
	var got []runInfo
	for range 3 {
		got = append(got, next(t, runs))
	}
	wait(t, done)
	for i, r := range got {
		if d := r.due.Sub(got[0].due); d%every != 0 {
			t.Errorf("run %d due at +%v, not on the %v grid", r.n, d, every)
		}
		if i > 0 && !r.due.After(got[i-1].at.Add(50*time.Millisecond)) {
			t.Errorf("run %d due %v, before the previous run ended", r.n, r.due)
		}
		if i < 2 && r.skipped < 2 {
			t.Errorf("run %d skipped %d, want >= 2", r.n, r.skipped)
		}
	}
}

// TestPostponeAndInterrupt: SIGUSR1 moves the pending run by -postpone
// (AlarmAdjust), the period goes on from there; SIGINT stops cleanly.
func TestPostponeAndInterrupt(t *testing.T) {
	const every, postpone = 80 * time.Millisecond, 120 * time.Millisecond
	runs, done, out, mu := start(t, config{every: every, postpone: postpone})
	r1 := next(t, runs)
	syscall.Kill(syscall.Getpid(), syscall.SIGUSR1)
	r2 := next(t, runs)
	r3 := next(t, runs)
	if d := r2.due.Sub(r1.due); d != every+postpone {
		t.Errorf("run 2 due %v after run 1, want %v", d, every+postpone)
	}
	if d := r3.due.Sub(r2.due); d != every {
		t.Errorf("run 3 due %v after run 2, want %v", d, every)
	}
	syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	wait(t, done)
	mu.Lock()
	text := out.String()
	mu.Unlock()
	for _, want := range []string{"postponed: next run at", "got SIGINT", "stopped after"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in:\n%s", want, text)
		}
	}
	select {
	case r := <-runs:
		if r.n > 4 {
			t.Errorf("ran %d times after SIGINT was sent at run 3", r.n)
		}
	default:
	}
}

// TestBadUsage runs the built command with an unknown flag: the complaint
// and the usage once, exit status 2.
func TestBadUsage(t *testing.T) {
	clitest.BadFlag(t, clitest.Build(t, "."))
}
