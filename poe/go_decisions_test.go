package poe

// Tests of decisions the Go port makes where POE has no equivalent or
// where the port deliberately departs from POE: docs/poe-semantics.md §10,
// whose decisions are numbered Q1 … Q22 (the quirks An are in its
// Appendix A).

import (
	"errors"
	"fmt"
	"os/exec"
	"reflect"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Q20: methods acting on the active session fail outside handlers instead
// of acting on the kernel pseudo-session (port variant).
func TestGoNoActiveSession(t *testing.T) {
	k := NewKernel(nil)
	r, _ := cxPipe(t)
	s, err := k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any { return nil },
	}})
	if err != nil {
		t.Fatal(err)
	}
	check := func(phase string) {
		t.Helper()
		calls := map[string]func() error{
			"Alarm":        func() error { return k.Alarm("a", time.Now().Add(time.Hour)) },
			"AlarmAdd":     func() error { return k.AlarmAdd("a", time.Now().Add(time.Hour)) },
			"AlarmSet":     func() error { _, err := k.AlarmSet("a", time.Now().Add(time.Hour)); return err },
			"Delay":        func() error { return k.Delay("a", time.Hour) },
			"DelayAdd":     func() error { return k.DelayAdd("a", time.Hour) },
			"DelaySet":     func() error { _, err := k.DelaySet("a", time.Hour); return err },
			"AlarmAdjust":  func() error { _, err := k.AlarmAdjust(1, time.Second); return err },
			"DelayAdjust":  func() error { _, err := k.DelayAdjust(1, time.Second); return err },
			"AlarmRemove":  func() error { _, err := k.AlarmRemove(1); return err },
			"AlarmRemove0": func() error { _, err := k.AlarmRemoveAll(); return err },
			"AliasSet":     func() error { return k.AliasSet("x") },
			"AliasRemove":  func() error { return k.AliasRemove("x") },
			"Sig":          func() error { return k.Sig("USR2", "ev") },
			"SigRemove":    func() error { return k.Sig("USR2", "") },
			"SigChild":     func() error { return k.SigChild(1, "ev") },
			"SelectRead":   func() error { return k.SelectRead(r, "ev") },
			"SelectWrite":  func() error { return k.SelectWrite(r, "ev") },
			"SelectExp":    func() error { return k.SelectExpedite(r, "ev") },
			"Select":       func() error { return k.Select(r, "ev", "", "") },
			"State":        func() error { return k.State("ev", func(*Event) any { return nil }) },
			"StateObject":  func() error { return k.StateObject("ev", "obj", func(*Event) any { return nil }) },
			"DetachMyself": func() error { return k.DetachMyself() },
			"DetachChild":  func() error { return k.DetachChild(s) },
			"StopSession":  func() error { return k.StopSession() },
		}
		for name, f := range calls {
			err := f()
			if !errors.Is(err, ErrNoActiveSession) || !errors.Is(err, ESRCH) || !errors.Is(err, syscall.ESRCH) {
				t.Errorf("%s: %s outside a handler = %v, want ErrNoActiveSession (ESRCH)", phase, name, err)
			}
		}
		// Yield has no error to return: it does nothing.
		n := k.EventCount()
		k.Yield("ev")
		if k.EventCount() != n {
			t.Errorf("%s: Yield outside a handler queued something", phase)
		}
		// Post, Call and Signal stay legal outside handlers.
		if s.Alive() {
			if err := k.Post(s, "nothing"); err != nil {
				t.Errorf("%s: Post outside a handler = %v", phase, err)
			}
		}
	}
	check("before Run")
	if s.Parent() != k.Session() {
		t.Errorf("DetachChild outside a handler moved the session")
	}
	if err := cxRun(t, k, 5*time.Second); err != nil {
		t.Fatalf("Run = %v", err)
	}
	check("after Run")
}

