package poe

import (
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"unicode"
)

// SessionID identifies a session within its kernel. The first session a
// kernel creates has ID 1; the kernel's own pseudo-session has ID 0.
type SessionID uint64

// Session is a live session: a table of handlers, a heap, an ID, aliases,
// a parent and children. Sessions are created with Kernel.Create.
type Session struct {
	k  *Kernel
	id SessionID

	inline      map[string]Handler // shared with the Spec until first State call
	inlineOwned bool
	states      map[string]boundState // package/object states and State overrides
	heap        any
	options     map[string]any

	parent *Session
	// children, in ascending ID order, as an intrusive list: a parent of
	// many short-lived sessions must not pay O(children) per removal.
	firstChild, lastChild *Session
	prevSib, nextSib      *Session
	nchildren             int

	aliases  []string
	extra    map[string]int
	fdModes  map[int]uint8 // watched fd -> bit per mode
	sigs     map[string]*sigWatch
	pids     int
	pendTo   int
	pendFrom int
	refcount int

	alarms     []*item        // this session's timers, each knowing its index (aidx), once Kernel.timersBySession
	ntimers    int            // how many timers it has
	alarmNames map[string]int // built on first removal by name

	marked, stopping, freed bool
	closers                 []io.Closer

	// A one-entry cache of the last handler looked up: most sessions
	// receive the same event over and over.
	cacheEvent string
	cacheH     Handler
	cacheObj   any
	// statesGen counts SetState calls: a BoundCall's handler is good
	// while it has not moved.
	statesGen uint64
}

type boundState struct {
	h   Handler
	obj any
}

// ID returns the session's ID.
func (s *Session) ID() SessionID { return s.id }

// IsKernel reports whether s is the kernel's pseudo-session (the SENDER of
// events produced outside handlers and by the kernel itself).
func (s *Session) IsKernel() bool { return s != nil && s.k != nil && s == s.k.self }

// Kernel returns the kernel the session lives in.
func (s *Session) Kernel() *Kernel { return s.k }

// Heap returns the session's heap.
func (s *Session) Heap() any { return s.heap }

// Parent returns the parent session (the kernel's pseudo-session for
// top-level sessions), or nil once the session has stopped.
func (s *Session) Parent() *Session { return s.parent }

// Children returns the child sessions in ascending ID order.
func (s *Session) Children() []*Session { return s.appendChildren(nil) }

func (s *Session) appendChildren(out []*Session) []*Session {
	for c := s.firstChild; c != nil; c = c.nextSib {
		out = append(out, c)
	}
	return out
}

// addChild links c under s, keeping ascending ID order (new sessions have
// the highest ID and go last).
func (s *Session) addChild(c *Session) {
	after := s.lastChild
	for after != nil && after.id > c.id {
		after = after.prevSib
	}
	c.prevSib = after
	if after == nil {
		c.nextSib = s.firstChild
		s.firstChild = c
	} else {
		c.nextSib = after.nextSib
		after.nextSib = c
	}
	if c.nextSib == nil {
		s.lastChild = c
	} else {
		c.nextSib.prevSib = c
	}
	s.nchildren++
}

func (s *Session) removeChild(c *Session) {
	if c.prevSib == nil {
		s.firstChild = c.nextSib
	} else {
		c.prevSib.nextSib = c.nextSib
	}
	if c.nextSib == nil {
		s.lastChild = c.prevSib
	} else {
		c.nextSib.prevSib = c.prevSib
	}
	c.prevSib, c.nextSib = nil, nil
	s.nchildren--
}

// Alive reports whether the session still exists.
func (s *Session) Alive() bool { return !s.freed }

// String names the session as POE's traces do: "session 3 (alias1, alias2)".
func (s *Session) String() string {
	if s == nil {
		return "session <nil>"
	}
	if s.IsKernel() {
		return "kernel " + s.k.id
	}
	name := fmt.Sprintf("session %d", s.id)
	if len(s.aliases) > 0 {
		name += " (" + strings.Join(s.sortedAliases(), ", ") + ")"
	}
	return name
}

