package ikc

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/wheel/filter"
	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// ErrFrameRefused: a frame from a peer did not decode, was not a hash, or
// was over a decoding budget (Limits). The peer is told, the error monitors
// hear of it (channel-read), and the connection is closed.
var ErrFrameRefused = errors.New("ikc: frame refused")

// frameThawer is the Reference filter's serializer for a channel: it keeps
// the error of the last frame that did not thaw, so that the channel can
// tell a refused frame from a broken connection. For Storable it reuses
// one Decoder for every frame, since input has converted a frame's values
// (FromValue, strings) before the next one is thawed.
type frameThawer struct {
	freezer.Freezer
	dec *storable.Decoder // Storable only
	err error             // the last frame's thaw error
	max int               // the largest payload seen
}

func newFrameThawer(f freezer.Freezer) *frameThawer {
	t := &frameThawer{Freezer: f}
	if st, ok := f.(freezer.Storable); ok {
		t.dec = &storable.Decoder{Options: st.Options}
	}
	return t
}

// Thaw decodes one frame payload; the value is valid until the next Thaw.
func (t *frameThawer) Thaw(p []byte) (any, error) {
	t.max = max(t.max, len(p))
	var v storable.Value
	var err error
	if t.dec != nil {
		v, err = t.dec.Decode(p)
	} else {
		v, err = t.Freezer.Thaw(p)
	}
	if err != nil {
		t.err = err
		return nil, err
	}
	return v, nil
}

var _ filter.Serializer = (*frameThawer)(nil)

// storableValue returns a thawed record as a storable.Value (nil if it is
// something else).
func storableValue(v any) storable.Value {
	sv, _ := v.(storable.Value)
	return sv
}

// refuseFrame handles a frame that cannot be served: the peer gets an
// error report (phase request, as for a request that cannot be taken
// apart), the monitors a channel-read error, the log a folded line, and
// the connection closes once the report is written.
func (c *channel) refuseFrame(cause error) {
	if c.closed || c.closing {
		return
	}
	r := c.r
	r.stats.refusedFrames++
	r.stats.droppedPeers++
	text := fmt.Sprintf("%v: %v", ErrFrameRefused, strings.TrimPrefix(cause.Error(), "ikc: "))
	if c.registered {
		r.reportError(c.remoteID, text, storable.Undef{}, "request")
		r.inform("error", c.remoteID, true, "channel-read", fmt.Sprintf("[%d] %s", syscall.EINVAL, text))
		if !r.monitors.has("error", c.remoteID) {
			r.logs.warn("ikc: refused a frame", "frame", c.remoteID, text)
		}
	} else {
		r.logs.warn("ikc: refused a frame", "frame", c.cfg.peerAddr, text)
	}
	c.shutdown()
}

// addressedHere reports whether a request's kernel part stands for this
// kernel: empty (the sender's default kernel), "*", one of the local
// kernel's names or its ID, a name this connection announced, or an
// address the peer may know this end by ("<host>:<port>" with this
// connection's local port; "unix:..." on a Unix socket, where a Perl
// client calls its server "unix:n").
func (c *channel) addressedHere(kernel string) bool {
	if kernel == "" || kernel == "*" {
		return true
	}
	if id, ok := c.r.kernels.id(kernel); ok && id == c.r.kernelID {
		return true
	}
	if contains(c.cfg.names, kernel) {
		return true
	}
	if c.unixSocket {
		return strings.HasPrefix(kernel, "unix:")
	}
	if c.localPort > 0 {
		if i := strings.LastIndexByte(kernel, ':'); i >= 0 && kernel[i+1:] == c.localPortText {
			return true
		}
	}
	return false
}

// ignoreForeign counts and logs (debug, folded) a frame for another
// kernel; nothing runs and nothing is sent back.
func (c *channel) ignoreForeign(msg *protocol.Message) {
	c.r.stats.foreignFrames++
	c.r.logs.debug("ikc: ignored a frame for another kernel", "foreign-kernel", c.remoteID, msg.Event.String())
}