// Q2: PostFromGoroutine is the one thread-safe entry; run with -race.
func TestGoPostFromGoroutine(t *testing.T) {
	const goroutines, each = 16, 300
	k := NewKernel(nil)
	seen := map[[2]int]int{}
	total := 0
	s, err := k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			cxMust(t, e.Kernel.AliasSet("sink"))
			// Hold the kernel: other goroutines will post.
			_, err := e.Kernel.RefcountIncrement(e.Session.ID(), "producers")
			cxMust(t, err)
			return nil
		},
		"ev": func(e *Event) any {
			if !e.Sender.IsKernel() {
				t.Errorf("SENDER = %s, want the kernel", cxWho(e.Sender))
			}
			seen[[2]int{e.Int(ARG0), e.Int(ARG1)}]++
			total++
			if total == goroutines*each {
				_, err := e.Kernel.RefcountDecrement(e.Session.ID(), "producers")
				cxMust(t, err)
				cxMust(t, e.Kernel.AliasRemove("sink"))
			}
			return nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			<-start
			for i := 0; i < each; i++ {
				var dest any = s.ID()
				if i%2 == 1 {
					dest = "sink"
				}
				k.PostFromGoroutine(dest, "ev", g, i)
			}
		}(g)
	}
	close(start)
	err = cxRun(t, k, 20*time.Second)
	wg.Wait()
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if total != goroutines*each || len(seen) != goroutines*each {
		t.Fatalf("delivered %d events (%d distinct), want %d", total, len(seen), goroutines*each)
	}
	for key, n := range seen {
		if n != 1 {
			t.Errorf("event %v delivered %d times", key, n)
		}
	}
}

// Q1: kernels are independent values; nothing is process-wide.
func TestGoKernelsShareNothing(t *testing.T) {
	mk := func(name string, log *cxLog) (*Kernel, *Session) {
		k := NewKernel(nil)
		n := 0
		s, err := k.Create(Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				cxMust(t, e.Kernel.AliasSet("same"))
				cxMust(t, e.Kernel.Sig("USR2", "never"))
				e.Kernel.Yield("ping")
				return nil
			},
			"ping": func(e *Event) any {
				if n++; n < 2000 {
					e.Kernel.Yield("ping")
				} else {
					cxMust(t, e.Kernel.Delay("done", 10*time.Millisecond))
				}
				return nil
			},
			"done":  func(e *Event) any { cxMust(t, e.Kernel.AliasRemove("same")); return nil },
			"_stop": func(e *Event) any { log.add("%s stop after %d pings", name, n); return nil },
		}})
		if err != nil {
			t.Fatal(err)
		}
		return k, s
	}
	var log1, log2 cxLog
	k1, s1 := mk("k1", &log1)
	k2, s2 := mk("k2", &log2)
	if s1.ID() != 1 || s2.ID() != 1 {
		t.Errorf("first session IDs = %d, %d; want 1 and 1", s1.ID(), s2.ID())
	}
	if k1.ID() == k2.ID() {
		t.Errorf("two kernels share the ID %q", k1.ID())
	}
	if k1.AliasResolve("same") != s1 || k2.AliasResolve("same") != s2 {
		t.Errorf("alias \"same\" does not resolve to each kernel's own session")
	}
	if err := k1.Post(s2, "ping"); !errors.Is(err, ESRCH) {
		t.Errorf("posting to another kernel's session = %v, want ESRCH", err)
	}
	if k1.AliasResolve(1) != s1 || k2.AliasResolve(1) != s2 {
		t.Errorf("ID 1 does not resolve to each kernel's own session")
	}
	// Both run at once on their own goroutines; -race reports any shared
	// mutable state.
	errs := make(chan error, 2)
	for _, k := range []*Kernel{k1, k2} {
		go func(k *Kernel) { errs <- k.Run() }(k)
	}
	for i := 0; i < 2; i++ {
		select {
		case err := <-errs:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("kernels did not finish")
		}
	}
	cxDiff(t, log1.lines, []string{"k1 stop after 2000 pings"})
	cxDiff(t, log2.lines, []string{"k2 stop after 2000 pings"})
}

// Q15 / A19: decrementing a tag that does not exist is refused (POE lets
// it go to -1): port variant.
func TestGoRefcountDecrementUnknownTag(t *testing.T) {
	k := NewKernel(nil)
	var results []string
	_, err := k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			k, id := e.Kernel, e.Session.ID()
			rec := func(op string, n int, err error) {
				results = append(results, fmt.Sprintf("%s n=%d einval=%v esrch=%v", op, n, errors.Is(err, EINVAL), errors.Is(err, ESRCH)))
			}
			n, err := k.RefcountDecrement(id, "unknown")
			rec("dec unknown", n, err)
			n, err = k.RefcountIncrement(id, "t")
			rec("inc t", n, err)
			n, err = k.RefcountDecrement(id, "t")
			rec("dec t", n, err)
			n, err = k.RefcountDecrement(id, "t")
			rec("dec t again", n, err)
			n, err = k.RefcountIncrement(id, "t")
			rec("inc t", n, err)
			n, err = k.RefcountDecrement(id, "t")
			rec("dec t", n, err)
			n, err = k.RefcountDecrement(id+100, "t")
			rec("dec unknown session", n, err)
			return nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// The session must not be held by a negative count: Run ends.
	if err := cxRun(t, k, 5*time.Second); err != nil {
		t.Fatalf("Run = %v", err)
	}
	cxDiff(t, results, []string{
		"dec unknown n=0 einval=true esrch=false",
		"inc t n=1 einval=false esrch=false",
		"dec t n=0 einval=false esrch=false",
		"dec t again n=0 einval=true esrch=false",
		"inc t n=1 einval=false esrch=false",
		"dec t n=0 einval=false esrch=false",
		"dec unknown session n=0 einval=false esrch=true",
	})
}

