package poe

import (
	"fmt"
	"os"
	"syscall"
)

// Assert mode (Options.Assert, POE_ASSERT=1 or POE_ASSERT_DEFAULT=1) is
// POE's ASSERT_DEFAULT for this port: mistakes that normal mode lets pass
// quietly panic with a message saying what happened. A panic in a
// dispatch is an exception like any handler's (a DIE in the session);
// off the kernel's goroutine it crashes the calling goroutine.
//
//   - An event for a session with neither a handler for it nor a _default
//     (POE's ASSERT_STATES warns; here it is an exception that matches
//     ENOSYS, the errno POE sets). POE's own events (_child, _stop...)
//     may still go unhandled.
//   - An argument index past the event's arguments given to a converting
//     accessor (e.Int(ARG5) of a two-argument event), which normal mode
//     answers with 0 or "". Arg and Bool still read a missing optional
//     argument as nil and false (see Event.Arg).
//   - A kernel method called off the kernel's goroutine while it runs,
//     whatever the kernel is doing (see bridge.go).
//   - Events are not pooled, so that an Event kept past its handler is
//     always reported as such, with its own event's name.
func assertFromEnv() bool {
	return os.Getenv("POE_ASSERT") == "1" || os.Getenv("POE_ASSERT_DEFAULT") == "1"
}

// poesOwn are the events the kernel itself sends, which sessions need not
// handle.
func poesOwn(event string) bool {
	switch event {
	case "_start", "_stop", "_child", "_parent", "_default", "_signal":
		return true
	}
	return false
}

// noHandler is the handler assert mode runs for an event nobody handles:
// it throws where the handler would have, so that the usual exception
// rules apply.
func noHandler(s, src *Session, event, callerState string) Handler {
	return func(*Event) any {
		from := ""
		if callerState != "" {
			from = fmt.Sprintf(" from state %q", callerState)
		}
		panic(&errnoError{fmt.Sprintf("poe: assert: %s has no handler for event %q and no _default (sent by %s%s)",
			s, event, src, from), syscall.ENOSYS})
	}
}

// missingArg is Arg's slow path, for an index past the arguments: nil,
// or a panic for an Event used after its handler returned (its Args are
// nil then). Not inlined, so that Arg is.
//
//go:noinline
func (e *Event) missingArg(int) any {
	if e.returned() {
		e.usedAfterReturn()
	}
	return nil
}

// missingConv is missingArg for the converting accessors: in assert mode
// a bad index panics too.
//
//go:noinline
func (e *Event) missingConv(i int) any {
	if e.returned() {
		e.usedAfterReturn()
	}
	if e.Kernel != nil && e.Kernel.opts.Assert {
		panic(fmt.Sprintf("poe: assert: ARG%d of event %q of %s, which has %d arguments", i, e.State, e.Session, len(e.Args)))
	}
	return nil
}

// returned reports whether e's handler has returned: putEvent clears
// Session, dispatch set lastSID (an Event made by hand has neither).
func (e *Event) returned() bool { return e.Session == nil && e.lastSID != 0 }

func (e *Event) usedAfterReturn() {
	what := "event %q of session %d"
	if e.Kernel != nil && !e.Kernel.opts.Assert {
		what = "last used for event %q of session %d" // pooled: perhaps reused since
	}
	panic(fmt.Sprintf("poe: Event used after its handler returned ("+what+"); copy what you need or use PostFromGoroutine",
		e.State, e.lastSID))
}
