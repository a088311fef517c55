package poe

import (
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// dispatch modes
const (
	modeQueued = iota // a queued event, or I/O readiness: trapped
	modeCall          // Call into a session
	modeMgmt          // _start, _stop, _child, _parent, signal watchers: trapped, sender given
	modeBatch         // a queued event run by runBatch, whose trap covers it
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
// an event without handler returns (nil, nil), as in POE.
func (k *Kernel) Call(dest any, event string, args ...any) (any, error) {
	k.onGoroutine()
	s := k.resolve(dest)
	if s == nil {
		return nil, k.unresolved("call", dest)
	}
	if s == k.self {
		return nil, nil
	}
	ev := k.getEvent()
	switch len(args) { // plain stores, not a slice copy (a wheel's input: two)
	case 1:
		ev.buf = append(ev.buf[:0], args[0])
	case 2:
		ev.buf = append(ev.buf[:0], args[0], args[1])
	default:
		ev.buf = append(ev.buf[:0], args...)
	}
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
		if c := &k.aliasCache; c[0].s != nil && d == c[0].name {
			return c[0].s
		} else if c[1].s != nil && d == c[1].name {
			c[0], c[1] = c[1], c[0]
			return c[0].s
		}
		if isDigits(d) {
			if n, err := strconv.ParseUint(d, 10, 64); err == nil {
				if s := k.sessions.get(n); s != nil {
					return s
				}
			}
		}
		if s := k.aliases[d]; s != nil {
			// Programs post to the same alias over and over, or to two
			// in turn (a request and its answer): remember the last two
			// (forgotten when any alias goes away).
			k.aliasCache[1], k.aliasCache[0] = k.aliasCache[0], aliasHit{d, s}
			return s
		}
		if d == k.id {
			return k.self
		}
	case SessionID:
		return k.sessions.get(uint64(d))
	case int:
		if d > 0 {
			return k.sessions.get(uint64(d))
		}
	case int64:
		if d > 0 {
			return k.sessions.get(uint64(d))
		}
	case uint64:
		return k.sessions.get(uint64(d))
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

func (k *Kernel) getEvent() *Event {
	if n := len(k.freeEvents); n > 0 {
		ev := k.freeEvents[n-1]
		k.freeEvents = k.freeEvents[:n-1]
		return ev
	}
	return &Event{Kernel: k}
}

func (k *Kernel) putEvent(ev *Event) {
	switch len(ev.buf) {
	case 0:
	case 1:
		ev.buf[0] = nil
	case 2:
		ev.buf[0], ev.buf[1] = nil, nil
	default:
		clear(ev.buf)
	}
	ev.buf = ev.buf[:0]
	ev.Args, ev.Heap, ev.Session, ev.Sender, ev.Object = nil, nil, nil, nil, nil
	// The pool has a fixed capacity (one Event per nested dispatch is
	// in use at a time), 0 in assert mode, where Events are not reused.
	if len(k.freeEvents) < cap(k.freeEvents) {
		k.freeEvents = append(k.freeEvents, ev)
	}
}

// mgmt dispatches a management event (_child, _parent, _stop) with its
// arguments in the pooled Event's own buffer: no allocation.
func (k *Kernel) mgmt(s, src *Session, event string, args ...any) any {
	ev := k.getEvent()
	ev.buf = append(ev.buf[:0], args...)
	ev.CallerState, ev.CallerFile, ev.CallerLine = "", "", 0
	return k.dispatchWith(ev, s, src, event, ev.buf, modeMgmt)
}

// dispatch invokes event on s; args stay owned by the caller.
func (k *Kernel) dispatch(s, src *Session, event string, args []any, callerState, file string, line int, mode int) any {
	ev := k.getEvent()
	ev.CallerState, ev.CallerFile, ev.CallerLine = callerState, file, line
	return k.dispatchWith(ev, s, src, event, args, mode)
}

// dispatchWith runs event's handler with ev, whose CallerState, CallerFile
// and CallerLine the caller has filled (fewer arguments to pass on every
// dispatch). The Event goes back to the pool on return; when a handler
// panics through (self-calls, NoCatch) it is simply not reused.
func (k *Kernel) dispatchWith(ev *Event, s, src *Session, event string, args []any, mode int) any {
	h, obj, ok := s.lookup(event)
	state := event
	if !ok {
		h, obj, ok = s.lookup("_default")
		switch {
		case ok:
			state = "_default"
			args = []any{event, append([]any{}, args...)}
		case k.opts.Assert && !poesOwn(event):
			h = noHandler(s, src, event, ev.CallerState) // it throws where a handler would run
		default:
			if s.optionTrue("default") && event != "_signal" {
				k.log.Warn("poe: event has no handler and the session has no _default",
					"event", event, "session", s.String(), "sender", src.String(), "caller_state", ev.CallerState)
			}
			if k.rec != nil {
				k.rec.begin(ev, s, src, event, "", args, mode)
				k.rec.end(ev)
			}
			k.putEvent(ev)
			return nil
		}
	}
	ev.Kernel, ev.Session, ev.Heap, ev.State, ev.Sender, ev.Object = k, s, s.heap, state, src, obj
	ev.Args, ev.lastSID = args, s.id
	if k.observed {
		k.observeDispatch(ev, s, src, event, state, args, mode)
	}
	if mode == modeCall && s == k.active {
		// Self-call: no new active event, no exception trap (POE 1.4).
		ret := h(ev)
		if k.rec != nil {
			k.rec.end(ev)
		}
		k.putEvent(ev)
		return ret
	}
	prevS, prevE := k.active, k.activeEvent
	k.active, k.activeEvent = s, event
	var ret any
	if k.opts.NoCatch || mode == modeBatch {
		ret = h(ev)
	} else {
		ret = k.trapped(h, ev, event)
	}
	k.active, k.activeEvent = prevS, prevE
	if k.rec != nil {
		k.rec.end(ev)
	}
	k.putEvent(ev)
	return ret
}

// trapped runs a handler inside POE's exception trap (section 1.13). The
// deferred function captures little: the rest of what a DIE needs is in
// ev, filled by dispatchWith.
func (k *Kernel) trapped(h Handler, ev *Event, event string) (ret any) {
	defer func() {
		if r := recover(); r != nil {
			ret = nil
			k.died(r, ev, event)
		}
	}()
	return h(ev)
}

// died handles a panic caught by trapped: a DIE signal to the session, or
// the kernel's fatal error.
func (k *Kernel) died(r any, ev *Event, event string) {
	if _, ok := r.(fatalPanic); ok {
		return // already pending; the kernel stops after this item
	}
	s := ev.Session
	err := panicError(r)
	if event == "_stop" || k.dieDepth > 0 || k.active == k.self {
		k.setFatal(err)
		k.active = s // restored by dispatchWith
		return
	}
	info := &DieInfo{
		Err: err, Value: r, Event: event, Dest: s, Source: ev.Sender,
		FromState: ev.CallerState, File: ev.CallerFile, Line: ev.CallerLine, Stack: debug.Stack(),
	}
	k.enqueuePost(kindSignal, s, k.self, "DIE", []any{info})
}

// DieInfo is ARG1 of a DIE signal: what POE puts in its exception hash.
type DieInfo struct {
	Err       error    // error_str: the panic value as an error
	Value     any      // the panic value itself
	Event     string   // the event whose handler panicked
	Dest      *Session // dest_session: the session whose handler panicked
	Source    *Session // source_session: SENDER of that event
	FromState string   // from_state: CALLER_STATE of that event
	File      string
	Line      int
	Stack     []byte // the Go stack at the panic
}

func (d *DieInfo) Error() string { return d.Err.Error() }

type fatalPanic struct{ err error }

// PanicError wraps a panic value that is not an error.
type PanicError struct{ Value any }

func (p *PanicError) Error() string { return fmt.Sprint(p.Value) }

func panicError(r any) error {
	switch v := r.(type) {
	case error:
		return v
	case fatalPanic:
		return v.err
	default:
		return &PanicError{Value: r}
	}
}

// chainedError is POE's "error + Additional error thrown in handler for
// previous error: + previous". Perl's messages always end in a newline, so
// POE's separator starts a line; Go panic texts usually do not, and we add
// the newline they lack (a message that has one is joined exactly as POE).
type chainedError struct{ err, prev error }

func (c *chainedError) Error() string {
	first := c.err.Error()
	if !strings.HasSuffix(first, "\n") {
		first += "\n"
	}
	return first + "Additional error thrown in handler for previous error:\n" + c.prev.Error()
}
func (c *chainedError) Unwrap() []error { return []error{c.err, c.prev} }
