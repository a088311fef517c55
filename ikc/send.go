package ikc

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// fromFor builds the from of a message sent on behalf of s (10.6): its
// first alias with published states, else none.
func (r *Responder) fromFor(s *poe.Session) *protocol.Address {
	if s == nil || s.IsKernel() || !s.Alive() {
		return nil
	}
	for _, n := range r.sessionNames(s) {
		if len(r.pubs.of(n)) > 0 {
			return r.from.address(n)
		}
	}
	return nil
}

// fromCache holds the from address of each local session name that
// sends, its hash built once (the same bytes NewAddress(...).Value()
// gives). The addresses are read-only: shared by every message that
// session sends.
type fromCache struct {
	kernelID string
	byName   map[string]*protocol.Address
}

func newFromCache(kernelID string) fromCache {
	return fromCache{kernelID: kernelID, byName: map[string]*protocol.Address{}}
}

// address returns the from of local session name n.
func (c *fromCache) address(n string) *protocol.Address {
	if a := c.byName[n]; a != nil {
		return a
	}
	if len(c.byName) >= 256 {
		clear(c.byName)
	}
	a := protocol.PrebuiltAddress(protocol.Specifier{Kernel: c.kernelID, Session: n, State: protocol.ProxyState})
	c.byName[n] = &a
	return &a
}

// send routes m (filling its from for behalf when it has none) and
// returns how many kernels it was written to. For a call (m.RSVP set) the
// rsvp allowance grows once per kernel reached.
func (r *Responder) send(m *protocol.Message, behalf *poe.Session) (int, error) {
	if r.shut {
		return 0, ErrNoResponder
	}
	to := m.Event.Specifier
	if to.Session == "" || to.State == "" {
		r.logs.warn("ikc: need a session and a state to send", "send", to.Kernel, to.String())
		return 0, fmt.Errorf("%w: %s", ErrNoState, to)
	}
	if m.From == nil && !m.IsError {
		m.From = r.fromFor(behalf)
	}
	var one [1]string
	ids, errText := r.kernels.route(one[:0], to.Kernel)
	if errText != "" {
		r.inform("error", "*", false, "resolve", errText)
		return 0, fmt.Errorf("%w: %s", ErrUnknownKernel, errText)
	}
	n := 0
	for _, id := range ids {
		if m.RSVP != nil {
			r.pubs.allow(rsvpKey(m.RSVP.Specifier))
		}
		var err error
		if id == r.kernelID {
			err = r.sendLocal(m)
		} else if ch := r.kernels.channel(id); ch != nil {
			err = ch.write(m)
		} else {
			err = fmt.Errorf("%w %q", ErrUnknownKernel, id)
		}
		if err != nil {
			if m.RSVP != nil {
				r.pubs.spend(rsvpKey(m.RSVP.Specifier))
			}
			r.logs.warn("ikc: send failed", "send", id, err.Error())
			continue
		}
		n++
	}
	return n, nil
}

// sendLocal delivers a message addressed to the local kernel (10.9): a
// copy (frozen and thawed, as a peer would see it) is processed by the
// receive path in a later event.
func (r *Responder) sendLocal(m *protocol.Message) error {
	cp := *m
	if cp.RSVP != nil && cp.RSVP.Kernel == "" {
		rs := *cp.RSVP
		rs.Kernel = r.kernelID
		cp.RSVP = &rs
	}
	payload, err := protocol.FreezeMessage(freezer.Storable{}, &cp)
	if err != nil {
		return err
	}
	msg, err := protocol.ThawMessage(freezer.Storable{}, payload)
	if err != nil && msg == nil {
		return err
	}
	return r.k.Post(r.session, "IKC:local", msg, err)
}

// expandTarget applies Perl's rule for IKC/post and IKC/call targets: a
// string not starting with "poe:" gets "poe://" prepended.
func expandTarget(target any) (protocol.Address, error) {
	switch x := target.(type) {
	case protocol.Address:
		return x, nil
	case *protocol.Address:
		if x == nil {
			return protocol.Address{}, fmt.Errorf("%w: nil", protocol.ErrBadSpecifier)
		}
		return *x, nil
	case protocol.Specifier:
		return protocol.NewAddress(x), nil
	case *protocol.Specifier:
		if x == nil {
			return protocol.Address{}, fmt.Errorf("%w: nil", protocol.ErrBadSpecifier)
		}
		return protocol.NewAddress(*x), nil
	case map[string]any, *storable.Hash:
		v, err := protocol.ToValue(x)
		if err != nil {
			return protocol.Address{}, err
		}
		return protocol.AddressFromValue(v)
	case string:
		s := x
		if !strings.HasPrefix(s, "poe:") {
			s = "poe://" + s
		}
		return protocol.StringAddress(s)
	case storable.Bytes:
		return expandTarget(string(x))
	case storable.String:
		return expandTarget(string(x))
	}
	return protocol.Address{}, fmt.Errorf("%w: a %T", protocol.ErrBadSpecifier, target)
}