// Q15 / A6: a second SigChild for the same PID from the same session
// replaces the first and counts once, so the session still stops when the
// child has been reaped (POE counts twice, releases once, and the session
// never stops): port variant.
func TestGoSigChildTwiceCountsOnce(t *testing.T) {
	var log cxLog
	k := NewKernel(nil)
	_, err := k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			k, s := e.Kernel, e.Session
			cmd := exec.Command("sh", "-c", "sleep 0.1")
			if err := cmd.Start(); err != nil {
				t.Errorf("start child: %v", err)
				return nil
			}
			base := cxRefcount(k, s)
			cxMust(t, k.SigChild(cmd.Process.Pid, "first"))
			cxMust(t, k.SigChild(cmd.Process.Pid, "second", "x"))
			log.add("refcount +%d", cxRefcount(k, s)-base)
			for _, si := range k.Peek().Sessions {
				if si.ID == s.ID() {
					log.add("pids=%d", si.PIDs)
				}
			}
			return nil
		},
		"first":  func(e *Event) any { log.add("first (should not happen)"); return nil },
		"second": func(e *Event) any { log.add("second status=%d extra=%v", e.Int(ARG2), e.Arg(ARG3)); return nil },
		"_stop":  func(e *Event) any { log.add("stop"); return nil },
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cxRun(t, k, 10*time.Second); err != nil {
		t.Fatalf("Run = %v", err)
	}
	cxDiff(t, log.lines, []string{"refcount +1", "pids=1", "second status=0 extra=x", "stop"})
}

// Run returns when no session is left and may be called again; the next
// session starts a fresh run. A fatal error is reported by one Run only.
func TestGoRunAgain(t *testing.T) {
	k := NewKernel(nil)
	if err := cxRun(t, k, time.Second); err != nil {
		t.Fatalf("Run with no session = %v", err)
	}
	var log cxLog
	session := func(name string, die bool) {
		t.Helper()
		_, err := k.Create(Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				log.add("%s start", name)
				cxMust(t, e.Kernel.Delay("tick", 10*time.Millisecond))
				return nil
			},
			"tick": func(e *Event) any {
				log.add("%s tick", name)
				if die {
					panic(name + " died")
				}
				return nil
			},
			"_stop": func(e *Event) any { log.add("%s stop", name); return nil },
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	session("one", false)
	if err := cxRun(t, k, 5*time.Second); err != nil {
		t.Fatalf("first Run = %v", err)
	}
	session("two", true)
	if err := cxRun(t, k, 5*time.Second); err == nil || err.Error() != "two died" {
		t.Fatalf("second Run = %v, want \"two died\"", err)
	}
	session("three", false)
	if err := cxRun(t, k, 5*time.Second); err != nil {
		t.Fatalf("third Run = %v (a previous fatal error leaked)", err)
	}
	if k.Running() {
		t.Errorf("Running() after Run returned")
	}
	cxDiff(t, log.lines, []string{
		"one start", "one tick", "one stop",
		"two start", "two tick", "two stop",
		"three start", "three tick", "three stop",
	})
}

// Defer runs at the end of the timeslice, after the batch of events, once
// per call; what a deferred function defers waits for the next timeslice.
func TestDeferEndOfTimeslice(t *testing.T) {
	k := NewKernel(nil)
	var log []string
	_, err := k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			e.Kernel.Yield("a")
			e.Kernel.Yield("b")
			return nil
		},
		"a": func(e *Event) any {
			log = append(log, "a")
			e.Kernel.Defer(func() {
				log = append(log, "deferred by a")
				e.Kernel.Defer(func() { log = append(log, "deferred by a deferred") })
			})
			return nil
		},
		"b": func(e *Event) any {
			log = append(log, "b")
			e.Kernel.Yield("c")
			return nil
		},
		"c": func(e *Event) any { log = append(log, "c"); return nil },
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Run(); err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "b", "deferred by a", "c", "deferred by a deferred"}
	if !reflect.DeepEqual(log, want) {
		t.Errorf("order %q, want %q", log, want)
	}
}
