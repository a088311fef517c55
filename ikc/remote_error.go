package ikc

import (
	"fmt"
	"os"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// reportError sends an error report about a request refused here to
// IKC/remote_error of kernel rid: [text, kernel, phase], as 0.2402 does
// (kernel undef when the request had no valid event).
func (r *Responder) reportError(rid, text string, kernel storable.Value, phase string) {
	errorsTo := protocol.NewAddress(protocol.Specifier{Kernel: rid, Session: ResponderAlias, State: "remote_error"})
	reply := &protocol.Message{
		Event:   errorsTo,
		Params:  storable.NewArray(protocol.StringValue(text), kernel, protocol.StringValue(phase)),
		IsError: true,
	}
	r.send(reply, nil)
}

// evRemoteError handles IKC/remote_error: an error report from a peer.
func (r *Responder) evRemoteError(e *poe.Event) any {
	switch p := e.Arg(poe.ARG0).(type) {
	case []any:
		text, kernel, phase := "", "*", ""
		if len(p) > 0 {
			text = fmt.Sprint(p[0])
		}
		if len(p) > 1 && p[1] != nil && fmt.Sprint(p[1]) != "" {
			kernel = fmt.Sprint(p[1])
		}
		if len(p) > 2 {
			phase = fmt.Sprint(p[2])
		}
		if !r.monitors.has("error", kernel) {
			r.logs.warn(fmt.Sprintf("%d: Remote error", os.Getpid()), "remote-"+phase, kernel, text)
		}
		r.inform("error", kernel, false, "remote-"+phase, text)
	default:
		text := fmt.Sprint(p)
		if !r.monitors.has("error", "*") {
			r.logs.warn(fmt.Sprintf("%d: Remote error", os.Getpid()), "remote", "*", text)
		}
		r.inform("error", "*", false, "remote", text)
	}
	return nil
}
