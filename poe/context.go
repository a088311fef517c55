package poe

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"syscall"
)

// ErrKernelStopped is returned by CallFromGoroutine when the kernel has
// finished (Run has returned) or finishes before it gets to the call.
var ErrKernelStopped = errors.New("poe: the kernel is not running")

// ErrOnKernelGoroutine is returned by Shutdown called on the kernel's own
// goroutine (from a handler), where waiting for Run to return would never
// end. It matches syscall.EDEADLK with errors.Is.
var ErrOnKernelGoroutine error = &errnoError{"poe: Shutdown called on the kernel's goroutine, which cannot wait for Run to return", syscall.EDEADLK}

type callResult struct {
	val any
	err error
}

// A queued CallFromGoroutine is either taken by the kernel or abandoned
// by its caller, whichever comes first.
const (
	callQueued = iota
	callTaken
	callAbandoned
)

// CallFromGoroutine is Call for other goroutines: it runs Call(dest, event,
// args...) on the kernel's goroutine, with the kernel as SENDER, and waits
// for the handler's value. It fails with ESRCH when dest does not resolve
// (as Call), with ErrKernelStopped when the kernel has finished or
// finishes first, and with ctx.Err() when ctx ends first: a call the
// kernel had not reached yet is then dropped; one already running is not
// awaited. A handler's panic is a DIE in the called session, as for Call,
// and the value is nil.
//
// On the kernel's own goroutine (from a handler) it is Call itself, run at
// once, with the active session as SENDER: it never waits on itself.
// Called before Run, it waits for Run to start: do not call it on the
// goroutine that is about to call Run.
func (k *Kernel) CallFromGoroutine(ctx context.Context, dest any, event string, args ...any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if k.bridge.onOwnGoroutine() {
		return k.Call(dest, event, args...)
	}
	args = slices.Clone(args)
	res := make(chan callResult, 1) // buffered: the kernel never blocks on a caller gone
	var state atomic.Int32
	queued := k.onKernel(func(ok bool) {
		if !ok {
			res <- callResult{err: ErrKernelStopped}
			return
		}
		if !state.CompareAndSwap(callQueued, callTaken) {
			return
		}
		// Should the handler's panic stop the kernel (NoCatch), the
		// caller still gets an answer.
		r := callResult{err: ErrKernelStopped}
		defer func() { res <- r }()
		r.val, r.err = k.Call(dest, event, args...)
	})
	if !queued {
		return nil, ErrKernelStopped
	}
	select {
	case r := <-res:
		return r.val, r.err
	case <-ctx.Done():
		if !state.CompareAndSwap(callQueued, callAbandoned) {
			select {
			case r := <-res: // it finished meanwhile
				return r.val, r.err
			default:
			}
		}
		return nil, ctx.Err()
	}
}

// RunContext is Run, ended early when ctx ends. The end of ctx is the
// kernel's UIDESTROY, the signal POE raises when a program's user
// interface goes away: every session's watchers see it, and since it is
// nonmaskable every session then stops (with its _stop), as with Stop.
// Sessions created while it is dispatched are stopped with Stop. For a
// graceful end, call Shutdown from another goroutine instead.
//
// RunContext returns Run's error if there is one, else context.Cause(ctx)
// when ctx's end stopped the kernel, else nil.
func (k *Kernel) RunContext(ctx context.Context) error {
	if ctx.Done() == nil {
		return k.Run()
	}
	k.bridge.serve() // so that onKernel accepts the stop even before Run starts
	stopped := false
	fired := make(chan struct{})
	unregister := context.AfterFunc(ctx, func() {
		defer close(fired)
		k.onKernel(func(ok bool) {
			if ok {
				stopped = true // on the kernel's goroutine, read after Run
				k.terminate()
			}
		})
	})
	err := k.Run()
	if !unregister() {
		<-fired // so that its stop cannot reach a later run
	}
	if err == nil && stopped {
		err = context.Cause(ctx)
	}
	return err
}

// terminate posts UIDESTROY to every session and stops what is left once
// it is dispatched: its Defer runs after the batch that holds the signal
// (terminate runs from drainInjected, before the batch is cut).
func (k *Kernel) terminate() {
	k.enqueuePost(kindSignal, k.self, k.self, "UIDESTROY", nil)
	k.Defer(func() {
		if k.sessions.n > 0 {
			k.Stop()
		}
	})
}

// Shutdown stops the kernel gracefully from any goroutine, as
// http.Server.Shutdown does a server: it signals TERM to every session, as
// if the process had received SIGTERM, then waits for Run to return. A
// session that watches TERM and calls SigHandled goes on and should wind
// down by itself (close its listeners, finish its work); as POE's
// terminal signals go, if no watcher handles TERM every session stops at
// once (and if one does, none is stopped by the signal). If ctx ends
// first, Shutdown stops every session as Stop does and returns ctx.Err()
// without waiting further; Run returns after the sessions' _stop.
//
// Shutdown returns nil when Run has returned, or once it has. Called
// before Run, it shuts the kernel down as soon as Run starts. On the
// kernel's own goroutine it does nothing and returns ErrOnKernelGoroutine:
// from a handler, use Signal(kernel, "TERM") or Stop.
func (k *Kernel) Shutdown(ctx context.Context) error {
	if k.bridge.onOwnGoroutine() {
		return ErrOnKernelGoroutine
	}
	done, running := k.bridge.finishWaiter()
	if !running {
		return nil
	}
	k.onKernel(func(ok bool) {
		if ok {
			k.enqueuePost(kindSignal, k.self, k.self, "TERM", nil)
		}
	})
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		k.onKernel(func(ok bool) {
			if ok {
				k.Stop()
			}
		})
		return ctx.Err()
	}
}
