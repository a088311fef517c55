package nfa

import "github.com/poe-go/poe/poe"

// Indexes into Event.Args, named as POE names them (the same as poe's).
const (
	ARG0 = poe.ARG0
	ARG1 = poe.ARG1
	ARG2 = poe.ARG2
	ARG3 = poe.ARG3
	ARG4 = poe.ARG4
	ARG5 = poe.ARG5
	ARG6 = poe.ARG6
	ARG7 = poe.ARG7
	ARG8 = poe.ARG8
	ARG9 = poe.ARG9
)

// Event is what a machine's handler receives: POE::NFA's @_ as a struct,
// its fields in POE's order. Like poe.Event, it and its Args belong to the
// dispatch: copy what must outlive the handler.
type Event struct {
	// Object is OBJECT: nil for inline handlers, the package name or the
	// object for package and object states.
	Object any
	// Machine is MACHINE, the machine being invoked.
	Machine *Machine
	Kernel  *poe.Kernel
	// Runstate is RUNSTATE, the machine's heap.
	Runstate any
	// Event is EVENT, the event's name ("_default" when redirected there,
	// with the original name in ARG0 and its arguments in ARG1).
	Event string
	// Sender is SENDER; the machine itself for entry, return and leave
	// events.
	Sender *poe.Session
	// State is STATE, the name of the machine's current state.
	State string
	// CallerFile, CallerLine and CallerState say where the event came
	// from (file and line only when the kernel traces); empty for entry,
	// return and leave events.
	CallerFile  string
	CallerLine  int
	CallerState string
	// Args are ARG0..ARGn.
	Args []any
}

// asPoe gives the accessors poe.Event's conversions (and its assert-mode
// checks) over the same arguments.
func (e *Event) asPoe() *poe.Event {
	return &poe.Event{Kernel: e.Kernel, Session: e.Machine.Session(), State: e.Event, Args: e.Args}
}

// Arg returns ARGi, or nil when there are fewer arguments.
func (e *Event) Arg(i int) any { return e.asPoe().Arg(i) }

// String returns ARGi as a string (see poe.Event.String).
func (e *Event) String(i int) string { return e.asPoe().String(i) }

// Int returns ARGi as an int (see poe.Event.Int).
func (e *Event) Int(i int) int { return e.asPoe().Int(i) }

// Float returns ARGi as a float64 (see poe.Event.Float).
func (e *Event) Float(i int) float64 { return e.asPoe().Float(i) }

// Bool returns ARGi's truth in Perl's sense (see poe.Event.Bool).
func (e *Event) Bool(i int) bool { return e.asPoe().Bool(i) }

// Slice returns ARGi as []any, or nil (the shape of _default's ARG1 and
// of postback arguments).
func (e *Event) Slice(i int) []any { return e.asPoe().Slice(i) }

// SessionArg returns ARGi as a *poe.Session, or nil.
func (e *Event) SessionArg(i int) *poe.Session { return e.asPoe().SessionArg(i) }

// RunstateOf returns the event's RUNSTATE as a T, for machines spawned
// with a typed Runstate: nfa.RunstateOf[*Login](e).
func RunstateOf[T any](e *Event) T {
	r, _ := e.Runstate.(T)
	return r
}
