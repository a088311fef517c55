package poe

// Postback is POE's $session->postback: a value that, when invoked, posts
// an event to its session with ARG0 = the arguments given at creation and
// ARG1 = those given at the call. It holds its session alive (and the
// kernel busy) until Release: Go has no destructor to do that for us.
type Postback struct {
	s        *Session
	event    string
	created  []any
	released bool
}

const anonEventTag = "anon_event"

// Postback creates a postback to s for event.
func (s *Session) Postback(event string, args ...any) *Postback {
	p := &Postback{s: s, event: event, created: append([]any{}, args...)}
	if !s.freed {
		s.k.extraInc(s, anonEventTag)
	} else {
		p.released = true
	}
	return p
}

// Post posts the event (SENDER = the active session) and returns 0, as
// POE's postback does. After Release, or once the session is gone, it does
// nothing.
func (p *Postback) Post(args ...any) int {
	if p.s.freed {
		return 0
	}
	k := p.s.k
	k.enqueuePost(kindPost, p.s, k.active, p.event, []any{p.created, append([]any{}, args...)})
	return 0
}

// Func returns the postback as a plain function, for APIs that take one.
func (p *Postback) Func() func(args ...any) { return func(args ...any) { p.Post(args...) } }

// Release drops the postback's hold on its session. It is idempotent.
func (p *Postback) Release() {
	if p.released {
		return
	}
	p.released = true
	if !p.s.freed {
		p.s.k.extraDec(p.s, anonEventTag)
	}
}

// Callback is POE's $session->callback: like Postback, but invoking it
// calls the handler synchronously and returns its value.
type Callback struct{ Postback }

// Callback creates a callback to s for event.
func (s *Session) Callback(event string, args ...any) *Callback {
	return &Callback{*s.Postback(event, args...)}
}

// Call calls the event and returns the handler's value (nil after Release
// or once the session is gone).
func (c *Callback) Call(args ...any) any {
	if c.s.freed {
		return nil
	}
	ret, _ := c.s.k.Call(c.s, c.event, c.created, append([]any{}, args...))
	return ret
}
