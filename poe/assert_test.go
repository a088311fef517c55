package poe

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// catch runs fn and returns what it panicked with.
func catch(fn func()) (r any) {
	defer func() { r = recover() }()
	fn()
	return nil
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func wantWrongGoroutine(t *testing.T, r any, method string) {
	t.Helper()
	err, _ := r.(error)
	if !errors.Is(err, ErrWrongGoroutine) {
		t.Fatalf("%s off the kernel's goroutine: recovered %v, want ErrWrongGoroutine", method, r)
	}
	for _, s := range []string{method, "PostFromGoroutine", "CallFromGoroutine"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q does not name %s", err, s)
		}
	}
}

// A kernel blocked in its reactor is noticed in every mode: the caller is
// necessarily another goroutine.
func TestOffGoroutineWhileWaiting(t *testing.T) {
	noAssertEnv(t)
	k := NewKernel(nil)
	service(t, k, nil)
	wait := runAsync(t, k, 10*time.Second)
	waitUntil(t, "the kernel to wait", func() bool { return k.bridge.guard.Load()&guardWaiting != 0 })

	wantWrongGoroutine(t, catch(func() { k.Post("svc", "x") }), "Post")
	wantWrongGoroutine(t, catch(func() { k.Call("svc", "x") }), "Call")
	// (Yield outside a handler does nothing and stays inlinable unchecked.)
	wantWrongGoroutine(t, catch(func() { k.AliasResolve("svc") }), "AliasResolve")
	wantWrongGoroutine(t, catch(func() { k.Delay("x", time.Second) }), "Delay")
	wantWrongGoroutine(t, catch(func() { k.AliasSet("x") }), "AliasSet")
	wantWrongGoroutine(t, catch(func() { k.Sig("USR1", "x") }), "Sig")
	wantWrongGoroutine(t, catch(func() { k.Signal(k, "USR1") }), "Signal")
	wantWrongGoroutine(t, catch(func() { k.SelectRead(0, "x") }), "SelectRead")
	wantWrongGoroutine(t, catch(func() { k.Create(Spec{Inline: map[string]Handler{"_start": nop}}) }), "Create")

	k.PostFromGoroutine("svc", "quit")
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	// Run has returned: the caller owns the kernel again.
	if r := catch(func() { k.Post(k, "x") }); r != nil {
		t.Errorf("Post after Run panicked: %v", r)
	}
}

// With Options.Assert (and in race builds) a call made while a handler
// runs on the kernel's goroutine is noticed too.
func TestOffGoroutineWhileDispatching(t *testing.T) {
	k := NewKernel(&Options{Assert: true})
	in, out := make(chan struct{}), make(chan struct{})
	service(t, k, map[string]Handler{
		"block": func(e *Event) any {
			close(in)
			<-out
			// The kernel's own goroutine still may.
			cxMust(t, e.Kernel.Post("svc", "x"))
			e.Kernel.Yield("quit")
			return nil
		},
		"x": nop,
	})
	k.Post("svc", "block") // before Run: the creating goroutine may
	wait := runAsync(t, k, 10*time.Second)
	<-in
	r := catch(func() { k.Post("svc", "x") })
	close(out)
	wantWrongGoroutine(t, r, "Post")
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

// An Event kept past its handler fails loudly instead of reading nil.
func TestEventUsedAfterReturn(t *testing.T) {
	noAssertEnv(t)
	for _, assert := range []bool{false, true} {
		k := NewKernel(&Options{Assert: assert})
		var kept *Event
		k.Create(Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { e.Kernel.Yield("keep", "v"); return nil },
			"keep":   func(e *Event) any { kept = e; return nil },
		}})
		if err := k.Run(); err != nil {
			t.Fatal(err)
		}
		for name, use := range map[string]func(){
			"Arg":    func() { kept.Arg(ARG0) },
			"String": func() { _ = kept.String(ARG0) },
			"Int":    func() { kept.Int(ARG0) },
			"HeapOf": func() { HeapOf[map[string]any](kept) },
		} {
			r := catch(use)
			msg := fmt.Sprint(r)
			if !strings.Contains(msg, "Event used after its handler returned") {
				t.Errorf("assert=%v: %s of a returned Event: recovered %v", assert, name, r)
			}
			// Only unpooled (assert) Events still name their own event.
			if assert && !strings.Contains(msg, `event "keep" of session 1`) {
				t.Errorf("assert=%v: %s: message %q does not name the event", assert, name, msg)
			}
		}
	}
}