// HandlerNames lists the event names the session handles, sorted.
func (s *Session) HandlerNames() []string {
	seen := map[string]bool{}
	for n := range s.inline {
		seen[n] = true
	}
	for n := range s.states {
		seen[n] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Option returns a session option ("trace", "debug", "default", or any
// user key) and whether it is set.
func (s *Session) Option(name string) (any, bool) {
	v, ok := s.options[name]
	return v, ok
}

// SetOption sets a session option and returns its previous value. POE's
// words on/yes/true and off/no/false become 1 and 0; nil deletes.
func (s *Session) SetOption(name string, v any) any {
	prev := s.options[name]
	if v == nil {
		delete(s.options, name)
		return prev
	}
	if str, ok := v.(string); ok {
		switch strings.ToLower(str) {
		case "on", "yes", "true":
			v = 1
		case "off", "no", "false":
			v = 0
		}
	}
	if s.options == nil {
		s.options = map[string]any{}
	}
	s.options[name] = v
	return prev
}

// OptionTrue reports whether option name is set to a value Perl holds
// true: not unset, 0, "0", "" or false.
func (s *Session) OptionTrue(name string) bool {
	v, ok := s.options[name]
	if !ok {
		return false
	}
	switch x := v.(type) {
	case bool:
		return x
	case int:
		return x != 0
	case string:
		return x != "" && x != "0"
	}
	return v != nil
}

// Do runs fn with s as the active session, so that the kernel methods
// acting on the active session (SelectRead, Delay, State, SigChild...)
// act on s. Wheels use it so that their methods work from any handler;
// the active event is unchanged. It must be called on the kernel's
// goroutine and does nothing once s has stopped.
func (s *Session) Do(fn func()) {
	if s.freed {
		return
	}
	k := s.k
	prev := k.active
	k.active = s
	defer func() { k.active = prev }()
	fn()
}

// AddCloser registers c to be closed when the session stops, after its
// _stop handler. Wheels use it so that a session's wheels never outlive it
// (POE relies on Perl destructors for this).
func (s *Session) AddCloser(c io.Closer) { s.closers = append(s.closers, c) }

// RemoveCloser forgets a closer registered with AddCloser.
func (s *Session) RemoveCloser(c io.Closer) {
	for i, x := range s.closers {
		if x == c {
			s.closers = append(s.closers[:i], s.closers[i+1:]...)
			return
		}
	}
}

func (s *Session) lookup(event string) (Handler, any, bool) {
	if s.cacheH != nil && s.cacheEvent == event {
		return s.cacheH, s.cacheObj, true
	}
	h, obj, ok := s.lookupSlow(event)
	if ok {
		s.cacheEvent, s.cacheH, s.cacheObj = event, h, obj
	}
	return h, obj, ok
}

func (s *Session) lookupSlow(event string) (Handler, any, bool) {
	if s.states != nil {
		if b, ok := s.states[event]; ok {
			return b.h, b.obj, b.h != nil
		}
	}
	h, ok := s.inline[event]
	return h, nil, ok && h != nil
}

// Spec describes a session to create: POE::Session->create's parameters.
type Spec struct {
	// Inline maps event names to handlers (inline_states); OBJECT is nil.
	Inline map[string]Handler
	// Packages are package_states: each group's Object is its package name.
	Packages []States
	// Objects are object_states: each group's Object is the object.
	Objects []States
	// Args become _start's ARG0..ARGn.
	Args []any
	// Heap is the session's heap; nil means a fresh map[string]any, as POE.
	Heap any
	// Options are session options (trace, debug, default, or user data).
	Options map[string]any
}

// States is one package_states or object_states group: handlers invoked
// with OBJECT set to Object. Handlers maps event names to functions; Methods
// maps event names to method names of Object, looked up when the session
// is created (a missing method makes Create fail, as in POE).
type States struct {
	Object   any
	Handlers map[string]Handler
	Methods  map[string]string

	// bind, set by Object and ObjectMap (which know the object's type),
	// looks a method up once and returns a Handler that calls it
	// directly; without it, methods are called through reflection.
	bind func(method string) Handler
}

// Package returns a package_states group: handlers whose OBJECT is the
// package name, e.g. Package("main", map[string]Handler{"tick": tick}).
func Package(name string, handlers map[string]Handler) States {
	return States{Object: name, Handlers: handlers}
}

// Object returns an object_states group whose handlers are methods of obj
// named after the events: the event name with leading underscores removed
// and each underscore-separated word capitalised ("_start" → Start,
// "sig_CHLD" → SigCHLD, "waste_time" → WasteTime). Methods must have the
// signature func(*poe.Event) any.
//
// Each method is looked up once, when the session is created; an event
// then calls it as directly as an inline handler.
func Object[T any](obj T, events ...string) States {
	m := make(map[string]string, len(events))
	for _, ev := range events {
		m[ev] = MethodName(ev)
	}
	return States{Object: obj, Methods: m, bind: methodBinder(obj)}
}

// ObjectMap returns an object_states group mapping event names to
// arbitrarily named methods of obj (POE's hash form, {inc => 'inc_method'};
// the method name is converted with MethodName if it is not a Go name).
func ObjectMap[T any](obj T, eventToMethod map[string]string) States {
	return States{Object: obj, Methods: eventToMethod, bind: methodBinder(obj)}
}

// methodBinder returns a function that finds obj's method by name and
// binds it to obj without reflection on each call: the method expression
// (a plain func(T, *Event) any) comes from reflect once. It returns nil
// when T is an interface type, or the method is missing or has another
// signature; resolve then reports the error or falls back.
func methodBinder[T any](obj T) func(string) Handler {
	t := reflect.TypeFor[T]()
	if t.Kind() == reflect.Interface {
		return nil
	}
	return func(name string) Handler {
		m, ok := t.MethodByName(name)
		if !ok {
			return nil
		}
		f, ok := m.Func.Interface().(func(T, *Event) any)
		if !ok {
			return nil
		}
		return func(e *Event) any { return f(obj, e) }
	}
}

// MethodName is the rule Object uses to turn a POE event name into a Go
// method name.
func MethodName(event string) string {
	var b strings.Builder
	for _, w := range strings.Split(strings.TrimLeft(event, "_"), "_") {
		if w == "" {
			continue
		}
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	return b.String()
}

var handlerType = reflect.TypeOf(Handler(nil))

func (st States) resolve() (map[string]Handler, error) {
	out := make(map[string]Handler, len(st.Handlers)+len(st.Methods))
	for ev, h := range st.Handlers {
		if h == nil {
			return nil, fmt.Errorf("poe: handler for %q is nil", ev)
		}
		out[ev] = h
	}
	if len(st.Methods) > 0 {
		v := reflect.ValueOf(st.Object)
		if !v.IsValid() {
			return nil, fmt.Errorf("poe: object states need an object")
		}
		for ev, name := range st.Methods {
			if st.bind != nil {
				h := st.bind(name)
				if h == nil && name != MethodName(name) {
					h = st.bind(MethodName(name))
				}
				if h != nil {
					out[ev] = h
					continue
				}
			}
			m := v.MethodByName(name)
			if !m.IsValid() && name != MethodName(name) {
				m = v.MethodByName(MethodName(name))
			}
			if !m.IsValid() {
				return nil, fmt.Errorf("poe: %T has no method %s for event %q", st.Object, name, ev)
			}
			if !m.Type().ConvertibleTo(handlerType) {
				return nil, fmt.Errorf("poe: method %T.%s has type %s, want func(*poe.Event) any", st.Object, name, m.Type())
			}
			out[ev] = m.Convert(handlerType).Interface().(Handler)
		}
	}
	return out, nil
}
