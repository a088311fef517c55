package poe

import (
	"fmt"
	"strconv"
	"syscall"
)

// Post sends event to dest, queued FIFO; the active session (or the kernel,
// outside handlers) is the SENDER. dest is a *Session, a SessionID (or
// int), a numeric string (an ID), an alias, the *Kernel or the kernel's ID.
// It fails with ESRCH when dest does not resolve.
func (k *Kernel) Post(dest any, event string, args ...any) error {
	s := k.resolve(dest)
	if s == nil {
		k.onGoroutine() // enqueuePost checks the rest
		return k.unresolved("post", dest)
	}
	if s == k.self {
		return nil // the kernel swallows it
	}
	k.enqueuePost(kindPost, s, k.active, event, args)
	return nil
}

// Yield posts event to the active session itself. Outside handlers it
// does nothing (POE would post to the kernel, which swallows it).
func (k *Kernel) Yield(event string, args ...any) {
	s := k.active
	if s == k.self {
		return
	}
	k.enqueuePost(kindPost, s, s, event, args)
}

// Call dispatches event to dest at once and returns the handler's value.
// A call into another session is trapped like a queued event: if its
// handler panics, a DIE signal is posted to it and Call returns nil. A
// session calling itself runs the handler directly (no new active event,
// no trap), as POE does. The error is ESRCH when dest does not resolve;
// an event without handler returns (nil, nil), as in POE. A handler that
// returns a List gives its last element, as a Perl list does in scalar
// context; CallList gives every element.
func (k *Kernel) Call(dest any, event string, args ...any) (any, error) {
	ret, err := k.call(dest, event, args)
	if l, ok := ret.(List); ok {
		if len(l) == 0 {
			return nil, err
		}
		return l[len(l)-1], err
	}
	return ret, err
}

// List is a handler's list of return values, Perl's return (a, b, c):
// CallList returns them all, Call the last.
type List []any

// CallList is Call in list context, POE's my @r = $kernel->call(...): the
// elements of the List the handler returned, or else its one value. An
// event without handler gives one nil, as POE gives (undef); an empty
// List gives none; ESRCH gives none and the error.
func (k *Kernel) CallList(dest any, event string, args ...any) ([]any, error) {
	ret, err := k.call(dest, event, args)
	if err != nil {
		return nil, err
	}
	if l, ok := ret.(List); ok {
		return l, nil
	}
	return []any{ret}, nil
}

func (k *Kernel) call(dest any, event string, args []any) (any, error) {
	k.onGoroutine()
	s := k.resolve(dest)
	if s == nil {
		return nil, k.unresolved("call", dest)
	}
	if s == k.self {
		return nil, nil
	}
	ev := k.getEvent()
	ev.copyArgs(args)
	ev.CallerState, ev.CallerFile, ev.CallerLine = k.callerState(), "", 0
	if k.trace != nil {
		ev.CallerFile, ev.CallerLine = callerOutside()
	}
	ret := k.dispatchWith(ev, s, k.active, event, ev.buf, modeCall)
	if k.fatal != nil && k.active != k.self && !k.opts.NoCatch {
		// A pending fatal error propagates into the calling handler.
		panic(fatalPanic{k.fatal})
	}
	return ret, nil
}

func (k *Kernel) callerState() string {
	if k.active == k.self {
		return ""
	}
	return k.activeEvent
}

func (k *Kernel) unresolved(op string, dest any) error {
	if s, ok := dest.(*Session); ok && s == nil {
		return errnof(syscall.ESRCH, op+": cannot resolve a nil *Session (an Event's Session read after its handler returned?)")
	}
	return errnof(syscall.ESRCH, fmt.Sprintf("%s: cannot resolve %v into a session", op, dest))
}

// resolve finds a session as POE's _resolve_session does: a session, then
// an ID, then an alias, then the kernel.
func (k *Kernel) resolve(dest any) *Session {
	switch d := dest.(type) {
	case *Session:
		if d == nil || d.freed || d.k != k {
			return nil
		}
		if d == k.self {
			return k.self
		}
		return d
	case string:
		if s := k.aliases.cached(d); s != nil {
			return s
		}
		if isDigits(d) {
			if n, err := strconv.ParseUint(d, 10, 64); err == nil {
				if s := k.sids.get(n); s != nil {
					return s
				}
			}
		}
		if s := k.aliases.lookup(d); s != nil {
			return s
		}
		if d == k.id {
			return k.self
		}
	case SessionID:
		return k.sids.get(uint64(d))
	case int:
		if d > 0 {
			return k.sids.get(uint64(d))
		}
	case int64:
		if d > 0 {
			return k.sids.get(uint64(d))
		}
	case uint64:
		return k.sids.get(uint64(d))
	case *Kernel:
		if d == k {
			return k.self
		}
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
