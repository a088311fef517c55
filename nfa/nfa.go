// Package nfa is POE::NFA: a session whose event handlers come in banks,
// one bank per machine state, and which changes banks with GotoState.
//
// A machine is a plain poe.Session underneath: it has an ID, aliases,
// timers, signals and wheels like any other, and other sessions post to it
// as usual. Which handler an event reaches depends on the machine's
// current state. Handlers receive an *Event with POE::NFA's fields:
// MACHINE, RUNSTATE (the machine's heap), STATE (the current state's name)
// and EVENT (the event's name).
//
// Transitions follow POE 1.370: GotoState, CallState and ReturnState are
// queued behind pending events unless the option "immediate" is set (or
// the machine has no state yet, as right after Spawn); leaving a state
// whose bank has a "leave" handler runs it first; the entry event, if
// given, runs in the new state as soon as it is entered.
package nfa

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"

	"github.com/poe-go/poe/poe"
)

// Handler is the code behind an event in one machine state.
type Handler func(e *Event) any

// States is one machine state's inline handlers: event name to handler.
type States map[string]Handler

// Group is one object_states or package_states entry of a machine state:
// handlers invoked with OBJECT set to Object. Handlers maps events to
// functions; Methods maps events to method names of Object, resolved at
// Spawn (methods must be func(*nfa.Event) any).
type Group struct {
	Object   any
	Handlers map[string]Handler
	Methods  map[string]string
}

// Package returns a package_states entry: handlers whose OBJECT is the
// package name.
func Package(name string, handlers map[string]Handler) Group {
	return Group{Object: name, Handlers: handlers}
}

// Object returns an object_states entry whose handlers are methods of obj
// named after the events by poe.MethodName ("enter" → Enter,
// "_default" → Default).
func Object(obj any, events ...string) Group {
	m := make(map[string]string, len(events))
	for _, ev := range events {
		m[ev] = poe.MethodName(ev)
	}
	return Group{Object: obj, Methods: m}
}

// ObjectMap returns an object_states entry mapping events to arbitrarily
// named methods of obj (POE's hash form).
func ObjectMap(obj any, eventToMethod map[string]string) Group {
	return Group{Object: obj, Methods: eventToMethod}
}

// Spec describes a machine: POE::NFA->spawn's parameters.
type Spec struct {
	// Inline maps machine states to their inline handlers (inline_states).
	Inline map[string]States
	// Objects and Packages map machine states to object_states and
	// package_states entries. A state named in several of Inline, Objects
	// and Packages gets the handlers of all of them (later ones win for
	// the same event, in that order).
	Objects  map[string][]Group
	Packages map[string][]Group
	// Runstate is RUNSTATE; nil means a fresh map[string]any, as POE.
	Runstate any
	// Options are session options: "immediate" (transitions run at once),
	// "trace" (each event logged), "debug", "default", or user data.
	Options map[string]any
	// StartState, if set, is entered right after the machine is created,
	// with StartEvent (if set) and StartArgs as its entry event: the Go
	// spelling of POE's spawn(...)->goto_state(state, event, args).
	StartState string
	StartEvent string
	StartArgs  []any
	// Logger receives the "trace" option's lines; nil means slog.Default().
	Logger *slog.Logger
}

// Errors of Spawn and of the transitions. Errors that happen while an
// event is dispatched (an unknown state reached by a posted transition,
// ReturnState with nothing to return to, an event no handler takes) are
// panics with these values inside the machine's handler, which the kernel
// turns into a DIE signal, as POE's die does.
var (
	ErrNoKernel      = errors.New("nfa: Spawn needs a kernel")
	ErrNoStates      = errors.New("nfa: Spawn needs at least one of Inline, Objects, Packages")
	ErrNilHandler    = errors.New("nfa: nil handler")
	ErrNoMethod      = errors.New("nfa: object has no such method")
	ErrReservedEvent = errors.New("nfa: event names beginning with poe_nfa_ are reserved")
	ErrUnknownState  = errors.New("nfa: no such machine state")
	ErrUnknownEntry  = errors.New("nfa: entry event not handled by the new state")
	ErrEmptyStack    = errors.New("nfa: return_state with an empty state stack")
	ErrNoHandler     = errors.New("nfa: event has no handler in the current state")
)

// The machine's internal events, POE's names.
const (
	evGoto = "poe_nfa_goto_state"
	evPush = "poe_nfa_push_state"
	evPop  = "poe_nfa_pop_state"
	evStop = "poe_nfa_stop"
)

// Leave is the event a state's bank may handle to run when the machine
// leaves that state (POE's undocumented "leave").
const Leave = "leave"

type bound struct {
	h   Handler
	obj any
}

type frame struct{ state, event string }

// Machine is a running state machine (POE::NFA's object, MACHINE).
type Machine struct {
	k        *poe.Kernel
	s        *poe.Session
	states   map[string]map[string]bound
	current  map[string]bound
	name     string
	stack    []frame
	runstate any
	log      *slog.Logger
}

