package ikc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// DefaultSubscribeTimeout is how long a subscription waits for the
// remote kernel's answer before it counts as refused (Perl's 60 s):
// ResponderOptions.SubscribeTimeout and ClientOptions.SubscribeTimeout
// when zero.
const DefaultSubscribeTimeout = 60 * time.Second

// ErrLocalSubscribe: a subscription specifier names no kernel. The text is
// Perl's own.
//
//lint:ignore ST1005 the message is the one Perl's IKC gives
var ErrLocalSubscribe = errors.New("ikc: You can't subscribe to a session within the current kernel.")

// subscription is one Subscribe request: several specifiers answered
// independently, then one callback.
type subscription struct {
	session  *poe.Session
	callback string          // state of session, or ""
	fn       func([]string)  // or a Go function
	pending  map[string]bool // receipt states not answered yet
	given    map[string]string
	alarms   map[string]poe.AlarmID
	accepted []string
}

// proxy is a local stand-in for a remote session (10.7).
type proxy struct {
	spec    protocol.Specifier
	session *poe.Session
	aliases []string
}

// subscriptions are the pending subscription queries, by the receipt
// state their answer comes to, and the proxy sessions of the remote
// sessions subscribed to (10.7).
type subscriptions struct {
	receipts map[string]*subscription // receipt state -> subscription
	proxies  map[string]*proxy        // "kernel\x00session" -> proxy
}

func newSubscriptions() subscriptions {
	return subscriptions{receipts: map[string]*subscription{}, proxies: map[string]*proxy{}}
}

// receipt returns the subscription waiting for receipt state.
func (s *subscriptions) receipt(state string) (*subscription, bool) {
	sub, ok := s.receipts[state]
	return sub, ok
}

// reset forgets the pending queries.
func (s *subscriptions) reset() { s.receipts = map[string]*subscription{} }

// proxyKey is the key of the proxy of a remote session.
func proxyKey(s protocol.Specifier) string { return s.Kernel + "\x00" + s.Session }

// Subscribe asks remote kernels for their published sessions and creates
// a local proxy session for each one accepted: posting E(args...) to the
// proxy ("poe://Kernel/session", or "session" if that alias was free)
// sends E to the remote session. callback is a state name of the active
// session or a func([]string); it runs once every specifier was answered,
// with the accepted ones (as given). Monitors get subscribe, or error
// subscribe for the refused ones.
func (r *Responder) Subscribe(specs []string, callback any) error {
	return r.subscribe(r.k.ActiveSession(), specs, callback, r.subscribeTimeout)
}

// subscribe is Subscribe on behalf of sender; an answer that takes longer
// than timeout counts as a refusal.
func (r *Responder) subscribe(sender *poe.Session, specs []string, callback any, timeout time.Duration) error {
	sub := &subscription{
		session: sender, pending: map[string]bool{},
		given: map[string]string{}, alarms: map[string]poe.AlarmID{},
	}
	cbText := ""
	switch cb := callback.(type) {
	case string:
		sub.callback, cbText = cb, cb
	case func([]string):
		sub.fn = cb
		cbText = fmt.Sprintf("CODE(%p)", cb)
	case nil:
	default:
		return fmt.Errorf("ikc: subscribe: callback is a %T, want a state name or func([]string)", callback)
	}
	type item struct {
		given, receipt string
		spec           protocol.Specifier
	}
	var items []item
	for _, given := range specs {
		a, err := expandTarget(given)
		if err != nil {
			return err
		}
		if a.Kernel == "" {
			return ErrLocalSubscribe
		}
		receipt := "IKC:receipt " + strconv.FormatUint(uint64(sender.ID()), 10) + " " + cbText + given
		items = append(items, item{given, receipt, a.Specifier})
		sub.pending[receipt] = true
		sub.given[receipt] = given
		r.subs.receipts[receipt] = sub
	}
	for _, it := range items {
		m := &protocol.Message{
			Event:  protocol.NewAddress(protocol.Specifier{Kernel: it.spec.Kernel, Session: ResponderAlias, State: "do_you_have"}),
			Params: storable.NewArray(protocol.Specifier{Kernel: it.spec.Kernel, Session: it.spec.Session, State: it.spec.State}.Hash(), protocol.StringValue(r.kernelID)),
			From:   &protocol.Address{Specifier: protocol.Specifier{Kernel: r.kernelID, Session: ResponderAlias}},
			RSVP:   &protocol.Address{Specifier: protocol.Specifier{Kernel: r.kernelID, Session: ResponderAlias, State: it.receipt}},
		}
		n, err := r.send(m, nil)
		if n == 0 {
			text := "Unknown kernel " + it.spec.Kernel
			if err != nil && !errors.Is(err, ErrUnknownKernel) {
				text = err.Error()
			}
			r.inform("error", "*", false, "subscribe", text)
			r.answered(it.receipt, sub, false)
			continue
		}
		r.session.Do(func() {
			id, err := r.k.DelaySet("IKC:timeout", timeout, it.receipt)
			if err == nil {
				sub.alarms[it.receipt] = id
			}
		})
	}
	return nil
}

