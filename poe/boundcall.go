package poe

// BoundCall is Call(s, event, args...) for one session and event, made
// over and over: the way a wheel calls its owner's InputEvent for every
// record. The handler is looked up once and again only after the
// session's states change, and a self-call (a wheel's event handler
// calling into the session that owns the wheel, the usual case) goes
// straight to the handler. It behaves as Kernel.Call in every other case.
type BoundCall struct {
	k     *Kernel
	s     *Session
	event string
	gen   uint64
	h     Handler
	obj   any
}

// BindCall returns a BoundCall of event in s.
func (k *Kernel) BindCall(s *Session, event string) *BoundCall {
	return &BoundCall{k: k, s: s, event: event}
}

// Event returns the bound event's name.
func (c *BoundCall) Event() string { return c.event }

// Call calls the event with args and returns the handler's value, as
// Kernel.Call does (a List gives its last element).
func (c *BoundCall) Call(args ...any) any {
	k, s := c.k, c.s
	if s != k.active || k.observed || k.trace != nil || k.rec != nil || k.opts.Assert {
		ret, _ := k.Call(s, c.event, args...)
		return ret
	}
	if c.h == nil || c.gen != s.statesGen {
		h, obj, ok := s.lookupSlow(c.event)
		if !ok {
			ret, _ := k.Call(s, c.event, args...) // _default, or nothing
			return ret
		}
		c.h, c.obj, c.gen = h, obj, s.statesGen
	}
	k.onGoroutine()
	ev := k.getEvent()
	ev.copyArgs(args)
	// A self-call: no new active event, no trap (as dispatchWith).
	ev.Kernel, ev.Session, ev.Heap, ev.State, ev.Sender, ev.Object = k, s, s.heap, c.event, s, c.obj
	ev.CallerState, ev.CallerFile, ev.CallerLine = k.activeEvent, "", 0
	ev.Args, ev.lastSID = ev.buf, s.id
	ret := c.h(ev)
	k.putEvent(ev)
	if k.fatal != nil && !k.opts.NoCatch {
		panic(fatalPanic{k.fatal}) // into the calling handler, as Call
	}
	if l, ok := ret.(List); ok {
		if len(l) == 0 {
			return nil
		}
		return l[len(l)-1]
	}
	return ret
}