// A nil *Session (an Event's Session read too late) says so.
func TestPostToNilSessionExplains(t *testing.T) {
	k := NewKernel(nil)
	err := k.Post((*Session)(nil), "x")
	if !errors.Is(err, ESRCH) || !strings.Contains(err.Error(), "after its handler returned") {
		t.Errorf("Post(nil *Session) = %v", err)
	}
}

// Assert mode reports an event nobody handles as an exception (a DIE in
// the destination), like a croak in the dispatch; normal mode drops it.
func TestAssertUnknownEvent(t *testing.T) {
	noAssertEnv(t)
	for _, assert := range []bool{false, true} {
		k := NewKernel(&Options{Assert: assert})
		k.Create(Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { e.Kernel.Yield("nope"); return nil },
		}})
		err := k.Run()
		if !assert {
			if err != nil {
				t.Errorf("normal mode: Run = %v", err)
			}
			continue
		}
		if !errors.Is(err, ENOSYS) || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), "session 1") {
			t.Errorf("assert mode: Run = %v, want an ENOSYS error naming the event and session", err)
		}
	}
}

// POE's own events (_child, _stop, _parent) may go unhandled in assert
// mode, and _default still catches the rest.
func TestAssertOwnEventsAndDefault(t *testing.T) {
	k := NewKernel(&Options{Assert: true})
	var caught string
	k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			e.Kernel.Create(Spec{Inline: map[string]Handler{"_start": nop}})
			e.Kernel.Yield("other")
			return nil
		},
		"_default": func(e *Event) any { caught += e.String(ARG0) + " "; return nil },
	}})
	if err := k.Run(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	// _default sees _child (POE sends it there too) and "other".
	if !strings.Contains(caught, "other") {
		t.Errorf("_default caught %q", caught)
	}
}

// Assert mode reports an argument index past the event's arguments given
// to a converting accessor.
func TestAssertArgIndex(t *testing.T) {
	noAssertEnv(t)
	for _, assert := range []bool{false, true} {
		k := NewKernel(&Options{Assert: assert})
		got := -1
		k.Create(Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { e.Kernel.Yield("two", 1, 2); return nil },
			"two": func(e *Event) any {
				// Optional arguments read raw or as flags are fine.
				if e.Arg(ARG3) != nil || e.Bool(ARG4) {
					t.Error("a missing argument is not nil and false")
				}
				got = e.Int(ARG5)
				return nil
			},
		}})
		err := k.Run()
		if !assert {
			if err != nil || got != 0 {
				t.Errorf("normal mode: Run = %v, ARG5 = %d; want nil, 0", err, got)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "ARG5") || !strings.Contains(err.Error(), `"two"`) || !strings.Contains(err.Error(), "2 arguments") {
			t.Errorf("assert mode: Run = %v, want an error naming ARG5, the event and its 2 arguments", err)
		}
	}
}

func TestAssertFromEnvironment(t *testing.T) {
	noAssertEnv(t)
	if k := NewKernel(nil); k.opts.Assert {
		t.Error("assert mode is on by default")
	}
	for _, v := range []string{"POE_ASSERT", "POE_ASSERT_DEFAULT"} {
		t.Setenv(v, "1")
		if k := NewKernel(nil); !k.opts.Assert {
			t.Errorf("%s=1 did not turn assert mode on", v)
		}
		t.Setenv(v, "")
	}
}

// noAssertEnv keeps a test of normal mode normal when the suite runs with
// POE_ASSERT=1.
func noAssertEnv(t *testing.T) {
	t.Setenv("POE_ASSERT", "")
	t.Setenv("POE_ASSERT_DEFAULT", "")
}

func TestSeconds(t *testing.T) {
	for _, c := range []struct {
		s    float64
		want time.Duration
	}{
		{1.5, 1500 * time.Millisecond},
		{0.1, 100 * time.Millisecond},
		{0, 0},
		{-2, -2 * time.Second},
		{1e-9, time.Nanosecond},
		{1e300, time.Duration(1<<63 - 1)},
	} {
		if got := Seconds(c.s); got != c.want {
			t.Errorf("Seconds(%v) = %v, want %v", c.s, got, c.want)
		}
	}
}
