package poe

import "slices"

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

func (k *Kernel) inject(in injected) {
	k.injMu.Lock()
	k.inj = append(k.inj, in)
	k.injN.Add(1)
	k.injMu.Unlock()
	if k.ensurePoller() == nil {
		k.poller.Wake()
	}
}

func (k *Kernel) drainInjected() {
	k.injMu.Lock()
	batch := k.inj
	k.inj = nil
	k.injN.Store(0)
	k.injMu.Unlock()
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
			k.injMu.Lock()
			k.inj = append(slices.Clone(rest), k.inj...)
			k.injN.Store(int32(len(k.inj)))
			k.injMu.Unlock()
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
	k.injMu.Lock()
	if k.finished.Load() {
		k.injMu.Unlock()
		return false
	}
	k.inj = append(k.inj, injected{fn: fn})
	k.injN.Add(1)
	k.injMu.Unlock()
	if k.ensurePoller() == nil {
		k.poller.Wake()
	}
	return true
}

// serve marks the kernel as running again for onKernel (Run,
// RunOneTimeslice).
func (k *Kernel) serve() {
	if k.finished.Load() {
		k.finished.Store(false)
	}
}

// unserve fails the functions still waiting when the kernel finishes,
// and wakes Shutdown.
func (k *Kernel) unserve() {
	k.disown()
	k.injMu.Lock()
	k.finished.Store(true)
	for _, ch := range k.finishWaiters {
		close(ch)
	}
	k.finishWaiters = nil
	var fail []func(bool)
	kept := k.inj[:0]
	for _, in := range k.inj {
		if in.fn != nil {
			fail = append(fail, in.fn)
		} else {
			kept = append(kept, in)
		}
	}
	clear(k.inj[len(kept):])
	k.inj = kept
	k.injN.Store(int32(len(kept)))
	k.injMu.Unlock()
	for _, fn := range fail {
		fn(false)
	}
}
