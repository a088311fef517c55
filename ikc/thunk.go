package ikc

import (
	"container/list"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// DefaultMaxThunks is ResponderOptions.MaxThunks when zero: how many
// thunks the senders of one connected kernel may have at once. The from of
// a request is whatever the peer writes, so without a bound each request
// claiming another sender would leave a session behind.
const DefaultMaxThunks = 256

// DefaultThunkIdle is ResponderOptions.ThunkIdle when zero: a thunk that
// served no request for this long is let go.
const DefaultThunkIdle = 5 * time.Minute

// thunks are the sessions that stand for remote senders (10.5): the
// SENDER of a request invoked here is the current thunk of the session
// that sent it, and what is posted to a thunk goes back to that session.
//
// They are kept per connected kernel (the one the request came over) and
// sender, at most max per kernel: the least recently used goes first. One
// unused for idle goes at the next sweep, or at the next request after
// its time when no sweep runs.
type thunks struct {
	k    *poe.Kernel
	max  int
	idle time.Duration
	now  func() time.Time

	byKey    map[thunkKey]*thunk
	byKernel map[string]*list.List // rid -> its thunks, most recent first
	evicted  uint64                // let go by the cap or idle
	sweeping bool                  // the sweep alarm is set
}

// thunkKey names a remote sender as seen from one connection: the kernel
// the requests came from and from's kernel, session and state (empty for
// anonymous senders).
type thunkKey struct {
	rid                    string
	kernel, session, state string
}

// thunk is one current thunk.
type thunk struct {
	key     thunkKey
	session *poe.Session
	used    time.Time
	elem    *list.Element
}

func newThunks(k *poe.Kernel, max int, idle time.Duration) thunks {
	if max == 0 {
		max = DefaultMaxThunks
	}
	if idle <= 0 {
		idle = DefaultThunkIdle
	}
	// The kernel's cached clock: a lookup per request reads no clock.
	return thunks{k: k, max: max, idle: idle, now: k.ClockNow,
		byKey: map[thunkKey]*thunk{}, byKernel: map[string]*list.List{}}
}

type thunkHeap struct {
	r    *Responder
	from *protocol.Address
}

// keyOf is a thunk's key; its strings may point into a request's payload
// (clone them before keeping the key: cloned).
func keyOf(rid string, from *protocol.Address) thunkKey {
	if from == nil {
		return thunkKey{rid: rid}
	}
	return thunkKey{rid: rid, kernel: from.Kernel, session: from.Session, state: from.State}
}

// cloned is k with copies of its strings.
func (k thunkKey) cloned() thunkKey {
	return thunkKey{strings.Clone(k.rid), strings.Clone(k.kernel), strings.Clone(k.session), strings.Clone(k.state)}
}

// count returns how many thunks are current.
func (t *thunks) count() int { return len(t.byKey) }

// release drops the responder's hold (its alias) on a thunk.
func (t *thunks) release(s *poe.Session) {
	if s.Alive() {
		s.Do(func() { t.k.AliasRemove(thunkAlias(s)) })
	}
}

// forget removes a thunk from the tables and releases it.
func (t *thunks) forget(th *thunk) {
	delete(t.byKey, th.key)
	if l := t.byKernel[th.key.rid]; l != nil {
		l.Remove(th.elem)
		if l.Len() == 0 {
			delete(t.byKernel, th.key.rid)
		}
	}
	t.release(th.session)
}

// drop releases the thunks serving the given kernels: those that came
// over their connections, and those whose senders they are (all when
// names is nil).
func (t *thunks) drop(names []string) {
	for _, th := range t.byKey {
		h, _ := th.session.Heap().(*thunkHeap)
		if names == nil || contains(names, th.key.rid) || h != nil && h.from != nil && contains(names, h.from.Kernel) {
			t.forget(th)
		}
	}
}

// expire lets go of the thunks idle for too long.
func (t *thunks) expire(now time.Time) {
	for _, l := range t.byKernel {
		for e := l.Back(); e != nil; {
			th := e.Value.(*thunk)
			if now.Sub(th.used) < t.idle {
				break
			}
			e = e.Prev()
			t.forget(th)
			t.evicted++
		}
	}
}

// lookup returns the current thunk of a sender, marked as used now.
func (t *thunks) lookup(key thunkKey, now time.Time) *thunk {
	th := t.byKey[key]
	if th == nil {
		return nil
	}
	if !th.session.Alive() {
		t.forget(th)
		return nil
	}
	th.used = now
	t.byKernel[key.rid].MoveToFront(th.elem)
	return th
}

// add records s as the current thunk of a sender, letting go of the
// kernel's least recently used one beyond the cap.
func (t *thunks) add(key thunkKey, s *poe.Session, now time.Time) {
	l := t.byKernel[key.rid]
	if l == nil {
		l = list.New()
		t.byKernel[key.rid] = l
	}
	for t.max > 0 && l.Len() >= t.max {
		t.forget(l.Back().Value.(*thunk))
		t.evicted++
	}
	th := &thunk{key: key, session: s, used: now}
	th.elem = l.PushFront(th)
	t.byKey[key] = th
}

// thunkFor returns the session that is SENDER of a request from sender
// from that came from kernel rid: the current thunk for that remote
// sender, unless application code holds a reference on it (then a fresh
// one). Thunks are kept per remote sender so that answers posted later
// never go to another sender.
func (r *Responder) thunkFor(rid string, from *protocol.Address) *poe.Session {
	now := r.thunks.now()
	key := keyOf(rid, from)
	if th := r.thunks.lookup(key, now); th != nil {
		if th.session.ExtraRefTags() == 0 {
			return th.session
		}
		// Held by the application: it keeps serving that sender until
		// released.
		r.thunks.forget(th)
	}
	r.thunks.expire(now)
	var fromCopy *protocol.Address
	if from != nil {
		// Copies: the strings point into the request's payload, which the
		// thunk would otherwise keep for as long as it lives.
		sp := from.Specifier
		sp.Kernel, sp.Session, sp.State, sp.Args = strings.Clone(sp.Kernel), strings.Clone(sp.Session), strings.Clone(sp.State), strings.Clone(sp.Args)
		a := protocol.NewAddress(sp)
		fromCopy = &a
	}
	h := &thunkHeap{r: r, from: fromCopy}
	var s *poe.Session
	r.session.Do(func() {
		s, _ = r.k.Create(poe.Spec{Heap: h, Inline: map[string]poe.Handler{
			"_start":   func(e *poe.Event) any { e.Kernel.AliasSet(thunkAlias(e.Session)); return nil },
			"_default": thunkDefault,
		}})
	})
	r.thunks.add(key.cloned(), s, now)
	r.armThunkSweep()
	return s
}

// armThunkSweep sets the sweep alarm while thunks of connected kernels
// exist; those of local senders (and anonymous ones) never hold the
// kernel up, as the sweep would.
func (r *Responder) armThunkSweep() {
	if r.thunks.sweeping || r.shut {
		return
	}
	for rid := range r.thunks.byKernel {
		if rid != r.kernelID {
			r.thunks.sweeping = true
			r.session.Do(func() { r.k.Delay("IKC:thunk_sweep", r.thunks.idle/2+time.Millisecond) })
			return
		}
	}
}

// evThunkSweep lets idle thunks go and sets the next sweep.
func (r *Responder) evThunkSweep(e *poe.Event) any {
	r.thunks.sweeping = false
	r.thunks.expire(r.thunks.now())
	r.armThunkSweep()
	return nil
}

func thunkAlias(s *poe.Session) string { return "IKC:thunk " + strconv.FormatUint(uint64(s.ID()), 10) }

// thunkDefault forwards an event posted to a thunk to the remote sender
// of the request it served.
func thunkDefault(e *poe.Event) any {
	th := e.Heap.(*thunkHeap)
	ev := e.String(poe.ARG0)
	if strings.HasPrefix(ev, "_") {
		return nil
	}
	args := e.Slice(poe.ARG1)
	r := th.r
	if r.shut {
		return nil
	}
	if th.from == nil {
		r.logs.warn("ikc: thunk", "anonymous", "", fmt.Sprintf("Attempt to respond to an anonymous foreign post with '%s'", ev))
		return nil
	}
	vals := make([]storable.Value, len(args))
	for i, a := range args {
		v, err := protocol.ToValue(a)
		if err != nil {
			r.logs.warn("ikc: cannot forward to the remote sender", "convert", th.from.Kernel, fmt.Sprintf("event %s: %v", ev, err))
			return nil
		}
		vals[i] = v
	}
	var m *protocol.Message
	if th.from.State != "" {
		m = &protocol.Message{Event: *th.from, Params: storable.NewArray(protocol.StringValue(ev), &storable.Array{Elems: vals})}
	} else {
		m = &protocol.Message{
			Event:  protocol.NewAddress(protocol.Specifier{Kernel: th.from.Kernel, Session: th.from.Session, State: ev}),
			Params: &storable.Array{Elems: vals},
		}
	}
	r.send(m, e.Sender)
	return nil
}
