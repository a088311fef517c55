package poe

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// dispatch modes
const (
	modeQueued = iota // a queued event, or I/O readiness: trapped
	modeCall          // Call into a session
	modeMgmt          // _start, _stop, _child, _parent, signal watchers: trapped, sender given
	modeBatch         // a queued event run by runBatch, whose trap covers it
)

// ActiveSession returns the session whose handler is running: the kernel's
// pseudo-session outside handlers.
func (k *Kernel) ActiveSession() *Session { return k.active }

// ActiveEvent returns the event being dispatched ("" outside handlers). A
// self-call does not change it.
func (k *Kernel) ActiveEvent() string { return k.activeEvent }

// dispatchDue runs one batch: every queued item that was due when the
// batch began. Items posted during the batch wait for the next timeslice;
// timers set during it that are already due (past alarms) run in it.
func (k *Kernel) dispatchDue() {
	k.batchCut = k.queue.lastID
	k.clock.batch = k.clock.now
	if k.alarms.heap.live > 0 && !k.clock.fresh && !k.clock.posted {
		k.clock.batch = k.clock.read()
	}
	// A reading taken by a post (enqueuePost) is at most the rest of one
	// handler old: a timer due since then waits for the next batch, still
	// in order, since the batch covers every posted due (those run 1ns
	// past their reading each) and the timers due before them.
	k.clock.batch = max(k.clock.batch, k.queue.lastDue)
	k.clock.fresh, k.clock.posted = false, false
	k.inBatch = true
	k.runBatch()
}

// runBatch dispatches the batch's items (resuming after a handler's panic
// if need be): every item posted before the batch began and every timer
// due at its clock reading.
func (k *Kernel) runBatch() {
	for {
		var it *item
		f := k.queue.fifoHead()
		if f != nil && f.id > k.batchCut {
			f = nil
		}
		var t *item
		if k.alarms.heap.live > 0 {
			if t = k.alarms.heap.head(); t != nil && t.due > k.clock.batch {
				t = nil
			}
		}
		switch {
		case f != nil && (t == nil || f.less(t)):
			it = k.queue.fifo.pop()
			if h := k.queue.fifoHead(); h != nil && h.dead {
				k.queue.dropDeadHead()
			}
		case t != nil:
			it = k.alarms.heap.pop()
			if k.alarms.indexed {
				k.alarms.byID.del(it.id)
			}
			k.alarms.unlink(it)
		default:
			k.inBatch = false
			if len(k.sessions.marks) > 0 {
				k.gcSweep()
			}
			return
		}
		// The destination's hold is dropped without marking it for
		// collection: its handler is about to run and usually makes a
		// new hold (a yield); whether it is left with none is checked
		// after the dispatch.
		d := it.dest
		pos := len(k.sessions.marks)
		k.releaseItem(it, false)
		k.stats.Dispatched++
		k.cur = it
		if it.kind == kindPost && d != k.self && !k.observed {
			k.dispatchPost(it)
		} else {
			k.dispatchItem(it)
		}
		k.cur = nil
		k.queue.recycle(it)
		if d.refcount <= 0 && d != k.self && !d.marked && !d.freed {
			// Marked where POE would have marked it: before whatever
			// the handler marked (the sweep takes the latest first).
			d.marked = true
			pos = min(pos, len(k.sessions.marks))
			k.sessions.marks = append(k.sessions.marks, nil)
			copy(k.sessions.marks[pos+1:], k.sessions.marks[pos:])
			k.sessions.marks[pos] = d
		}
		if k.fatal != nil {
			k.Stop()
		}
		if k.sessions.n == 0 {
			k.inBatch = false
			return
		}
	}
}

// batchPanic handles a panic that reached the kernel's trap: from a queued
// handler (or, with NoCatch, from anywhere below it).
func (k *Kernel) batchPanic(r any) {
	it := k.cur
	k.cur = nil
	if k.rec != nil {
		k.rec.unwind()
	}
	stopped := k.active == k.self // the handler called Stop before panicking
	k.active, k.activeEvent = k.self, ""
	k.signals.depth, k.signals.dieDepth, k.signals.handled = 0, 0, false
	if _, ok := r.(fatalPanic); !ok {
		err := panicError(r)
		switch {
		case k.opts.NoCatch || it == nil || it.kind != kindPost && it.kind != kindAlarm || stopped || it.event == "_stop" || it.dest.freed:
			k.setFatal(err)
		default:
			info := &DieInfo{
				Err: err, Value: r, Event: it.event, Dest: it.dest, Source: it.src,
				FromState: it.callerState, Stack: debug.Stack(),
			}
			info.File, info.Line = it.where()
			k.enqueuePost(kindSignal, it.dest, k.self, "DIE", []any{info})
		}
	}
	if it != nil {
		k.queue.recycle(it)
	}
	if k.fatal != nil {
		k.Stop()
	}
}

func (k *Kernel) dispatchItem(it *item) {
	switch it.kind {
	case kindGC:
		// Nothing to run: popping it released its hold on the session.
	case kindSignal:
		k.dispatchSignal(it.dest, it.event, it.args)
	case kindStop:
		k.stopSession(it.dest)
	default:
		if it.dest == k.self {
			return // the kernel swallows events posted to it
		}
		file, line := it.where()
		k.dispatch(it.dest, it.src, it.event, it.args, it.callerState, file, line, modeBatch)
	}
}

// dispatchPost is dispatchItem for a posted event when the kernel neither
// traces nor records: the handler is called here, without dispatchWith's
// general argument list (a tenth of a yield's cost).
func (k *Kernel) dispatchPost(it *item) {
	d := it.dest
	h, obj, ok := d.lookup(it.event)
	if !ok {
		k.dispatch(d, it.src, it.event, it.args, it.callerState, "", 0, modeBatch)
		return
	}
	ev := k.getEvent()
	ev.Kernel, ev.Session, ev.Heap, ev.State, ev.Sender, ev.Object = k, d, d.heap, it.event, it.src, obj
	ev.CallerState, ev.CallerFile, ev.CallerLine, ev.Args, ev.lastSID = it.callerState, "", 0, it.args, d.id
	prevS, prevE := k.active, k.activeEvent
	k.active, k.activeEvent = d, it.event
	h(ev)
	k.active, k.activeEvent = prevS, prevE
	k.putEvent(ev)
}

func (k *Kernel) getEvent() *Event {
	if n := len(k.freeEvents); n > 0 {
		ev := k.freeEvents[n-1]
		k.freeEvents = k.freeEvents[:n-1]
		return ev
	}
	return &Event{Kernel: k}
}

// copyArgs copies a call's arguments into the Event's own storage: plain
// stores for one or two (a wheel's input has two), not a slice copy.
func (ev *Event) copyArgs(args []any) {
	switch len(args) {
	case 1:
		ev.buf = append(ev.buf[:0], args[0])
	case 2:
		ev.buf = append(ev.buf[:0], args[0], args[1])
	default:
		ev.buf = append(ev.buf[:0], args...)
	}
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
			if s.OptionTrue("default") && event != "_signal" {
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
		// Self-call: no new active event, no exception trap
		// (docs/poe-semantics.md §1.4).
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

// trapped runs a handler inside POE's exception trap (docs/poe-semantics.md
// §1.13). The deferred function captures little: the rest of what a DIE
// needs is in ev, filled by dispatchWith.
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
	if event == "_stop" || k.signals.dieDepth > 0 || k.active == k.self {
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
