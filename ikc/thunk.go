package ikc

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// thunks are the sessions that stand for remote senders (10.5): the
// SENDER of a request invoked here is the current thunk of the session
// that sent it, and what is posted to a thunk goes back to that session.
type thunks struct {
	k        *poe.Kernel
	bySender map[string]*poe.Session // "kernel\x00session\x00state" of from -> current thunk
}

func newThunks(k *poe.Kernel) thunks {
	return thunks{k: k, bySender: map[string]*poe.Session{}}
}

type thunkHeap struct {
	r    *Responder
	from *protocol.Address
}

// thunkKey is the key of a remote sender ("" for an anonymous one).
func thunkKey(from *protocol.Address) string {
	if from == nil {
		return ""
	}
	return from.Kernel + "\x00" + from.Session + "\x00" + from.State
}

// release drops the responder's hold (its alias) on a thunk.
func (t *thunks) release(s *poe.Session) {
	if s.Alive() {
		s.Do(func() { t.k.AliasRemove(thunkAlias(s)) })
	}
}

// drop releases the thunks serving senders of the given kernels (all
// when names is nil).
func (t *thunks) drop(names []string) {
	for key, s := range t.bySender {
		th, _ := s.Heap().(*thunkHeap)
		if names == nil || th != nil && th.from != nil && contains(names, th.from.Kernel) {
			t.release(s)
			delete(t.bySender, key)
		}
	}
}

// thunkFor returns the session that is SENDER of an incoming request:
// the current thunk for that remote sender, unless application code holds
// a reference on it (then a fresh one). Thunks are kept per remote sender
// so that answers posted later never go to another sender.
func (r *Responder) thunkFor(from *protocol.Address) *poe.Session {
	key := thunkKey(from)
	if t := r.thunks.bySender[key]; t != nil && t.Alive() {
		if t.ExtraRefTags() == 0 {
			return t
		}
		// Held by the application: it keeps serving that sender until
		// released.
		r.thunks.release(t)
	}
	var fromCopy *protocol.Address
	if from != nil {
		a := protocol.NewAddress(from.Specifier)
		fromCopy = &a
	}
	th := &thunkHeap{r: r, from: fromCopy}
	var s *poe.Session
	r.session.Do(func() {
		s, _ = r.k.Create(poe.Spec{Heap: th, Inline: map[string]poe.Handler{
			"_start":   func(e *poe.Event) any { e.Kernel.AliasSet(thunkAlias(e.Session)); return nil },
			"_default": thunkDefault,
		}})
	})
	r.thunks.bySender[key] = s
	return s
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
		r.log.Warn(fmt.Sprintf("Attempt to respond to an anonymous foreign post with '%s'", ev))
		return nil
	}
	vals := make([]storable.Value, len(args))
	for i, a := range args {
		v, err := protocol.ToValue(a)
		if err != nil {
			r.log.Warn("ikc: cannot forward to the remote sender", "event", ev, "err", err)
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
