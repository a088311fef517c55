package poe

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
)

// The kernel is single-threaded: its methods must run on the goroutine
// that runs it (Run, RunOneTimeslice), or on any one goroutine while it
// does not run. Other goroutines go through PostFromGoroutine,
// CallFromGoroutine, Shutdown (and RunContext's context).
//
// Go has no public goroutine ID, so the check is in two parts:
//
//   - Always: while the kernel's goroutine is blocked in the reactor
//     (guardWaiting, set around a blocking wait only), any kernel call
//     comes from another goroutine by construction. That catches the
//     usual mistake, a worker posting back into an idle kernel (which
//     queued the event without even waking the kernel). On the hot path
//     it is one atomic load and a branch (a plain load on amd64): Post,
//     Yield and Call measured within noise of the unchecked kernel.
//   - With Options.Assert, POE_ASSERT=1 or a race build (guardCheck): the
//     caller's goroutine ID, read from the header of runtime.Stack, is
//     compared with the one recorded when the kernel started. That costs
//     2-12 µs per call (runtime.Stack walks the whole stack; bench's Post,
//     Yield and Call take about 10 µs instead of 25-50 ns): fine for a
//     debugging mode, out of the question otherwise. (A thread ID under
//     LockOSThread was no better: gettid costs 1 µs on the test VM.)
//
// Runtime internals (a linknamed getg) are not used; a stack address (the
// stack moves as it grows) or a mutex cannot tell goroutines apart.
const (
	guardWaiting = 1 << iota // the kernel's goroutine waits in the reactor
	guardCheck               // compare goroutine IDs (assert mode, race builds)
)

// ErrWrongGoroutine is what a kernel method panics with (wrapped, naming
// the method) when it is called from a goroutine other than the kernel's
// while the kernel runs.
var ErrWrongGoroutine = errors.New("poe: kernel method called off the kernel's goroutine")

type wrongGoroutine struct{ method string }

func (w *wrongGoroutine) Error() string {
	return fmt.Sprintf("poe: %s called from a goroutine other than the kernel's while the kernel runs; "+
		"other goroutines must use Kernel.PostFromGoroutine, Kernel.CallFromGoroutine or Kernel.Shutdown", w.method)
}

func (w *wrongGoroutine) Is(target error) bool { return target == ErrWrongGoroutine }

// onGoroutine refuses a call from another goroutine (see above). It
// starts the kernel methods that touch kernel state (or enqueuePost, for
// Post, Yield and Signal, so that Yield stays inlinable).
func (k *Kernel) onGoroutine() {
	if k.guard.Load() != 0 {
		k.checkCaller()
	}
}

func (k *Kernel) checkCaller() {
	g := k.guard.Load()
	if g&guardWaiting != 0 {
		panic(&wrongGoroutine{callerMethod()})
	}
	if g&guardCheck != 0 {
		if o := k.owner.Load(); o != 0 && o != goid() {
			panic(&wrongGoroutine{callerMethod()})
		}
	}
}

// own records the calling goroutine as the kernel's and arms the checks:
// at Run, and at the first RunOneTimeslice of a run (the goroutine that
// drives timeslices is taken to stay the same until the kernel finishes).
func (k *Kernel) own() {
	k.owner.Store(goid())
	if k.opts.Assert || raceEnabled {
		k.guard.Or(guardCheck)
	}
}

// disown forgets the kernel's goroutine when the kernel finishes.
func (k *Kernel) disown() {
	k.guard.And(^uint32(guardCheck))
	k.owner.Store(0)
}

// onOwnGoroutine reports whether the caller is the goroutine running the
// kernel (false when the kernel does not run).
func (k *Kernel) onOwnGoroutine() bool {
	if k.guard.Load()&guardWaiting != 0 {
		return false // the kernel's goroutine is blocked in the reactor
	}
	o := k.owner.Load()
	return o != 0 && o == goid()
}

var stackBufs = sync.Pool{New: func() any { return new([32]byte) }}

// goid returns the calling goroutine's ID from the first line of its
// stack trace ("goroutine 123 [running]:").
func goid() uint64 {
	buf := stackBufs.Get().(*[32]byte) // a local array would escape: one allocation per call
	defer stackBufs.Put(buf)
	n := runtime.Stack(buf[:], false)
	b := buf[:n]
	const prefix = "goroutine "
	if len(b) < len(prefix) {
		return 0
	}
	var id uint64
	for _, c := range b[len(prefix):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}

// callerMethod names the exported kernel method that was called: the
// outermost exported method of this package below the caller's frame.
func callerMethod() string {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	const pkg = "github.com/poe-go/poe/poe."
	name := "a Kernel method"
	for {
		f, more := frames.Next()
		rest, ok := strings.CutPrefix(f.Function, pkg)
		if !ok {
			break
		}
		// rest: "(*Kernel).Post", "(*Postback).Post", "TestX.func1"...
		if typ, method, ok := strings.Cut(rest, ")."); ok && strings.HasPrefix(typ, "(*") &&
			method != "" && method[0] >= 'A' && method[0] <= 'Z' && !strings.Contains(method, ".") {
			name = typ[2:] + "." + method
		}
		if !more {
			break
		}
	}
	return name
}
