package poe

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// runAsync runs k on a new goroutine; the returned function waits for Run
// (failing the test after limit) and returns its error.
func runAsync(t *testing.T, k *Kernel, limit time.Duration) func() error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- k.Run() }()
	return func() error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(limit):
			t.Fatalf("Run did not return within %v", limit)
			return nil
		}
	}
}

// service creates a session aliased "svc", held alive by an extra
// reference until its "quit" event; handlers adds the test's own.
func service(t *testing.T, k *Kernel, handlers map[string]Handler) *Session {
	t.Helper()
	h := map[string]Handler{
		"_start": func(e *Event) any {
			cxMust(t, e.Kernel.AliasSet("svc"))
			_, err := e.Kernel.RefcountIncrement(e.Session.ID(), "test")
			cxMust(t, err)
			return nil
		},
		"quit": func(e *Event) any {
			_, err := e.Kernel.RefcountDecrement(e.Session.ID(), "test")
			cxMust(t, err)
			cxMust(t, e.Kernel.AliasRemove("svc"))
			return nil
		},
	}
	for name, fn := range handlers {
		h[name] = fn
	}
	s, err := k.Create(Spec{Inline: h})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCallFromGoroutine(t *testing.T) {
	k := NewKernel(nil)
	var ran atomic.Int32
	release := make(chan struct{})
	service(t, k, map[string]Handler{
		"add": func(e *Event) any { ran.Add(1); return e.Int(ARG0) + e.Int(ARG1) },
		"who": func(e *Event) any { return e.Sender.IsKernel() },
		"block": func(e *Event) any {
			<-release
			return "late"
		},
		"nested": func(e *Event) any {
			// On the kernel's goroutine: must run at once, not deadlock.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r, err := e.Kernel.CallFromGoroutine(ctx, "svc", "add", 20, 22)
			if err != nil {
				return err
			}
			return r
		},
	})
	wait := runAsync(t, k, 10*time.Second)
	ctx := context.Background()

	if r, err := k.CallFromGoroutine(ctx, "svc", "add", 2, 3); err != nil || r != 5 {
		t.Errorf("add = %v, %v; want 5, nil", r, err)
	}
	if r, err := k.CallFromGoroutine(ctx, "svc", "who"); err != nil || r != true {
		t.Errorf("SENDER is the kernel = %v, %v; want true, nil", r, err)
	}
	if _, err := k.CallFromGoroutine(ctx, "nobody", "add"); !errors.Is(err, ESRCH) {
		t.Errorf("unknown destination: err = %v, want ESRCH", err)
	}
	if r, err := k.CallFromGoroutine(ctx, "svc", "nested"); err != nil || r != 42 {
		t.Errorf("from the kernel's goroutine = %v, %v; want 42, nil", r, err)
	}

	before := ran.Load()
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := k.CallFromGoroutine(gone, "svc", "add", 1, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v, want context.Canceled", err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if _, err := k.CallFromGoroutine(short, "svc", "block"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("handler outlasting the context: err = %v, want DeadlineExceeded", err)
	}
	cancel()
	close(release)
	// The call abandoned while queued never runs: "add" is not seen again.
	if r, err := k.CallFromGoroutine(ctx, "svc", "add", 0, 0); err != nil || r != 0 {
		t.Errorf("after the block: %v, %v", r, err)
	}
	if n := ran.Load() - before; n != 1 {
		t.Errorf("add ran %d times since the cancelled call, want 1", n)
	}

	k.PostFromGoroutine("svc", "quit")
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := k.CallFromGoroutine(ctx, "svc", "add", 1, 2); !errors.Is(err, ErrKernelStopped) {
		t.Errorf("after Run: err = %v, want ErrKernelStopped", err)
	}
}

// A call made before Run waits for Run; the kernel's finishing with the
// call still queued fails it.
func TestCallFromGoroutineBeforeRun(t *testing.T) {
	k := NewKernel(nil)
	service(t, k, map[string]Handler{
		"add": func(e *Event) any { return e.Int(ARG0) + e.Int(ARG1) },
	})
	got := make(chan error, 1)
	go func() {
		r, err := k.CallFromGoroutine(context.Background(), "svc", "add", 1, 2)
		if err == nil && r != 3 {
			err = errors.New("wrong answer")
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it queue before Run (not required for the test to pass)
	wait := runAsync(t, k, 10*time.Second)
	select {
	case err := <-got:
		if err != nil {
			t.Errorf("call queued before Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("call queued before Run never answered")
	}
	k.PostFromGoroutine("svc", "quit")
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

// With NoCatch a handler's panic stops the kernel: the waiting caller
// learns it, and calls queued behind it are failed, not lost.
func TestCallFromGoroutineNoCatchPanic(t *testing.T) {
	k := NewKernel(&Options{NoCatch: true})
	service(t, k, map[string]Handler{
		"boom": func(e *Event) any { panic("boom") },
		"add":  func(e *Event) any { return 1 },
	})
	// Both calls are queued before Run, in this order, so that they
	// share a batch.
	errs := make(chan error, 2)
	for i, ev := range []string{"boom", "add"} {
		go func() {
			_, err := k.CallFromGoroutine(context.Background(), "svc", ev)
			errs <- err
		}()
		waitUntil(t, "the call to queue", func() bool { return k.bridge.pending.Load() == int32(i+1) })
	}
	wait := runAsync(t, k, 10*time.Second)
	if err := wait(); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Run = %v, want the panic", err)
	}
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrKernelStopped) {
				t.Errorf("call: err = %v, want ErrKernelStopped", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a call was never answered")
		}
	}
}

func TestRunContext(t *testing.T) {
	var saw []string
	k := NewKernel(nil)
	ctx, cancel := context.WithCancelCause(context.Background())
	why := errors.New("operator says stop")
	ticks := 0
	k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			cxMust(t, e.Kernel.Sig("UIDESTROY", "ui"))
			cxMust(t, e.Kernel.Delay("tick", time.Millisecond))
			return nil
		},
		"tick": func(e *Event) any {
			if ticks++; ticks == 3 {
				cancel(why)
			}
			cxMust(t, e.Kernel.Delay("tick", time.Millisecond))
			return nil
		},
		"ui":    func(e *Event) any { saw = append(saw, "UIDESTROY"); return nil },
		"_stop": func(e *Event) any { saw = append(saw, "_stop"); return nil },
	}})
	done := make(chan error, 1)
	go func() { done <- k.RunContext(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, why) {
			t.Errorf("RunContext = %v, want the context's cause", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunContext did not return after the context ended")
	}
	if strings.Join(saw, " ") != "UIDESTROY _stop" {
		t.Errorf("saw %q, want UIDESTROY then _stop", saw)
	}

	// A run that ends by itself returns nil, its context still alive.
	k2 := NewKernel(nil)
	k2.Create(Spec{Inline: map[string]Handler{"_start": func(e *Event) any { e.Kernel.Yield("x"); return nil }, "x": nop}})
	if err := k2.RunContext(context.Background()); err != nil {
		t.Errorf("RunContext of a run that ends = %v", err)
	}
}

func nop(*Event) any { return nil }

// Shutdown is SIGTERM: a session that watches TERM finishes its work and
// leaves; one that does not is stopped by the unhandled signal.
func TestShutdownGraceful(t *testing.T) {
	for _, watch := range []bool{true, false} {
		k := NewKernel(nil)
		var saw []string
		service(t, k, map[string]Handler{
			"_start": func(e *Event) any {
				cxMust(t, e.Kernel.AliasSet("svc"))
				_, err := e.Kernel.RefcountIncrement(e.Session.ID(), "test")
				cxMust(t, err)
				if watch {
					cxMust(t, e.Kernel.Sig("TERM", "term"))
				}
				return nil
			},
			"term": func(e *Event) any {
				e.Kernel.SigHandled()
				saw = append(saw, "TERM")
				cxMust(t, e.Kernel.Delay("finish", 20*time.Millisecond))
				return nil
			},
			"finish": func(e *Event) any {
				saw = append(saw, "finish")
				cxMust(t, e.Kernel.Sig("TERM", ""))
				e.Kernel.Yield("quit")
				return nil
			},
			"_stop": func(e *Event) any { saw = append(saw, "_stop"); return nil },
		})
		wait := runAsync(t, k, 10*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := k.Shutdown(ctx); err != nil {
			t.Errorf("watch=%v: Shutdown = %v, want nil", watch, err)
		}
		cancel()
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		want := "_stop"
		if watch {
			want = "TERM finish _stop"
		}
		if got := strings.Join(saw, " "); got != want {
			t.Errorf("watch=%v: saw %q, want %q", watch, got, want)
		}
		// Run has returned: nothing to shut down.
		if err := k.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown after Run = %v", err)
		}
	}
}

// A session that handles TERM and never finishes is stopped when the
// context ends; Shutdown then reports the context's error.
func TestShutdownForced(t *testing.T) {
	k := NewKernel(nil)
	stopped := make(chan struct{})
	var onKernel error
	service(t, k, map[string]Handler{
		"_start": func(e *Event) any {
			cxMust(t, e.Kernel.Sig("TERM", "term"))
			cxMust(t, e.Kernel.Delay("tick", time.Millisecond))
			return nil
		},
		"term": func(e *Event) any {
			e.Kernel.SigHandled()
			onKernel = e.Kernel.Shutdown(context.Background())
			return nil
		},
		"tick":  func(e *Event) any { e.Kernel.Delay("tick", time.Millisecond); return nil },
		"_stop": func(e *Event) any { close(stopped); return nil },
	})
	wait := runAsync(t, k, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := k.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopped:
	default:
		t.Error("the session's _stop did not run")
	}
	if !errors.Is(onKernel, syscall.EDEADLK) {
		t.Errorf("Shutdown on the kernel's goroutine = %v, want EDEADLK", onKernel)
	}
}

// Shutdown before Run: the kernel shuts down as soon as it starts.
func TestShutdownBeforeRun(t *testing.T) {
	k := NewKernel(nil)
	service(t, k, nil)
	res := make(chan error, 1)
	go func() { res <- k.Shutdown(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	wait := runAsync(t, k, 10*time.Second)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		if err != nil {
			t.Errorf("Shutdown = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return after Run")
	}
}
