package poe

// Conformance cases C64–C69 (docs/poe-semantics.md §9.9, file-handle
// watchers, and §9.10, postbacks and callbacks).

import (
	"os"
	"sort"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cxPipe returns a non-blocking pipe (read end, write end) closed when the
// test ends.
func cxPipe(t *testing.T) (int, int) {
	t.Helper()
	p := nbPipe(t)
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

// cxRefcount returns a session's refcount from the kernel's snapshot.
func cxRefcount(k *Kernel, s *Session) int {
	for _, si := range k.Peek().Sessions {
		if si.ID == s.ID() {
			return si.Refcount
		}
	}
	return -1
}

func cxHandles(k *Kernel, s *Session) int {
	for _, si := range k.Peek().Sessions {
		if si.ID == s.ID() {
			return si.Handles
		}
	}
	return -1
}

func TestConformanceIO(t *testing.T) {
	t.Run("C64", func(t *testing.T) {
		// A *os.File pipe: SelectRead takes anything with SyscallConn.
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		var log cxLog
		k := NewKernel(nil)
		_, err = k.Create(Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				k := e.Kernel
				k.Yield("y", 1)
				k.Yield("y", 2)
				cxMust(t, k.SelectRead(r, "rd1", "extra1"))
				// POE quirk kept (docs/poe-semantics.md §4 and §10
				// Q15): re-registering the same session's read watcher
				// does not replace event or args.
				cxMust(t, k.SelectRead(r, "rd2", "extra2"))
				if _, err := w.Write([]byte("x")); err != nil {
					t.Error(err)
				}
				return nil
			},
			"rd1": func(e *Event) any {
				log.add("rd1 handle_ok=%v mode=%d extra=%v", e.Arg(ARG0) == any(r), e.Int(ARG1), e.Arg(ARG2))
				buf := make([]byte, 10)
				r.Read(buf)
				cxMust(t, e.Kernel.SelectRead(r, ""))
				return nil
			},
			"rd2":   func(e *Event) any { log.add("rd2 (should not happen)"); return nil },
			"y":     func(e *Event) any { log.add("y %d", e.Int(ARG0)); return nil },
			"_stop": func(e *Event) any { log.add("stop"); return nil },
		}})
		cxMust(t, err)
		if err := cxRun(t, k, 5*time.Second); err != nil {
			t.Fatalf("Run = %v", err)
		}
		cxDiff(t, log.lines, []string{
			// I/O readiness is dispatched before the timeslice's batch,
			// so before the events yielded in _start.
			"rd1 handle_ok=true mode=0 extra=extra1",
			"y 1",
			"y 2",
			"stop",
		})
	})

	t.Run("C65", func(t *testing.T) {
		r, w := cxPipe(t)
		r2, _ := cxPipe(t)
		var log cxLog
		k := NewKernel(nil)
		_, err := k.Create(Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				k := e.Kernel
				cxMust(t, k.SelectRead(r, "readable"))
				log.add("pause ret=%v", k.SelectPauseRead(r))
				if _, err := unix.Write(w, []byte("x")); err != nil {
					t.Error(err)
				}
				cxMust(t, k.Delay("resume", 200*time.Millisecond))
				_, err := k.Create(Spec{Inline: map[string]Handler{
					"_start": func(e *Event) any {
						log.add("other session pause on foreign handle ret=%v", e.Kernel.SelectPauseRead(r))
						return nil
					},
				}})
				cxMust(t, err)
				log.add("pause unwatched ret=%v", k.SelectPauseRead(r2))
				return nil
			},
			"resume": func(e *Event) any { log.add("resuming ret=%v", e.Kernel.SelectResumeRead(r)); return nil },
			"readable": func(e *Event) any {
				buf := make([]byte, 10)
				unix.Read(r, buf)
				log.add("readable mode=%d", e.Int(ARG1))
				cxMust(t, e.Kernel.SelectRead(r, ""))
				log.add("removed watcher")
				return nil
			},
			"_stop": func(e *Event) any { log.add("stop"); return nil },
		}})
		cxMust(t, err)
		if err := cxRun(t, k, 5*time.Second); err != nil {
			t.Fatalf("Run = %v", err)
		}
		cxDiff(t, log.lines, []string{
			"pause ret=true",
			"other session pause on foreign handle ret=true",
			"pause unwatched ret=false",
			"resuming ret=true",
			"readable mode=0",
			"removed watcher",
			"stop",
		})
	})

	t.Run("C66", func(t *testing.T) {
		r, _ := cxPipe(t)
		k := NewKernel(nil)
		stopped := false
		s, err := k.Create(Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				cxMust(t, e.Kernel.SelectRead(r, "rd"))
				e.Kernel.SelectPauseRead(r)
				return nil
			},
			"rd": func(e *Event) any { return nil },
			// Test plumbing only: ends the case once it has been checked.
			"quit":  func(e *Event) any { cxMust(t, e.Kernel.SelectRead(r, "")); return nil },
			"_stop": func(e *Event) any { stopped = true; return nil },
		}})
		cxMust(t, err)
		done := make(chan error, 1)
		go func() { done <- k.Run() }()
		select {
		case err := <-done:
			t.Fatalf("Run returned (%v) although a paused watcher holds the session", err)
		case <-time.After(time.Second):
		}
		k.PostFromGoroutine(s.ID(), "quit")
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Run did not return after the watcher was removed")
		}
		if !stopped {
			t.Errorf("_stop did not run")
		}
	})

	t.Run("C67", func(t *testing.T) {
		sp := nbSocketpair(t)
		sp0, sp1 := sp[0], sp[1]
		defer unix.Close(sp0)
		defer unix.Close(sp1)
		r, w := cxPipe(t)
		var log cxLog
		var before int
		k := NewKernel(nil)
		_, err := k.Create(Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { e.Kernel.Yield("setup"); return nil },
			"setup": func(e *Event) any {
				k, s := e.Kernel, e.Session
				base := cxRefcount(k, s)
				cxMust(t, k.SelectRead(sp0, "ev-rd"))
				cxMust(t, k.SelectWrite(sp0, "ev-wr"))
				cxMust(t, k.SelectExpedite(sp0, "ev-ex"))
				log.add("one fd, three modes: +%d handles=%d", cxRefcount(k, s)-base, cxHandles(k, s))
				cxMust(t, k.SelectRead(r, "rd"))
				log.add("second fd: +%d handles=%d", cxRefcount(k, s)-base, cxHandles(k, s))
				cxMust(t, k.SelectWrite(sp0, ""))
				log.add("one mode removed: +%d", cxRefcount(k, s)-base)
				cxMust(t, k.Select(sp0, "", "", ""))
				log.add("all modes removed: +%d handles=%d", cxRefcount(k, s)-base, cxHandles(k, s))
				cxMust(t, k.Delay("write", 50*time.Millisecond))
				return nil
			},
			"write": func(e *Event) any {
				if _, err := unix.Write(w, []byte("x")); err != nil {
					t.Error(err)
				}
				before = cxRefcount(e.Kernel, e.Session)
				return nil
			},
			"rd": func(e *Event) any {
				// Dispatched directly: nothing queued, no refcount change.
				log.add("rd queued=%d refcount_delta=%d", e.Kernel.EventCount(), cxRefcount(e.Kernel, e.Session)-before)
				buf := make([]byte, 10)
				unix.Read(r, buf)
				cxMust(t, e.Kernel.SelectRead(r, ""))
				return nil
			},
		}})
		cxMust(t, err)
		if err := cxRun(t, k, 5*time.Second); err != nil {
			t.Fatalf("Run = %v", err)
		}
		cxDiff(t, log.lines, []string{
			"one fd, three modes: +1 handles=1",
			"second fd: +2 handles=2",
			"one mode removed: +2",
			"all modes removed: +1 handles=1",
			"rd queued=0 refcount_delta=0",
		})
	})

	t.Run("C68", func(t *testing.T) {
		var log cxLog
		var pb *Postback
		var cb *Callback
		k := NewKernel(nil)
		owner, err := k.Create(Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				pb = e.Session.Postback("got", "c1", "c2")
				cb = e.Session.Callback("cbk", "k")
				log.add("made postback")
				return nil
			},
			"got": func(e *Event) any {
				log.add("got created=%v passed=%v sender=%s", e.Slice(ARG0), e.Slice(ARG1), cxWho(e.Sender))
				return nil
			},
			"cbk": func(e *Event) any {
				log.add("cbk created=%v passed=%v", e.Slice(ARG0), e.Slice(ARG1))
				return "cbret"
			},
			"_stop": func(e *Event) any { log.add("owner stop"); return nil },
		}})
		cxMust(t, err)
		_, err = k.Create(Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { cxMust(t, e.Kernel.Delay("fire", 200*time.Millisecond)); return nil },
			"fire": func(e *Event) any {
				// The postback alone has kept the owner alive so far.
				log.add("owner alive=%v", owner.Alive())
				log.add("postback returned %v", pb.Post("p1", "p2"))
				log.add("callback returned %v", cb.Call("x"))
				// Go has no destructor: dropping the closures is Release.
				pb.Release()
				cb.Release()
				log.add("dropped")
				return nil
			},
			"_stop": func(e *Event) any { log.add("firer stop"); return nil },
		}})
		cxMust(t, err)
		if err := cxRun(t, k, 5*time.Second); err != nil {
			t.Fatalf("Run = %v", err)
		}
		got := log.lines
		if len(got) == 9 {
			sort.Strings(got[7:]) // the two stops: sibling order is free
		}
		cxDiff(t, got, []string{
			"made postback",
			"owner alive=true",
			"postback returned 0",
			"cbk created=[k] passed=[x]",
			"callback returned cbret",
			"dropped",
			"got created=[c1 c2] passed=[p1 p2] sender=2",
			"firer stop",
			"owner stop",
		})
	})

	t.Run("C69", func(t *testing.T) {
		var ret any
		k := NewKernel(nil)
		_, err := k.Create(Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				e.Heap.(map[string]any)["callback"] = e.Session.Callback("callback_event")
				e.Kernel.Yield("try_callback")
				return nil
			},
			"try_callback": func(e *Event) any {
				h := e.Heap.(map[string]any)
				cb := h["callback"].(*Callback)
				delete(h, "callback")
				ret = cb.Call()
				cb.Release()
				return nil
			},
			"callback_event": func(e *Event) any { return 42 },
			"_stop":          func(e *Event) any { return nil },
		}})
		cxMust(t, err)
		if err := cxRun(t, k, 5*time.Second); err != nil {
			t.Fatalf("Run = %v", err)
		}
		if ret != 42 {
			t.Errorf("callback returned %v, want 42", ret)
		}
	})
}
