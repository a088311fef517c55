package ikctest

import (
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
)

// Timeout bounds every wait in the tests.
const Timeout = 10 * time.Second

// Node is one kernel running on its own goroutine, with a control
// session ("ctl") that runs functions on the kernel's goroutine.
type Node struct {
	T    *testing.T
	K    *poe.Kernel
	ctl  *poe.Session
	done chan error
}

// StartNode creates a kernel, runs setup on its goroutine (before Run),
// then runs it until the test ends.
func StartNode(t *testing.T, setup func(k *poe.Kernel)) *Node {
	t.Helper()
	n := &Node{T: t, K: poe.NewKernel(nil), done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		var err error
		n.ctl, err = n.K.Create(poe.Spec{Inline: map[string]poe.Handler{
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
			setup(n.K)
		}
		close(ready)
		n.done <- n.K.Run()
	}()
	<-ready
	t.Cleanup(n.Stop)
	return n
}

// Do runs fn on the kernel's goroutine and waits for it.
func (n *Node) Do(fn func(k *poe.Kernel)) {
	ch := make(chan struct{})
	n.K.PostFromGoroutine("ctl", "do", func() { defer close(ch); fn(n.K) })
	select {
	case <-ch:
	case <-time.After(Timeout):
		panic("kernel did not run the function in time")
	}
}

// Stop stops the kernel (if it still runs) and reports its error.
func (n *Node) Stop() {
	select {
	case err := <-n.done:
		if err != nil {
			n.T.Errorf("kernel: %v", err)
		}
		n.done <- err
		return
	default:
	}
	n.K.PostFromGoroutine("ctl", "stop")
	select {
	case err := <-n.done:
		if err != nil {
			n.T.Errorf("kernel: %v", err)
		}
		n.done <- err
	case <-time.After(Timeout):
		n.T.Error("kernel did not stop")
	}
}

// Recorder collects values sent from handlers.
type Recorder chan []any

// NewRecorder returns a Recorder with room for 100 records.
func NewRecorder() Recorder { return make(Recorder, 100) }

// Handler returns a handler that records its name and copies of its args.
func (r Recorder) Handler(name string, ret any) poe.Handler {
	return func(e *poe.Event) any {
		r <- append([]any{name}, append([]any(nil), e.Args...)...)
		return ret
	}
}

// Wait returns the next record, failing the test after Timeout.
func (r Recorder) Wait(t *testing.T) []any {
	t.Helper()
	select {
	case v := <-r:
		return v
	case <-time.After(Timeout):
		t.Fatal("timed out waiting for an event")
		return nil
	}
}

// WaitFor skips records until one named name arrives.
func (r Recorder) WaitFor(t *testing.T, name string) []any {
	t.Helper()
	deadline := time.After(Timeout)
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

// Session creates a session with an alias and handlers.
func Session(k *poe.Kernel, alias string, h map[string]poe.Handler) *poe.Session {
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

// Release lets the kernel stop by itself once nothing else holds it (call
// on the kernel's goroutine).
func (n *Node) Release() { ReleaseKernel(n.K) }

// ReleaseKernel drops the hold of a node's control session on kernel k.
func ReleaseKernel(k *poe.Kernel) {
	if s := k.AliasResolve("ctl"); s != nil && !s.IsKernel() {
		k.RefcountDecrement(s.ID(), "test")
		s.Do(func() { k.AliasRemove("ctl") })
	}
}

// Exited waits until the kernel's Run returned by itself.
func (n *Node) Exited() bool {
	n.T.Helper()
	select {
	case err := <-n.done:
		n.done <- err
		return true
	case <-time.After(Timeout):
		return false
	}
}
