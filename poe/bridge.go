package poe

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// goBridge is how other goroutines reach the kernel: the queue of work
// they inject (posts, OS signals, functions to run on the kernel's
// goroutine), and the record of which goroutine runs the kernel, for the
// checks below. It has no counterpart in POE, whose kernel is alone in
// its process.
type goBridge struct {
	mu       sync.Mutex
	queue    []injected      // under mu
	pending  atomic.Int32    // len(queue), read without mu on every timeslice
	finished atomic.Bool     // Run has returned (onKernel refuses work)
	guard    atomic.Uint32   // guardWaiting | guardCheck: non-zero sends kernel methods to checkCaller
	owner    atomic.Uint64   // the ID of the goroutine running the kernel, 0 when none
	waiters  []chan struct{} // Shutdown's, closed when the kernel finishes; under mu
}

type injected struct {
	dest   any
	event  string
	args   []any
	signal string        // an OS signal for the kernel
	fn     func(ok bool) // run on the kernel's goroutine (see onKernel)
}

// PostFromGoroutine posts event to dest from any goroutine: the one
// thread-safe entry into a kernel. The kernel is the SENDER; dest is
// resolved on the kernel's goroutine (an unresolvable dest is logged and
// dropped). A kernel whose sessions are all idle stops even though other
// goroutines may still post; hold it with RefcountIncrement while they do.
func (k *Kernel) PostFromGoroutine(dest any, event string, args ...any) {
	k.inject(injected{dest: dest, event: event, args: slices.Clone(args)})
}

// inject queues in for the kernel's next timeslice, from any goroutine.
func (k *Kernel) inject(in injected) {
	k.bridge.push(in, false)
	k.wake()
}

// wake interrupts the reactor's wait.
func (k *Kernel) wake() {
	if k.ensurePoller() == nil {
		k.poller.Wake()
	}
}

// push queues in, unless ifServing and the kernel has finished.
func (b *goBridge) push(in injected, ifServing bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ifServing && b.finished.Load() {
		return false
	}
	b.queue = append(b.queue, in)
	b.pending.Add(1)
	return true
}

// take empties the queue and returns what it held.
func (b *goBridge) take() []injected {
	b.mu.Lock()
	defer b.mu.Unlock()
	batch := b.queue
	b.queue = nil
	b.pending.Store(0)
	return batch
}

// requeue puts rest back at the front of the queue.
func (b *goBridge) requeue(rest []injected) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queue = append(slices.Clone(rest), b.queue...)
	b.pending.Store(int32(len(b.queue)))
}

func (k *Kernel) drainInjected() {
	batch := k.bridge.take()
	for i, in := range batch {
		if in.fn != nil {
			k.runInjected(in.fn, batch[i+1:])
			continue
		}
		if in.signal != "" {
			k.enqueuePost(kindSignal, k.self, k.self, in.signal, nil)
			continue
		}
		s := k.resolve(in.dest)
		if s == nil {
			k.log.Warn("poe: PostFromGoroutine: destination does not resolve", "dest", in.dest, "event", in.event)
			continue
		}
		if s != k.self {
			k.enqueuePost(kindPost, s, k.self, in.event, in.args)
		}
	}
}

// runInjected runs fn; should it panic through (a handler's panic with
// NoCatch), the rest of the batch goes back to the queue, where unserve
// fails the functions waiting in it instead of losing them.
func (k *Kernel) runInjected(fn func(ok bool), rest []injected) {
	done := false
	defer func() {
		if !done {
			k.bridge.requeue(rest)
		}
	}()
	fn(true)
	done = true
}

// onKernel runs fn(true) on the kernel's goroutine at its next timeslice,
// from any goroutine. A kernel that has not run yet keeps fn for its first
// timeslice. It returns false, and fn never runs, when the kernel has
// finished (Run returned) and not started again; fn(false) runs instead
// if the kernel finishes before it gets to fn.
func (k *Kernel) onKernel(fn func(ok bool)) bool {
	if !k.bridge.push(injected{fn: fn}, true) {
		return false
	}
	k.wake()
	return true
}

// serve marks the kernel as running again for onKernel (Run,
// RunOneTimeslice).
func (b *goBridge) serve() {
	if b.finished.Load() {
		b.finished.Store(false)
	}
}

// unserve fails the functions still waiting when the kernel finishes,
// and wakes Shutdown.
func (b *goBridge) unserve() {
	b.disown()
	for _, fn := range b.finish() {
		fn(false)
	}
}

// finish marks the kernel finished, closes the waiters' channels and
// takes the functions out of the queue (the rest stays for the next
// run).
func (b *goBridge) finish() []func(bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.finished.Store(true)
	for _, ch := range b.waiters {
		close(ch)
	}
	b.waiters = nil
	var fail []func(bool)
	kept := b.queue[:0]
	for _, in := range b.queue {
		if in.fn != nil {
			fail = append(fail, in.fn)
		} else {
			kept = append(kept, in)
		}
	}
	clear(b.queue[len(kept):])
	b.queue = kept
	b.pending.Store(int32(len(kept)))
	return fail
}

// finishWaiter returns a channel closed when the kernel finishes, or false
// if it has finished already (and not started again).
func (b *goBridge) finishWaiter() (<-chan struct{}, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished.Load() {
		return nil, false
	}
	ch := make(chan struct{})
	b.waiters = append(b.waiters, ch)
	return ch, true
}

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
	if k.bridge.guard.Load() != 0 {
		k.bridge.checkCaller()
	}
}

func (b *goBridge) checkCaller() {
	g := b.guard.Load()
	if g&guardWaiting != 0 {
		panic(&wrongGoroutine{callerMethod()})
	}
	if g&guardCheck != 0 {
		if o := b.owner.Load(); o != 0 && o != goid() {
			panic(&wrongGoroutine{callerMethod()})
		}
	}
}

// own records the calling goroutine as the kernel's and arms the checks:
// at Run, and at the first RunOneTimeslice of a run (the goroutine that
// drives timeslices is taken to stay the same until the kernel finishes).
func (k *Kernel) own() {
	k.bridge.owner.Store(goid())
	if k.opts.Assert || raceEnabled {
		k.bridge.guard.Or(guardCheck)
	}
}

// disown forgets the kernel's goroutine when the kernel finishes.
func (b *goBridge) disown() {
	b.guard.And(^uint32(guardCheck))
	b.owner.Store(0)
}

// onOwnGoroutine reports whether the caller is the goroutine running the
// kernel (false when the kernel does not run).
func (b *goBridge) onOwnGoroutine() bool {
	if b.guard.Load()&guardWaiting != 0 {
		return false // the kernel's goroutine is blocked in the reactor
	}
	o := b.owner.Load()
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
