package poe

import (
	"fmt"
	"reflect"
	"unsafe"
)

// sessionTable is what POE::Resource::Sessions keeps for all sessions
// together; each session's own state is in its Session (session.go), its
// refcount is managed by gc.go.
type sessionTable struct {
	n int // live sessions
	// marks are the sessions whose refcount fell to zero, for the sweep
	// at the end of the batch (gc.go); swept is the last round's array.
	marks, swept []*Session
	// The last inline map Create found valid, by identity.
	lastInline    unsafe.Pointer
	lastInlineLen int
}

// Create creates a session as POE::Session->create does: its _start runs
// before Create returns (even before Run), with the active session (the
// kernel outside handlers) as parent and SENDER; the parent then gets
// _child("create", s, _start's return value). A spec without _start
// creates nothing and returns ErrNoStart.
func (k *Kernel) Create(spec Spec) (*Session, error) {
	k.onGoroutine()
	s := &Session{k: k, heap: spec.Heap, options: spec.Options, inline: spec.Inline}
	if s.heap == nil {
		s.heap = map[string]any{}
	}
	for _, group := range [][]States{spec.Packages, spec.Objects} {
		for _, st := range group {
			hs, err := st.resolve()
			if err != nil {
				return nil, err
			}
			if s.states == nil {
				s.states = make(map[string]boundState, len(hs))
			}
			for ev, h := range hs {
				if _, dup := s.states[ev]; dup && s.OptionTrue("debug") {
					k.log.Warn("poe: redefining handler", "event", ev)
				}
				s.states[ev] = boundState{h: h, obj: st.Object}
			}
		}
	}
	if _, ok := s.states["_signal"]; ok {
		return nil, ErrReservedState
	}
	if err := k.checkInline(s.inline); err != nil {
		return nil, err
	}
	if _, _, ok := s.lookup("_start"); !ok {
		k.log.Warn("poe: session not created: it has no _start handler")
		return nil, ErrNoStart
	}
	k.sids.allocate(s)
	k.sessions.n++
	parent := k.active
	s.parent = parent
	parent.addChild(s)
	k.refInc(parent)
	k.mark(s)
	if k.trace != nil {
		k.trace.sessionf(k, "%s has parent %s", s, parent)
	}
	ret := k.dispatch(s, parent, "_start", spec.Args, k.callerState(), "", 0, modeMgmt)
	if s.freed {
		return s, nil
	}
	if p := s.parent; p != k.self {
		k.mgmt(p, k.self, "_child", "create", s, ret)
	}
	if s.freed {
		return s, nil
	}
	k.enqueuePost(kindGC, s, s, "_garbage_collect", nil)
	return s, nil
}

// checkInline rejects nil handlers. Programs create many sessions from
// one handler map, so the last map found valid is remembered (by
// identity) and not walked again.
func (k *Kernel) checkInline(m map[string]Handler) error {
	if m == nil {
		return nil
	}
	id := reflect.ValueOf(m).UnsafePointer()
	if id == k.sessions.lastInline && len(m) == k.sessions.lastInlineLen {
		return nil
	}
	if _, ok := m["_signal"]; ok {
		return ErrReservedState
	}
	for ev, h := range m {
		if h == nil {
			return fmt.Errorf("poe: inline handler for %q is nil", ev)
		}
	}
	k.sessions.lastInline, k.sessions.lastInlineLen = id, len(m)
	return nil
}

// stopSession runs POE's one stop protocol (docs/poe-semantics.md §1.8.3).
func (k *Kernel) stopSession(s *Session) {
	if s.stopping || s.freed {
		return
	}
	s.stopping = true
	if s == k.self {
		return
	}
	p := s.parent
	if s.firstChild != nil {
		for _, c := range s.Children() {
			k.mgmt(p, k.self, "_child", "gain", c)
			k.mgmt(c, k.self, "_parent", s, p)
		}
	}
	ret := k.dispatch(s, k.active, "_stop", nil, k.callerState(), "", 0, modeMgmt)
	if p != nil && p != k.self {
		k.mgmt(p, k.self, "_child", "lose", s, ret)
	}
	k.free(s)
}

func (k *Kernel) free(s *Session) {
	if k.trace != nil {
		k.trace.sessionf(k, "freeing %s", s)
	}
	// Wheels and other closers first, acting as s: they drop their own
	// watchers and handlers.
	if len(s.closers) > 0 {
		prevS, prevE := k.active, k.activeEvent
		k.active = s
		for len(s.closers) > 0 {
			c := s.closers[len(s.closers)-1]
			s.closers = s.closers[:len(s.closers)-1]
			c.Close()
		}
		k.active, k.activeEvent = prevS, prevE
	}
	p := s.parent
	if p != nil {
		p.removeChild(s)
		for c := s.firstChild; c != nil; {
			next := c.nextSib
			s.removeChild(c)
			c.parent = p
			p.addChild(c)
			k.refInc(p)
			c = next
		}
		k.refDec(p)
	}
	s.parent = nil
	k.sids.free(s)
	k.sessions.n--
	for name := range s.sigs {
		k.sigUnwatch(s, name)
	}
	k.dropPidWatches(s)
	k.aliases.drop(s.aliases...)
	s.aliases = nil
	for tag := range s.extra {
		k.extrefs.total--
		delete(s.extra, tag)
	}
	for fd := range s.fdModes {
		k.unwatchAll(s, fd)
	}
	k.purge(s)
	s.freed = true
	s.marked = false
	s.refcount = 0
}