// receipt handles the answer to a do_you_have query.
func (r *Responder) receipt(state string, sub *subscription, arg any) {
	list, _ := arg.([]any)
	var spec map[string]any
	if len(list) > 0 {
		spec, _ = list[0].(map[string]any)
	}
	if spec == nil || spec["session"] == nil {
		text := fmt.Sprint(arg)
		if s, ok := arg.(string); ok {
			text = s
		}
		r.inform("error", "*", false, "subscribe", text)
		r.answered(state, sub, false)
		return
	}
	s := protocol.Specifier{Kernel: fmt.Sprint(spec["kernel"]), Session: fmt.Sprint(spec["session"])}
	if st, ok := spec["state"].(string); ok {
		s.State = st
	}
	r.makeProxy(s)
	rid := s.Kernel
	if len(list) > 1 {
		rid = fmt.Sprint(list[1])
	}
	real := r.kernels.connected(rid)
	r.inform("subscribe", rid, real, spec)
	r.answered(state, sub, true)
}

func (r *Responder) evReceiptTimeout(e *poe.Event) any {
	state := e.String(poe.ARG0)
	sub, ok := r.subs.receipt(state)
	if !ok {
		return nil
	}
	delete(sub.alarms, state)
	r.inform("error", "*", false, "subscribe", "Refused subscription to "+sub.given[state])
	r.answered(state, sub, false)
	return nil
}

// answered records one answer; the callback runs after the last.
func (r *Responder) answered(state string, sub *subscription, ok bool) {
	if !sub.pending[state] {
		return
	}
	delete(sub.pending, state)
	delete(r.subs.receipts, state)
	if id, has := sub.alarms[state]; has {
		r.session.Do(func() { r.k.AlarmRemove(id) })
		delete(sub.alarms, state)
	}
	if ok {
		sub.accepted = append(sub.accepted, sub.given[state])
	}
	if len(sub.pending) > 0 {
		return
	}
	accepted := append([]string{}, sub.accepted...)
	switch {
	case sub.fn != nil:
		sub.fn(accepted)
	case sub.callback != "" && sub.session.Alive():
		r.k.Post(sub.session, sub.callback, accepted)
	}
}

