package poe

import (
	"fmt"
	"strconv"
)

// Handler is the code behind an event name (a "state" in POE's words). It
// receives one Event carrying everything POE passes in @_ and returns a
// value that matters only for Call, _start, _stop and _default (as POE).
type Handler func(e *Event) any

// Indexes into Event.Args, named as POE names them.
const (
	ARG0 = iota
	ARG1
	ARG2
	ARG3
	ARG4
	ARG5
	ARG6
	ARG7
	ARG8
	ARG9
)

// Event is what a handler receives: POE's @_ as a struct.
//
// The kernel reuses Event values and their Args slice after the handler
// returns; a handler that keeps arguments beyond its return must copy what
// it needs (the values themselves are never reused, only the slice). An
// Event's accessors panic once its handler has returned, until the kernel
// reuses it (assert mode never reuses Events).
type Event struct {
	Kernel  *Kernel
	Session *Session // the session being invoked (SESSION)
	Heap    any      // the session's heap (HEAP)
	// State is the event name as dispatched: "_default" when redirected.
	State string
	// Sender is SENDER: the session that produced the event; the kernel's
	// pseudo-session (Sender.IsKernel()) for events from outside handlers,
	// management events and signals.
	Sender *Session
	// Object is OBJECT: nil for inline handlers, the package name for
	// package states, the object for object states.
	Object any
	// CallerState is the active event name when the event was produced
	// ("" outside handlers). CallerFile and CallerLine are filled only when
	// the kernel traces (Options.Trace), as capturing them costs.
	CallerState string
	CallerFile  string
	CallerLine  int
	// Args are ARG0..ARGn.
	Args []any

	buf []any // reused argument storage for Call
	// lastSID is the ID of the session the Event was last dispatched to
	// (never 0, the kernel's): with a nil Session it says that the
	// handler has returned (Args is nil then, so that Arg's range check
	// leads to the check at no cost on the hot path).
	lastSID SessionID
}

// Arg returns ARGi, or nil when there are fewer arguments: the way to read
// an optional argument (v, ok := e.Arg(ARG3).(bool)), in assert mode too.
// The converting accessors (String, Int, Float, Slice, SessionArg) panic
// in assert mode for an index past the arguments, as Perl warns of an
// undefined value used as a string or number; Bool does not (Perl's
// if ($_[ARG3])). Every accessor panics on an Event used after its handler
// returned.
func (e *Event) Arg(i int) any {
	if i < 0 || i >= len(e.Args) {
		return e.missingArg(i)
	}
	return e.Args[i]
}

// arg is Arg for the converting accessors.
func (e *Event) arg(i int) any {
	if i < 0 || i >= len(e.Args) {
		return e.missingConv(i)
	}
	return e.Args[i]
}

// String returns ARGi as a string: strings and byte slices as they are,
// nil as "", other values formatted with fmt.
func (e *Event) String(i int) string {
	switch v := e.arg(i).(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	case fmt.Stringer:
		return v.String()
	default:
		return fmt.Sprint(v)
	}
}

// Int returns ARGi as an int: integer and float kinds converted, numeric
// strings parsed, anything else 0 (Perl's numification, roughly).
func (e *Event) Int(i int) int {
	switch v := e.arg(i).(type) {
	case int:
		return v
	case int8:
		return int(v)
	case int16:
		return int(v)
	case int32:
		return int(v)
	case int64:
		return int(v)
	case uint:
		return int(v)
	case uint8:
		return int(v)
	case uint16:
		return int(v)
	case uint32:
		return int(v)
	case uint64:
		return int(v)
	case float32:
		return int(v)
	case float64:
		return int(v)
	case SessionID:
		return int(v)
	case AlarmID:
		return int(v)
	case bool:
		if v {
			return 1
		}
	case string:
		n, _ := strconv.Atoi(v)
		return n
	}
	return 0
}

// Float returns ARGi as a float64 (see Int for the conversions).
func (e *Event) Float(i int) float64 {
	switch v := e.arg(i).(type) {
	case float64:
		return v
	case float32:
		return float64(v)
	case string:
		f, _ := strconv.ParseFloat(v, 64)
		return f
	}
	return float64(e.Int(i))
}

// Bool returns ARGi's truth in Perl's sense: nil, false, 0, "" and "0" are
// false.
func (e *Event) Bool(i int) bool {
	switch v := e.Arg(i).(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != "" && v != "0"
	case float64:
		return v != 0
	case float32:
		return v != 0
	}
	return e.Int(i) != 0 || !isNumber(e.Arg(i))
}

func isNumber(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, SessionID, AlarmID:
		return true
	}
	return false
}

// Slice returns ARGi as []any (the shape of _default's ARG1 and of
// postback arguments), or nil.
func (e *Event) Slice(i int) []any {
	s, _ := e.arg(i).([]any)
	return s
}

// SessionArg returns ARGi as a *Session (the shape of _child's ARG1 and
// _parent's arguments), or nil.
func (e *Event) SessionArg(i int) *Session {
	s, _ := e.arg(i).(*Session)
	return s
}

// HeapOf returns the event's heap as a T, for sessions created with a
// typed heap: poe.HeapOf[*Counter](e).
func HeapOf[T any](e *Event) T {
	h, ok := e.Heap.(T)
	if !ok && e.returned() {
		e.usedAfterReturn()
	}
	return h
}