// purge drops every queued item addressed to s or sent by it (POE drops
// both: events a stopped session posted to others never arrive).
func (k *Kernel) purge(s *Session) {
	if s.ntimers > 0 {
		k.alarms.list()
	}
	for len(s.alarms) > 0 {
		k.removeTimer(s.alarms[len(s.alarms)-1])
	}
	if s.pendTo == 0 && s.pendFrom == 0 {
		return
	}
	k.queue.fifo.each(func(it *item) {
		if !it.dead && (it.dest == s || it.src == s) {
			it.dead = true
			k.release(it)
		}
	})
	k.queue.dropDeadHead()
	var doomed []*item
	k.alarms.heap.each(func(it *item) {
		if it.dest == s || it.src == s {
			doomed = append(doomed, it)
		}
	})
	for _, it := range doomed {
		k.removeTimer(it)
	}
}

// DetachMyself moves the active session under the kernel. Its old parent
// gets _child("lose", s, nil) (not during _start) and the session gets
// _parent(old, kernel). EPERM if it already is a child of the kernel.
func (k *Kernel) DetachMyself() error {
	s := k.active
	if s == k.self {
		return ErrNoActiveSession
	}
	if s.parent == k.self {
		return errnof(eperm, "detach_myself: already a child of the kernel")
	}
	old := s.parent
	if k.activeEvent != "_start" {
		k.mgmt(old, k.self, "_child", "lose", s, nil)
	}
	k.mgmt(s, k.self, "_parent", old, k.self)
	k.reparent(s, k.self)
	return nil
}

// DetachChild moves child c of the active session under the kernel: the
// active session gets _child("lose", c, nil), c gets _parent(active,
// kernel). ESRCH if c does not resolve, EPERM if it is not a child;
// ErrNoActiveSession outside handlers.
func (k *Kernel) DetachChild(child any) error {
	s := k.active
	if s == k.self {
		return ErrNoActiveSession
	}
	c := k.resolve(child)
	if c == nil || c == k.self {
		return k.unresolved("detach_child", child)
	}
	if c.parent != s {
		return errnof(eperm, fmt.Sprintf("detach_child: %s is not a child of %s", c, s))
	}
	k.mgmt(s, k.self, "_child", "lose", c, nil)
	k.mgmt(c, k.self, "_parent", s, k.self)
	k.reparent(c, k.self)
	return nil
}

func (k *Kernel) reparent(s, np *Session) {
	old := s.parent
	if old == nil || s.freed {
		return
	}
	old.removeChild(s)
	k.refDec(old)
	s.parent = np
	np.addChild(s)
	k.refInc(np)
}

// State adds or replaces the active session's handler for event; a nil
// handler removes it. It takes effect for the next dispatch of that name,
// including events already queued.
func (k *Kernel) State(event string, h Handler) error {
	return k.setState(event, h, nil)
}

// StateObject is State for an object state: h is invoked with OBJECT obj.
func (k *Kernel) StateObject(event string, obj any, h Handler) error {
	return k.setState(event, h, obj)
}

func (k *Kernel) setState(event string, h Handler, obj any) error {
	s := k.active
	if s == k.self {
		return ErrNoActiveSession
	}
	if event == "_signal" {
		return ErrReservedState
	}
	s.SetState(event, h, obj)
	return nil
}

// SetState changes a handler of s directly (what State does for the
// active session). Wheels use it to install their internal handlers.
func (s *Session) SetState(event string, h Handler, obj any) {
	s.cacheEvent, s.cacheH, s.cacheObj = "", nil, nil
	s.statesGen++
	if h == nil {
		delete(s.states, event)
		if _, ok := s.inline[event]; ok {
			s.ownInline()
			delete(s.inline, event)
		}
		return
	}
	if obj == nil {
		s.ownInline()
		delete(s.states, event)
		s.inline[event] = h
		return
	}
	if s.states == nil {
		s.states = map[string]boundState{}
	}
	s.states[event] = boundState{h: h, obj: obj}
}

func (s *Session) ownInline() {
	if s.inlineOwned {
		return
	}
	m := make(map[string]Handler, len(s.inline)+1)
	for n, h := range s.inline {
		m[n] = h
	}
	s.inline, s.inlineOwned = m, true
}

// StopSession stops the active session as POE::NFA's stop does: an
// internal event, queued FIFO, runs the stop protocol even though the
// session may still have children (they are handed to its parent with
// _child "gain" and _parent). It is how a session ends itself without
// first releasing everything it holds.
func (k *Kernel) StopSession() error {
	s := k.active
	if s == k.self {
		return ErrNoActiveSession
	}
	k.enqueuePost(kindStop, s, s, "_stop_session", nil)
	return nil
}