// makeProxy creates the proxy session of a remote session unless it
// exists.
func (r *Responder) makeProxy(s protocol.Specifier) {
	key := proxyKey(s)
	if p := r.subs.proxies[key]; p != nil && p.session.Alive() {
		return
	}
	p := &proxy{spec: protocol.Specifier{Kernel: s.Kernel, Session: s.Session, State: s.State}}
	r.session.Do(func() {
		p.session, _ = r.k.Create(poe.Spec{Heap: p, Inline: map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				for _, a := range []string{"poe://" + s.Kernel + "/" + s.Session, s.Session} {
					if e.Kernel.AliasResolve(a) == nil && e.Kernel.AliasSet(a) == nil {
						p.aliases = append(p.aliases, a)
					}
				}
				return nil
			},
			"_default": func(e *poe.Event) any {
				ev := e.String(poe.ARG0)
				if strings.HasPrefix(ev, "_") || r.shut {
					return nil
				}
				vals := make([]storable.Value, 0, len(e.Slice(poe.ARG1)))
				for _, a := range e.Slice(poe.ARG1) {
					v, err := protocol.ToValue(a)
					if err != nil {
						r.log.Warn("ikc: proxy: cannot send", "event", ev, "err", err)
						return nil
					}
					vals = append(vals, v)
				}
				r.send(&protocol.Message{
					Event:  protocol.NewAddress(protocol.Specifier{Kernel: p.spec.Kernel, Session: p.spec.Session, State: protocol.ProxyState}),
					Params: storable.NewArray(protocol.StringValue(ev), &storable.Array{Elems: vals}),
				}, e.Sender)
				return nil
			},
		}})
	})
	if p.session != nil {
		r.subs.proxies[key] = p
	}
}

// dropProxy removes a proxy's aliases (it then ends) and tells monitors.
func (r *Responder) dropProxy(key string, p *proxy) {
	delete(r.subs.proxies, key)
	if p.session.Alive() {
		p.session.Do(func() {
			for _, a := range p.aliases {
				r.k.AliasRemove(a)
			}
		})
	}
	id, ok := r.kernels.id(p.spec.Kernel)
	if !ok {
		id = p.spec.Kernel
	}
	real := r.kernels.connected(id)
	r.inform("unsubscribe", id, real, map[string]any{"kernel": p.spec.Kernel, "session": p.spec.Session, "state": p.spec.State})
}

// dropProxies drops the proxies of remote sessions of the given kernels
// (all when names is nil).
func (r *Responder) dropProxies(names []string) {
	for key, p := range r.subs.proxies {
		if names == nil || contains(names, p.spec.Kernel) {
			r.dropProxy(key, p)
		}
	}
}

// Unsubscribe removes the proxies of the given specifiers (purely local).
func (r *Responder) Unsubscribe(specs ...string) {
	for _, given := range specs {
		a, err := expandTarget(given)
		if err != nil {
			continue
		}
		key := proxyKey(a.Specifier)
		if p := r.subs.proxies[key]; p != nil {
			r.dropProxy(key, p)
		}
	}
}

func (r *Responder) evSubscribe(e *poe.Event) any {
	if err := r.subscribe(e.Sender, stringList(e.Arg(poe.ARG0)), e.Arg(poe.ARG1), r.subscribeTimeout); err != nil {
		r.log.Warn("ikc: subscribe", "err", err)
		return false
	}
	return true
}

func (r *Responder) evUnsubscribe(e *poe.Event) any {
	r.Unsubscribe(stringList(e.Arg(poe.ARG0))...)
	return nil
}

// evDoYouHave answers a subscription query (10.7).
func (r *Responder) evDoYouHave(e *poe.Event) any {
	p := e.Slice(poe.ARG0)
	if len(p) == 0 {
		return "Refused subscription"
	}
	v, err := protocol.ToValue(p[0])
	if err != nil {
		return "Refused subscription"
	}
	spec, err := protocol.SpecifierFromValue(v)
	if err != nil {
		return fmt.Sprintf("Bad state %v", p[0])
	}
	if r.pubs.has(spec.Session) && (spec.State == "" || r.pubs.hasState(spec.Session, spec.State)) {
		if spec.Kernel == "" {
			spec.Kernel = r.kernelID
		}
		return []any{map[string]any{"kernel": spec.Kernel, "session": spec.Session, "state": spec.State}, r.kernelID}
	}
	return "Refused subscription " + spec.String()
}