// Spawn creates a machine in k. It starts in no state: give it one with
// Spec.StartState or GotoState. Until then every event (other than the
// kernel's underscore events) fails with ErrNoHandler.
func Spawn(k *poe.Kernel, spec Spec) (*Machine, error) {
	if k == nil {
		return nil, ErrNoKernel
	}
	if len(spec.Inline) == 0 && len(spec.Objects) == 0 && len(spec.Packages) == 0 {
		return nil, ErrNoStates
	}
	m := &Machine{k: k, states: map[string]map[string]bound{}, runstate: spec.Runstate, log: spec.Logger}
	if m.runstate == nil {
		m.runstate = map[string]any{}
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	for state, hs := range spec.Inline {
		if err := m.add(state, Group{Handlers: hs}); err != nil {
			return nil, err
		}
	}
	for _, groups := range []map[string][]Group{spec.Objects, spec.Packages} {
		for state, gs := range groups {
			for _, g := range gs {
				if err := m.add(state, g); err != nil {
					return nil, err
				}
			}
		}
	}
	nop := func(*poe.Event) any { return nil }
	s, err := k.Create(poe.Spec{
		Inline: map[string]poe.Handler{
			"_start":   nop, // POE::NFA hands neither _start nor _stop to its states
			"_stop":    nop,
			"_default": m.route,
			evGoto:     m.onGoto,
			evPush:     m.onPush,
			evPop:      m.onPop,
			evStop:     m.onStop,
		},
		Heap:    m.runstate,
		Options: spec.Options,
	})
	if err != nil {
		return nil, err
	}
	m.s = s
	if spec.StartState != "" {
		if err := m.GotoState(spec.StartState, spec.StartEvent, spec.StartArgs...); err != nil {
			return m, err
		}
	}
	return m, nil
}

var handlerType = reflect.TypeOf(Handler(nil))

func (m *Machine) add(state string, g Group) error {
	bank := m.states[state]
	if bank == nil {
		bank = map[string]bound{}
		m.states[state] = bank
	}
	put := func(ev string, h Handler) error {
		if strings.HasPrefix(ev, "poe_nfa_") {
			return fmt.Errorf("%w: %q in state %q", ErrReservedEvent, ev, state)
		}
		bank[ev] = bound{h: h, obj: g.Object}
		return nil
	}
	for ev, h := range g.Handlers {
		if h == nil {
			return fmt.Errorf("%w for event %q in state %q", ErrNilHandler, ev, state)
		}
		if err := put(ev, h); err != nil {
			return err
		}
	}
	if len(g.Methods) == 0 {
		return nil
	}
	v := reflect.ValueOf(g.Object)
	for ev, name := range g.Methods {
		var meth reflect.Value
		if v.IsValid() {
			meth = v.MethodByName(name)
			if !meth.IsValid() && name != poe.MethodName(name) {
				meth = v.MethodByName(poe.MethodName(name))
			}
		}
		if !meth.IsValid() || !meth.Type().ConvertibleTo(handlerType) {
			return fmt.Errorf("%w: %T has no method %s func(*nfa.Event) any for event %q in state %q",
				ErrNoMethod, g.Object, name, ev, state)
		}
		if err := put(ev, meth.Convert(handlerType).Interface().(Handler)); err != nil {
			return err
		}
	}
	return nil
}

// ID returns the machine's session ID.
func (m *Machine) ID() poe.SessionID { return m.s.ID() }

// Session returns the machine's session, to post to it or resolve it.
func (m *Machine) Session() *poe.Session { return m.s }

// Kernel returns the machine's kernel.
func (m *Machine) Kernel() *poe.Kernel { return m.k }

// String names the machine as its session's String does.
func (m *Machine) String() string { return m.s.String() }

// CurrentState returns the name of the machine's current state, "" before
// the first transition (POE's get_current_state).
func (m *Machine) CurrentState() string { return m.name }

// Runstate returns RUNSTATE (POE's get_runstate).
func (m *Machine) Runstate() any { return m.runstate }

// Option returns a machine option and whether it is set.
func (m *Machine) Option(name string) (any, bool) { return m.s.Option(name) }

// SetOption sets a machine option and returns its previous value; nil
// deletes it (see poe.Session.SetOption).
func (m *Machine) SetOption(name string, v any) any { return m.s.SetOption(name, v) }

// Postback returns a postback to the machine (see poe.Session.Postback):
// its event is handled by whatever state the machine is in when it
// arrives.
func (m *Machine) Postback(event string, args ...any) *poe.Postback {
	return m.s.Postback(event, args...)
}

// Callback returns a callback to the machine, handled in its current
// state at the time of the call.
func (m *Machine) Callback(event string, args ...any) *poe.Callback {
	return m.s.Callback(event, args...)
}

func (m *Machine) immediate() bool { return m.s.OptionTrue("immediate") }

// check is what POE checks when the transition is dispatched; the states
// never change after Spawn, so checking early gives the caller the error.
func (m *Machine) check(state, entry string) error {
	bank, ok := m.states[state]
	if !ok {
		return fmt.Errorf("%w: %s tried to enter nonexistent state %q", ErrUnknownState, m.s, state)
	}
	if entry != "" {
		if _, ok := bank[entry]; !ok {
			return fmt.Errorf("%w: %s tried to invoke nonexistent enter event %q in state %q", ErrUnknownEntry, m.s, entry, state)
		}
	}
	return nil
}

// send queues an internal event to the machine, or calls it when the
// machine is to change state at once.
func (m *Machine) send(now bool, event string, args ...any) error {
	if now {
		_, err := m.k.Call(m.s, event, args...)
		return err
	}
	return m.k.Post(m.s, event, args...)
}

// GotoState puts the machine into state; entry, if not "", is then
// dispatched in the new state with args as ARG0... . The transition is
// queued (FIFO) unless the option "immediate" is set or the machine has no
// state yet. An unknown state or an entry event the state does not handle
// is an error at once.
func (m *Machine) GotoState(state, entry string, args ...any) error {
	if err := m.check(state, entry); err != nil {
		return err
	}
	return m.send(m.current == nil || m.immediate(), evGoto, append([]any{state, entry}, args...)...)
}

// CallState is GotoState that first pushes the current state, with
// returnEvent, on the machine's stack; ReturnState goes back to it and
// dispatches returnEvent (if not "") there. It is queued unless the option
// "immediate" is set.
func (m *Machine) CallState(returnEvent, state, entry string, args ...any) error {
	if err := m.check(state, entry); err != nil {
		return err
	}
	return m.send(m.immediate(), evPush, append([]any{returnEvent, state, entry}, args...)...)
}

// ReturnState pops the state CallState pushed and goes back to it; its
// return event gets args as ARG0... . It is queued unless the option
// "immediate" is set; an empty stack is ErrEmptyStack when it is
// dispatched.
func (m *Machine) ReturnState(args ...any) error {
	return m.send(m.immediate(), evPop, args...)
}

// Stop stops the machine: the stop is queued (FIFO) and then the machine
// ends even if it still holds resources (timers, wheels, aliases are all
// released, children go to its parent), as POE::NFA's stop does.
func (m *Machine) Stop() error {
	if !m.s.Alive() {
		return m.k.Post(m.s, evStop) // the kernel's "cannot resolve" error
	}
	var err error
	m.s.Do(func() { err = m.k.StopSession() })
	return err
}

func (m *Machine) onGoto(pe *poe.Event) any {
	m.gotoState(pe.String(0), pe.String(1), tail(pe.Args, 2))
	return nil
}

// tail is args[n:], or nil for an internal event posted by hand with
// fewer arguments.
func tail(args []any, n int) []any {
	if len(args) <= n {
		return nil
	}
	return args[n:]
}

func (m *Machine) onPush(pe *poe.Event) any {
	m.stack = append(m.stack, frame{state: m.name, event: pe.String(0)})
	m.gotoState(pe.String(1), pe.String(2), tail(pe.Args, 3))
	return nil
}

func (m *Machine) onPop(pe *poe.Event) any {
	if len(m.stack) == 0 {
		panic(fmt.Errorf("%w: %s", ErrEmptyStack, m.s))
	}
	f := m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-1]
	m.gotoState(f.state, f.event, pe.Args)
	return nil
}

