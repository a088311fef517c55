package ikc

import (
	"fmt"

	"github.com/poe-go/poe/poe"
)

func responderFor(k *poe.Kernel) (*Responder, error) {
	r := ResponderOf(k)
	if r == nil || r.shut {
		return nil, ErrNoResponder
	}
	return r, nil
}

// Post sends a request to a remote (or local) state on behalf of the
// active session; see Responder.Post.
func Post(k *poe.Kernel, target any, args ...any) (int, error) {
	r, err := responderFor(k)
	if err != nil {
		return 0, err
	}
	return r.Post(target, args...)
}

// Call sends a request whose return value is posted to rsvp; see
// Responder.Call.
func Call(k *poe.Kernel, target any, rsvp any, args ...any) (int, error) {
	r, err := responderFor(k)
	if err != nil {
		return 0, err
	}
	return r.Call(target, rsvp, args...)
}

// CallFunc sends a request whose return value is given to fn; see
// Responder.CallFunc.
func CallFunc(k *poe.Kernel, target any, fn func(result any), args ...any) (int, error) {
	r, err := responderFor(k)
	if err != nil {
		return 0, err
	}
	return r.CallFunc(target, fn, args...)
}

// Publish makes states of a session invocable by remote kernels; it
// spawns the responder if needed. See Responder.Publish.
func Publish(k *poe.Kernel, session any, states ...string) error {
	r, err := Spawn(k, nil)
	if err != nil {
		return err
	}
	return r.Publish(session, states...)
}

// Retract withdraws published states; see Responder.Retract.
func Retract(k *poe.Kernel, session any, states ...string) error {
	r, err := responderFor(k)
	if err != nil {
		return err
	}
	return r.Retract(session, states...)
}

// Monitor registers the active session's callbacks about kernel name;
// see Responder.Monitor.
func Monitor(k *poe.Kernel, name string, ops map[string]string, data any) error {
	r, err := Spawn(k, nil)
	if err != nil {
		return err
	}
	r.Monitor(k.ActiveSession(), name, ops, data)
	return nil
}

// Shutdown ends IKC in the kernel; see Responder.Shutdown.
func Shutdown(k *poe.Kernel) {
	if r := ResponderOf(k); r != nil {
		r.Shutdown()
	}
}

// Subscribe subscribes to remote sessions on behalf of the active
// session; see Responder.Subscribe.
func Subscribe(k *poe.Kernel, specs []string, callback any) error {
	r, err := responderFor(k)
	if err != nil {
		return err
	}
	return r.Subscribe(specs, callback)
}

// Unsubscribe removes proxy sessions; see Responder.Unsubscribe.
func Unsubscribe(k *poe.Kernel, specs ...string) {
	if r := ResponderOf(k); r != nil {
		r.Unsubscribe(specs...)
	}
}

func stringList(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{x}
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, s := range x {
			out = append(out, fmt.Sprint(s))
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

func contains(list []string, s string) bool { return indexOf(list, s) >= 0 }

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
