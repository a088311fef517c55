package ikc

import (
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

// node is one kernel running on its own goroutine, with a control
// session ("ctl") that runs functions on the kernel's goroutine.
type node struct {
	t    *testing.T
	k    *poe.Kernel
	ctl  *poe.Session
	done chan error
}

// startNode creates a kernel, runs setup on its goroutine (before Run),
// then runs it until the test ends.
func startNode(t *testing.T, setup func(k *poe.Kernel)) *node {
	t.Helper()
	n := &node{t: t, k: poe.NewKernel(nil), done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		var err error
		n.ctl, err = n.k.Create(poe.Spec{Inline: map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				e.Kernel.AliasSet("ctl")
				e.Kernel.RefcountIncrement(e.Session.ID(), "test")
				return nil
			},
			"do": func(e *poe.Event) any {
				e.Arg(poe.ARG0).(func())()
				return nil
			},
			"stop": func(e *poe.Event) any { e.Kernel.Stop(); return nil },
		}})
		if err != nil {
			close(ready)
			n.done <- err
			return
		}
		if setup != nil {
			setup(n.k)
		}
		close(ready)
		n.done <- n.k.Run()
	}()
	<-ready
	t.Cleanup(n.stop)
	return n
}

// do runs fn on the kernel's goroutine and waits for it.
func (n *node) do(fn func(k *poe.Kernel)) {
	ch := make(chan struct{})
	n.k.PostFromGoroutine("ctl", "do", func() { defer close(ch); fn(n.k) })
	select {
	case <-ch:
	case <-time.After(testTimeout):
		panic("kernel did not run the function in time")
	}
}

func (n *node) stop() {
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Errorf("kernel: %v", err)
		}
		n.done <- err
		return
	default:
	}
	n.k.PostFromGoroutine("ctl", "stop")
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Errorf("kernel: %v", err)
		}
		n.done <- err
	case <-time.After(testTimeout):
		n.t.Error("kernel did not stop")
	}
}

// recorder collects values sent from handlers.
type recorder chan []any

func newRecorder() recorder { return make(recorder, 100) }

// handler returns a handler that records its name and copies of its args.
func (r recorder) handler(name string, ret any) poe.Handler {
	return func(e *poe.Event) any {
		r <- append([]any{name}, append([]any(nil), e.Args...)...)
		return ret
	}
}

// wait returns the next record, failing the test after testTimeout.
func (r recorder) wait(t *testing.T) []any {
	t.Helper()
	select {
	case v := <-r:
		return v
	case <-time.After(testTimeout):
		t.Fatal("timed out waiting for an event")
		return nil
	}
}

// waitFor skips records until one named name arrives.
func (r recorder) waitFor(t *testing.T, name string) []any {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case v := <-r:
			if v[0] == name {
				return v
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %q", name)
			return nil
		}
	}
}

// session creates a session with an alias and handlers.
func session(k *poe.Kernel, alias string, h map[string]poe.Handler) *poe.Session {
	if h == nil {
		h = map[string]poe.Handler{}
	}
	start := h["_start"]
	h["_start"] = func(e *poe.Event) any {
		if alias != "" {
			e.Kernel.AliasSet(alias)
		}
		if start != nil {
			return start(e)
		}
		return nil
	}
	s, err := k.Create(poe.Spec{Inline: h})
	if err != nil {
		panic(err)
	}
	return s
}

// release lets the kernel stop by itself once nothing else holds it (call
// on the kernel's goroutine).
func (n *node) release() { releaseKernel(n.k) }

// releaseKernel drops the hold of a node's control session on kernel k.
func releaseKernel(k *poe.Kernel) {
	if s := k.AliasResolve("ctl"); s != nil && !s.IsKernel() {
		k.RefcountDecrement(s.ID(), "test")
		s.Do(func() { k.AliasRemove("ctl") })
	}
}

// exited waits until the kernel's Run returned by itself.
func (n *node) exited() bool {
	n.t.Helper()
	select {
	case err := <-n.done:
		n.done <- err
		return true
	case <-time.After(testTimeout):
		return false
	}
}
