package ikc

import (
	"fmt"
	"strconv"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
)

// publications are what remote kernels may invoke here (10.2): the
// published states by session name, and the reply allowances of calls
// sent from here (a call's rsvp state may be invoked once per kernel the
// call reached, published or not).
type publications struct {
	states map[string][]string // session name -> published states
	rsvp   map[[2]string]int   // (session, state) -> replies allowed
}

func newPublications() publications {
	return publications{
		states: map[string][]string{protocol.ResponderAlias: {"remote_error", "do_you_have", "ping"}},
		rsvp:   map[[2]string]int{},
	}
}

// publish adds states to session name n.
func (p *publications) publish(n string, states []string) {
	list := p.states[n]
	for _, st := range states {
		if !contains(list, st) {
			list = append(list, st)
		}
	}
	p.states[n] = list
}

// retract removes states of session name n, or all of them when none
// are given; it returns the last one that was not published.
func (p *publications) retract(n string, states []string) error {
	list, ok := p.states[n]
	if !ok {
		return fmt.Errorf("%w: session %q", ErrNotPublished, n)
	}
	if len(states) == 0 {
		delete(p.states, n)
		return nil
	}
	var err error
	for _, st := range states {
		i := indexOf(list, st)
		if i < 0 {
			err = fmt.Errorf("%w: state %q of session %q", ErrNotPublished, st, n)
			continue
		}
		list = append(list[:i:i], list[i+1:]...)
	}
	if len(list) == 0 {
		delete(p.states, n)
	} else {
		p.states[n] = list
	}
	return err
}

// of returns the states published for session name n.
func (p *publications) of(n string) []string { return p.states[n] }

// has reports whether session name n publishes anything.
func (p *publications) has(n string) bool { return p.states[n] != nil }

// hasState reports whether state is published for session name n.
func (p *publications) hasState(n, state string) bool { return contains(p.states[n], state) }

// all returns a copy of every publication.
func (p *publications) all() map[string][]string {
	out := make(map[string][]string, len(p.states))
	for n, l := range p.states {
		out[n] = append([]string(nil), l...)
	}
	return out
}

func rsvpKey(s protocol.Specifier) [2]string { return [2]string{s.Session, s.State} }

// allow lets one more reply invoke key.
func (p *publications) allow(key [2]string) { p.rsvp[key]++ }

// allowed reports whether a reply may invoke key.
func (p *publications) allowed(key [2]string) bool { return p.rsvp[key] > 0 }

// spend uses up one allowance of key.
func (p *publications) spend(key [2]string) {
	if p.rsvp[key] <= 1 {
		delete(p.rsvp, key)
	} else {
		p.rsvp[key]--
	}
}

// sessionNames returns the names a session is published under: its
// aliases, or its numeric ID when it has none. A string is used as given.
func (r *Responder) sessionNames(s any) []string {
	switch x := s.(type) {
	case string:
		return []string{x}
	case *poe.Session:
		if a := x.Aliases(); len(a) > 0 {
			return a
		}
		return []string{strconv.FormatUint(uint64(x.ID()), 10)}
	case poe.SessionID:
		if ss, err := r.k.IDToSession(x); err == nil {
			return r.sessionNames(ss)
		}
		return []string{strconv.FormatUint(uint64(x), 10)}
	case int:
		return r.sessionNames(poe.SessionID(x))
	case nil:
		return nil
	}
	return []string{fmt.Sprint(s)}
}

// Publish makes states of a session invocable by remote kernels. session
// is a *poe.Session (every alias gets the states; a session without
// aliases is published under its numeric ID), a poe.SessionID, or a name
// recorded as given.
func (r *Responder) Publish(session any, states ...string) error {
	names := r.sessionNames(session)
	if len(names) == 0 {
		return fmt.Errorf("ikc: publish: no session given")
	}
	for _, n := range names {
		r.pubs.publish(n, states)
	}
	return nil
}

// Retract removes published states of a session, or all of them when
// none are given. Retracting what was never published is an error
// (ErrNotPublished). Subscribed remote kernels are not told.
func (r *Responder) Retract(session any, states ...string) error {
	var err error
	for _, n := range r.sessionNames(session) {
		if e := r.pubs.retract(n, states); e != nil {
			err = e
		}
	}
	if err != nil {
		r.log.Warn(err.Error())
	}
	return err
}

// Published returns the states published for a session name.
func (r *Responder) Published(session any) []string {
	var out []string
	for _, n := range r.sessionNames(session) {
		out = append(out, r.pubs.of(n)...)
	}
	return out
}

// PublishedAll returns every published session with its states,
// including IKC's own.
func (r *Responder) PublishedAll() map[string][]string { return r.pubs.all() }

func (r *Responder) evPublish(e *poe.Event) any {
	return r.Publish(e.Arg(poe.ARG0), stringList(e.Arg(poe.ARG1))...) == nil
}

func (r *Responder) evRetract(e *poe.Event) any {
	return r.Retract(e.Arg(poe.ARG0), stringList(e.Arg(poe.ARG1))...) == nil
}

func (r *Responder) evPublished(e *poe.Event) any {
	if e.Arg(poe.ARG0) == nil {
		return r.PublishedAll()
	}
	return r.Published(e.Arg(poe.ARG0))
}
