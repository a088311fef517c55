package ikc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// request is one incoming request being dispatched (10.1): what it asks
// for, and where an error report about it goes.
type request struct {
	msg      *protocol.Message
	to       protocol.Specifier // the target, its state taken from IKC:proxy params
	rid      string             // the kernel it came from
	badEvent bool               // its event was missing or invalid
}

// inbox is receive's scratch, reused for every request.
type inbox struct {
	arg1  [1]any         // the arguments of a plain request
	boxed map[string]any // session name -> itself boxed (boxedName)
}

func newInbox() inbox { return inbox{boxed: map[string]any{}} }

// done drops the references of the last request.
func (in *inbox) done() { in.arg1[0] = nil }

// receive processes one request that arrived from kernel rid (the local
// kernel ID for local deliveries): decode its arguments, check it is
// allowed, resolve the target session, invoke the state and reply to a
// call. decodeErr is DecodeMessage's error: a message with a bad event is
// treated as addressed to the empty specifier.
func (r *Responder) receive(msg *protocol.Message, decodeErr error, rid string) {
	if r.shut {
		return
	}
	q := request{msg: msg, to: msg.Event.Specifier, rid: rid}
	if decodeErr != nil {
		var me *protocol.MessageError
		if errors.As(decodeErr, &me) && me.Key == protocol.KeyEvent {
			q.to = protocol.Specifier{}
			q.badEvent = true
		}
	}
	args, ok := r.requestArgs(&q)
	if !ok {
		return
	}
	defer r.in.done()
	if !r.check(&q) {
		return
	}
	if q.to.Args != "" {
		args = append(args, q.to.Args)
	}
	target := r.resolveSession(q.to.Session)
	if target == nil {
		r.fail(&q, "resolve", fmt.Sprintf("Unknown session '%s'", q.to.Session))
		return
	}
	ret, err := r.invoke(&q, target, args)
	if err != nil {
		r.fail(&q, "invocation", err.Error())
		return
	}
	r.reply(&q, target, ret)
}

// requestArgs returns the arguments the target state gets: the params of
// a plain request as ARG0, or those of an IKC:proxy request as ARG0..ARGn
// (q.to.State becomes the state the proxy params name).
func (r *Responder) requestArgs(q *request) ([]any, bool) {
	if q.to.State != protocol.ProxyState {
		args := r.in.arg1[:1:1]
		args[0] = protocol.FromValue(q.msg.Params)
		return args, true
	}
	a, ok := q.msg.Params.(*storable.Array)
	var st string
	var inner *storable.Array
	if ok && len(a.Elems) >= 1 {
		st, _ = storable.Text(a.Elems[0])
		if len(a.Elems) >= 2 {
			inner, _ = a.Elems[1].(*storable.Array)
		} else {
			inner = &storable.Array{}
		}
	}
	if st == "" || inner == nil {
		r.fail(q, "request", "IKC:proxy needs params [state, [arguments]]")
		return nil, false
	}
	q.to.State = st
	args := make([]any, len(inner.Elems))
	for i, v := range inner.Elems {
		args[i] = protocol.FromValue(v)
	}
	return args, true
}

// check lets through a reply to a call sent from here (one per kernel
// the call reached) and requests for published states.
func (r *Responder) check(q *request) bool {
	key := rsvpKey(q.to)
	switch {
	case r.pubs.allowed(key):
		r.pubs.spend(key)
	case !r.pubs.has(q.to.Session):
		r.fail(q, "check", fmt.Sprintf("Session '%s' is not available for remote kernels", q.to.Session))
		return false
	case !r.pubs.hasState(q.to.Session, q.to.State):
		r.fail(q, "check", fmt.Sprintf("Session '%s' has not published state '%s'", q.to.Session, q.to.State))
		return false
	}
	return true
}

// invoke calls the target state with the remote sender's thunk as SENDER.
func (r *Responder) invoke(q *request, target *poe.Session, args []any) (any, error) {
	thunk := r.thunkFor(q.rid, q.msg.From)
	state := q.to.State
	var ret any
	var callErr error
	thunk.Do(func() { ret, callErr = r.k.Call(target, state, args...) })
	return ret, callErr
}

// reply sends a call's return value to its rsvp: none for undef (or an
// empty list in list context), as Perl.
func (r *Responder) reply(q *request, target *poe.Session, ret any) {
	msg := q.msg
	if msg.RSVP == nil {
		return
	}
	var params storable.Value
	if msg.WantList() {
		list := listOf(ret)
		if len(list) == 0 {
			return
		}
		v, err := protocol.ToValue(list)
		if err != nil {
			r.fail(q, "invocation", err.Error())
			return
		}
		params = v
	} else {
		if ret == nil {
			return // undef: no reply (testdata/ikc/captures/d-call-rsvp)
		}
		v, err := protocol.ToValue(ret)
		if err != nil {
			r.fail(q, "invocation", err.Error())
			return
		}
		params = v
	}
	if _, err := r.send(&protocol.Message{Event: *msg.RSVP, Params: params}, target); err != nil {
		r.logs.warn("ikc: reply not sent", "reply", q.rid, fmt.Sprintf("rsvp %s: %v", msg.RSVP.String(), err))
	}
}

// fail refuses a request in a phase (request, check, resolve,
// invocation): monitors of its kernel (or "*") get an error, and unless
// the request was an error report itself, its sender gets one.
func (r *Responder) fail(q *request, phase, text string) {
	text = strings.TrimSuffix(text, "\n") + ".  Request " + q.to.String()
	if q.msg.From != nil {
		text += " sent by " + q.msg.From.String()
	}
	mk := q.to.Kernel
	if mk == "" {
		mk = "*"
	}
	r.stats.refusedRequests++
	if !r.monitors.has("error", mk) {
		r.logs.warn("ikc: refused a request", "local-"+phase, q.rid, text)
	}
	r.inform("error", mk, false, "local-"+phase, text)
	if q.msg.IsError {
		return
	}
	var rkernel storable.Value = protocol.StringValue(q.to.Kernel)
	if q.badEvent {
		rkernel = storable.Undef{}
	}
	r.reportError(q.rid, text, rkernel, phase)
}

// listOf makes a handler's return value a list (wantarray calls).
func listOf(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return []any{v}
}

// boxedName returns name as an any for AliasResolve, boxed once per name
// (session names of incoming requests repeat).
func (r *Responder) boxedName(name string) any {
	if v, ok := r.in.boxed[name]; ok {
		return v
	}
	if len(r.in.boxed) >= 256 {
		clear(r.in.boxed)
	}
	name = strings.Clone(name) // not the frame's payload, which it would pin
	var v any = name
	r.in.boxed[name] = v
	return v
}

// resolveSession finds a local session by alias or numeric ID.
func (r *Responder) resolveSession(name string) *poe.Session {
	if name == "" {
		return nil
	}
	if allDigits(name) {
		id, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			return nil
		}
		s, err := r.k.IDToSession(poe.SessionID(id))
		if err != nil {
			return nil
		}
		return s
	}
	s := r.k.AliasResolve(r.boxedName(name))
	if s == nil || s.IsKernel() {
		return nil
	}
	return s
}

// allDigits reports whether s is a non-empty run of ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// evLocal receives a message sent to the local kernel (sendLocal).
func (r *Responder) evLocal(e *poe.Event) any {
	msg, _ := e.Arg(poe.ARG0).(*protocol.Message)
	err, _ := e.Arg(poe.ARG1).(error)
	if msg != nil {
		r.receive(msg, err, r.kernelID)
	}
	return nil
}
