package poe

// Conformance cases C94–C99 (docs/poe-semantics.md §9.13, kernel calls):
// run_while, call in list context, the stamp of a post, the reaping of
// children nobody registered, has_forked and signal_ui_destroy. The
// comments name the Perl experiment (testdata/poe/experiments/eNN_*.pl)
// the expectations come from.

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestConformanceKernelCalls(t *testing.T) {
	// C94 — e40: run_while runs timeslices while the flag holds and
	// leaves the sessions for a later run; a false flag runs nothing.
	t.Run("C94", func(t *testing.T) {
		k := NewKernel(nil)
		var l sqLog
		flag := true
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { e.Kernel.Yield("tick", 1); return nil },
			"tick": func(e *Event) any {
				n := e.Int(ARG0)
				l.add("tick %d", n)
				if n == 3 {
					flag = false
				}
				if n < 5 {
					e.Kernel.Yield("tick", n+1)
				}
				return nil
			},
			"_stop": func(e *Event) any { l.add("stop"); return nil },
		}})
		if err := k.RunWhile(func() bool { return flag }); err != nil {
			t.Fatalf("RunWhile: %v", err)
		}
		l.add("run_while returned")
		if err := k.RunWhile(func() bool { return false }); err != nil {
			t.Fatalf("RunWhile(false): %v", err)
		}
		l.add("false flag returned")
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatalf("Run: %v", err)
		}
		l.add("run returned")
		sqWant(t, []string{"tick 1", "tick 2", "tick 3", "run_while returned", "false flag returned",
			"tick 4", "tick 5", "stop", "run returned"}, l.lines)
	})

	// C94b: RunWhile ends with the kernel, and returns Run's fatal error.
	t.Run("C94b", func(t *testing.T) {
		lg, _ := sqLogger()
		k := NewKernel(&Options{NoCatch: true, Logger: lg})
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { e.Kernel.Yield("boom"); return nil },
			"boom":   func(e *Event) any { panic("boom") },
		}})
		err := k.RunWhile(func() bool { return true })
		if err == nil || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("RunWhile = %v, want the handler's panic", err)
		}
	})

	// C95 — e38: call in list context. A handler's List comes back whole
	// from CallList and as its last element from Call, into the caller
	// itself or another session; an empty List gives no element (and
	// nil), a lone value one, a missing handler one nil, an unresolved
	// destination none and ESRCH.
	t.Run("C95", func(t *testing.T) {
		k := NewKernel(nil)
		var l sqLog
		show := func(what string, r []any, err error) {
			parts := make([]string, len(r))
			for i, v := range r {
				if v == nil {
					parts[i] = "undef"
				} else {
					parts[i] = fmt.Sprint(v)
				}
			}
			l.add("%s n=%d [%s]", what, len(r), strings.Join(parts, ","))
			if err != nil {
				l.add("errno %s", sqErrno(err))
			}
		}
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				e.Kernel.AliasSet("t")
				r, err := e.Kernel.CallList("t", "lst")
				show("self list", r, err)
				s, _ := e.Kernel.Call("t", "lst")
				l.add("self scalar %v", s)
				return nil
			},
			"lst":   func(e *Event) any { return List{1, 2, 3} },
			"empty": func(e *Event) any { return List{} },
			"one":   func(e *Event) any { return "x" },
		}})
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				k := e.Kernel
				r, err := k.CallList("t", "lst")
				show("other list", r, err)
				s, _ := k.Call("t", "lst")
				l.add("other scalar %v", s)
				r, err = k.CallList("t", "empty")
				show("empty", r, err)
				s, _ = k.Call("t", "empty")
				l.add("empty scalar %v", s)
				r, err = k.CallList("t", "one")
				show("one", r, err)
				r, err = k.CallList("t", "nosuch")
				show("nohandler", r, err)
				r, err = k.CallList("nobody", "lst")
				show("unresolved", r, err)
				return nil
			},
		}})
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatalf("Run: %v", err)
		}
		sqWant(t, []string{"self list n=3 [1,2,3]", "self scalar 3", "other list n=3 [1,2,3]", "other scalar 3",
			"empty n=0 []", "empty scalar <nil>", "one n=1 [x]", "nohandler n=1 [undef]",
			"unresolved n=0 []", "errno ESRCH"}, l.lines)
	})

	// C96 — e37: a post is stamped when it is made. A timer that falls
	// due while a handler runs is dispatched after what the handler posted
	// before that moment and before what it posted after.
	t.Run("C96", func(t *testing.T) {
		k := NewKernel(nil)
		var l sqLog
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { e.Kernel.Yield("slow"); return nil },
			"slow": func(e *Event) any {
				k := e.Kernel
				cxMust(t, k.Delay("timer", 30*time.Millisecond))
				k.Yield("early")
				time.Sleep(80 * time.Millisecond) // the timer falls due here
				k.Yield("late")
				l.add("slow")
				return nil
			},
			"early": func(e *Event) any { l.add("early"); return nil },
			"late":  func(e *Event) any { l.add("late"); return nil },
			"timer": func(e *Event) any { l.add("timer"); return nil },
		}})
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatalf("Run: %v", err)
		}
		sqWant(t, []string{"slow", "early", "timer", "late"}, l.lines)
	})

	// C97 — e39: which children are reaped. While a session watches CHLD
	// the kernel reaps every child, one nobody gave to SigChild included,
	// and raises CHLD for it; without a watcher such a child stays a
	// zombie for its owner to Wait for (POE reaps it only when run
	// returns; the port leaves it to os/exec).
	t.Run("C97", func(t *testing.T) {
		for _, mode := range []string{"none", "sig"} {
			t.Run(mode, func(t *testing.T) { testChildReaping(t, mode) })
		}
	})

	// C98 — e41: has_forked in the process that made the kernel changes
	// nothing (POE warns); in a new process it renews the kernel's ID,
	// and Run does so by itself.
	t.Run("C98", func(t *testing.T) {
		k := NewKernel(nil)
		id := k.ID()
		if err := k.HasForked(); !errors.Is(err, ErrNotForked) {
			t.Errorf("HasForked in the parent = %v, want ErrNotForked", err)
		}
		if k.ID() != id {
			t.Errorf("ID changed in the parent: %s -> %s", id, k.ID())
		}
		pid := k.pid + 1
		defer func(old func() int) { getpid = old }(getpid)
		getpid = func() int { return pid }
		if err := k.HasForked(); err != nil {
			t.Errorf("HasForked in a child = %v", err)
		}
		if k.ID() == id || !strings.Contains(k.ID(), fmt.Sprintf("-%08x-", pid)) {
			t.Errorf("ID in the child = %s (was %s), want one naming pid %x", k.ID(), id, pid)
		}
		if s := k.resolve(k.ID()); s != k.Session() {
			t.Errorf("the new ID resolves to %v, want the kernel", s)
		}
		if err := k.HasForked(); !errors.Is(err, ErrNotForked) {
			t.Errorf("second HasForked = %v, want ErrNotForked", err)
		}
		// Run notices a new process ID by itself.
		k2 := NewKernel(nil)
		id2 := k2.ID()
		pid++
		var seen string
		sqCreate(t, k2, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { e.Kernel.Yield("look"); return nil },
			"look":   func(e *Event) any { seen = e.Kernel.ID(); return nil },
		}})
		if _, err := sqRun(t, k2, 10*time.Second); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if seen == id2 || !strings.Contains(seen, fmt.Sprintf("-%08x-", pid)) {
			t.Errorf("ID seen in Run = %s (was %s), want one naming pid %x", seen, id2, pid)
		}
	})

	// C99 — POE::Loop's loop_attach_uidestroy (Gtk and Tk dispatch
	// UIDESTROY from the window's destroy callback): SignalUIDestroy on the
	// kernel's goroutine dispatches UIDESTROY at once to every session;
	// it is nonmaskable, so the sessions stop (SigHandled or not) before
	// the call returns. From another goroutine it is queued; with no
	// session it does nothing.
	t.Run("C99", func(t *testing.T) {
		k := NewKernel(nil)
		k.SignalUIDestroy() // no session: nothing to do
		var l sqLog
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				cxMust(t, e.Kernel.Sig("UIDESTROY", "ui"))
				cxMust(t, e.Kernel.Delay("never", time.Hour))
				e.Kernel.AliasSet("a")
				return nil
			},
			"ui":    func(e *Event) any { l.add("ui %s", e.String(ARG0)); e.Kernel.SigHandled(); return nil },
			"_stop": func(e *Event) any { l.add("a stop"); return nil },
		}})
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { e.Kernel.Yield("close"); return nil },
			"close": func(e *Event) any {
				e.Kernel.SignalUIDestroy()
				l.add("after SignalUIDestroy")
				return nil
			},
			"_stop": func(e *Event) any { l.add("b stop"); return nil },
		}})
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatalf("Run: %v", err)
		}
		got := append([]string(nil), l.lines...)
		// Sibling sessions stop in either order, as in POE.
		if len(got) == 4 && got[1] == "b stop" {
			got[1], got[2] = got[2], got[1]
		}
		sqWant(t, []string{"ui UIDESTROY", "a stop", "b stop", "after SignalUIDestroy"}, got)

		// From another goroutine: queued for the running kernel.
		k = NewKernel(nil)
		l = sqLog{}
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				cxMust(t, e.Kernel.Sig("UIDESTROY", "ui"))
				cxMust(t, e.Kernel.Delay("never", time.Hour))
				e.Kernel.Yield("go")
				return nil
			},
			"go": func(e *Event) any {
				go e.Kernel.SignalUIDestroy()
				return nil
			},
			"ui":    func(e *Event) any { l.add("ui %s", e.String(ARG0)); return nil },
			"_stop": func(e *Event) any { l.add("stop"); return nil },
		}})
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatalf("Run: %v", err)
		}
		sqWant(t, []string{"ui UIDESTROY", "stop"}, l.lines)
	})
}