// Post sends a request to a remote state: the target is a specifier
// ("poe://Kernel/session/state"; a string not starting with "poe:" gets
// "poe://" prepended, as in Perl) and the sending session is the active
// one. With exactly one argument it is the target's ARG0 (Perl's
// IKC/post); with none or several the target receives them as ARG0..ARGn
// (via IKC:proxy). It returns the number of kernels reached.
func (r *Responder) Post(target any, args ...any) (int, error) {
	return r.post(r.k.ActiveSession(), target, args)
}

func (r *Responder) post(sender *poe.Session, target any, args []any) (int, error) {
	to, err := expandTarget(target)
	if err != nil {
		return 0, err
	}
	if to.State == "" {
		r.log.Warn("ikc: Need a state name for IKC/post", "target", to.String())
		return 0, fmt.Errorf("%w: %s", ErrNoState, to)
	}
	to, params, err := protocol.RequestParams(to, args)
	if err != nil {
		return 0, err
	}
	return r.send(&protocol.Message{Event: to, Params: params}, sender)
}

// Call sends a request whose return value is posted back to rsvp, a
// specifier of a local state ("poe:callback" names a state of the calling
// session: an empty session part becomes the caller's numeric ID, as in
// Perl). Arguments as in Post. It returns the number of kernels reached.
func (r *Responder) Call(target any, rsvp any, args ...any) (int, error) {
	return r.call(r.k.ActiveSession(), target, rsvp, args)
}

func (r *Responder) call(sender *poe.Session, target, rsvp any, args []any) (int, error) {
	to, err := expandTarget(target)
	if err != nil {
		return 0, err
	}
	if to.State == "" {
		return 0, fmt.Errorf("%w: %s", ErrNoState, to)
	}
	rs, err := expandTarget(rsvp)
	if err != nil {
		return 0, fmt.Errorf("ikc: call: rsvp: %w", err)
	}
	if rs.State == "" {
		return 0, fmt.Errorf("ikc: call: rsvp %w: %s", ErrNoState, rs)
	}
	if rs.Session == "" {
		if sender == nil || sender.IsKernel() {
			return 0, fmt.Errorf("ikc: call: rsvp %s names no session and there is no calling session", rs)
		}
		rs = protocol.NewAddress(protocol.Specifier{Kernel: rs.Kernel, Session: strconv.FormatUint(uint64(sender.ID()), 10), State: rs.State, Args: rs.Args})
	}
	to, params, err := protocol.RequestParams(to, args)
	if err != nil {
		return 0, err
	}
	return r.send(&protocol.Message{Event: to, Params: params, RSVP: &rs}, sender)
}

// replies are the Go functions of CallFunc waiting for their call's
// reply, by the reply state ("IKC:reply <n>") the call names as rsvp.
type replies struct {
	fns map[string]func(any)
	seq int
}

func newReplies() replies { return replies{fns: map[string]func(any){}} }

// add registers fn and returns its reply state.
func (p *replies) add(fn func(any)) string {
	p.seq++
	state := "IKC:reply " + strconv.Itoa(p.seq)
	p.fns[state] = fn
	return state
}

// take removes and returns the function of a reply state.
func (p *replies) take(state string) (func(any), bool) {
	fn, ok := p.fns[state]
	if ok {
		delete(p.fns, state)
	}
	return fn, ok
}

// drop forgets a reply state.
func (p *replies) drop(state string) { delete(p.fns, state) }

// reset forgets every function.
func (p *replies) reset() { p.fns = map[string]func(any){} }

// CallFunc is Call with a Go function as the reply target: fn runs (on
// the kernel's goroutine) with the reply's value. It is called at most
// once; a call that gets no reply (the target returned nil) never calls it.
func (r *Responder) CallFunc(target any, fn func(result any), args ...any) (int, error) {
	state := r.replies.add(fn)
	n, err := r.call(r.k.ActiveSession(), target, protocol.NewAddress(protocol.Specifier{Session: ResponderAlias, State: state}), args)
	if n == 0 {
		r.replies.drop(state)
	}
	return n, err
}

// evDefault dispatches replies to Go callbacks and subscription receipts.
func (r *Responder) evDefault(e *poe.Event) any {
	ev := e.String(poe.ARG0)
	args := e.Slice(poe.ARG1)
	var arg any
	if len(args) > 0 {
		arg = args[0]
	}
	if fn, ok := r.replies.take(ev); ok {
		fn(arg)
		return nil
	}
	if sub, ok := r.subs.receipt(ev); ok {
		r.receipt(ev, sub, arg)
		return nil
	}
	if !strings.HasPrefix(ev, "_") {
		r.log.Warn("ikc: unknown IKC event", "event", ev)
	}
	return nil
}

func (r *Responder) evPost(e *poe.Event) any {
	n, _ := r.post(e.Sender, e.Arg(poe.ARG0), []any{e.Arg(poe.ARG1)})
	return n
}

func (r *Responder) evCall(e *poe.Event) any {
	n, _ := r.call(e.Sender, e.Arg(poe.ARG0), e.Arg(poe.ARG2), []any{e.Arg(poe.ARG1)})
	return n
}