func (m *Machine) onStop(*poe.Event) any {
	_ = m.k.StopSession() // the machine is the active session here
	return nil
}

func (m *Machine) gotoState(state, entry string, args []any) {
	if err := m.check(state, entry); err != nil {
		panic(err)
	}
	if _, ok := m.current[Leave]; ok {
		m.invoke(m.s, Leave, nil, "", "", 0)
	}
	m.current, m.name = m.states[state], state
	if entry != "" {
		m.invoke(m.s, entry, args, "", "", 0)
	}
}

// route receives every event the session has no handler of its own for
// (the kernel redirects them to _default with ARG0 the event and ARG1 its
// arguments) and hands it to the current state.
func (m *Machine) route(pe *poe.Event) any {
	return m.invoke(pe.Sender, pe.String(0), pe.Slice(1), pe.CallerState, pe.CallerFile, pe.CallerLine)
}

func (m *Machine) invoke(sender *poe.Session, event string, args []any, callerState, file string, line int) any {
	if m.s.OptionTrue("trace") {
		m.log.Info("nfa: event", "session", m.s.ID(), "event", event, "state", m.name)
	}
	b, ok := m.current[event]
	if !ok {
		d, ok := m.current["_default"]
		switch {
		case ok:
			b = d
			args = []any{event, append([]any(nil), args...)}
			event = "_default"
		case strings.HasPrefix(event, "_"):
			return nil // the kernel's own events (_child, _parent) may go unhandled
		default:
			panic(fmt.Errorf("%w: a %q event was sent to %s, which has neither a handler for it nor one for _default in its current state %q",
				ErrNoHandler, event, m.s, m.name))
		}
	}
	return b.h(&Event{
		Object:      b.obj,
		Machine:     m,
		Kernel:      m.k,
		Runstate:    m.runstate,
		Event:       event,
		Sender:      sender,
		State:       m.name,
		CallerFile:  file,
		CallerLine:  line,
		CallerState: callerState,
		Args:        args,
	})
}
