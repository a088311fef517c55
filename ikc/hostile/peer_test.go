package hostile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// peer is a hand-driven IKC0 client on a plain socket: it says what it
// likes, the way a hostile program would.
type peer struct {
	conn net.Conn
	br   *bufio.Reader
	name string
	fz   freezer.Freezer
	fr   *freezer.Reader
}

// dialPeer connects and negotiates IKC0 with the given kernel name and
// freezer ("Storable", "YAML", ...).
func dialPeer(port int, name, fz string) (*peer, error) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		return nil, err
	}
	f, err := freezer.Lookup(fz)
	if err != nil {
		c.Close()
		return nil, err
	}
	p := &peer{conn: c, br: bufio.NewReaderSize(c, 1<<16), name: name, fz: f}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "SETUP KERNEL=%s;FREEZER=%s;PID=1\r\n", name, fz); err != nil {
		c.Close()
		return nil, err
	}
	line, err := p.br.ReadString('\n')
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("SETUP answer: %w", err)
	}
	if !strings.HasPrefix(line, "SETUP ") || !strings.Contains(line, "FREEZER="+fz) {
		c.Close()
		return nil, fmt.Errorf("SETUP answer %q", strings.TrimSpace(line))
	}
	c.SetDeadline(time.Time{})
	p.fr = freezer.NewReader(p.br, 64<<20)
	return p, nil
}

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReaderSize(c, 1<<16) }

func (p *peer) Close() error { return p.conn.Close() }

// sendPayload writes one frame.
func (p *peer) sendPayload(b []byte) error {
	_, err := p.conn.Write(freezer.AppendFrame(nil, b))
	return err
}

// send encodes v with Storable and writes it as a frame.
func (p *peer) send(v storable.Value) error {
	b, err := storable.Encode(v)
	if err != nil {
		return err
	}
	return p.sendPayload(b)
}

// readMsg reads the next frame as a hash.
func (p *peer) readMsg(d time.Duration) (*storable.Hash, error) {
	p.conn.SetReadDeadline(time.Now().Add(d))
	defer p.conn.SetReadDeadline(time.Time{})
	b, err := p.fr.ReadFrame()
	if err != nil {
		return nil, err
	}
	v, err := p.fz.Thaw(b)
	if err != nil {
		return nil, err
	}
	h, ok := v.(*storable.Hash)
	if !ok {
		return nil, fmt.Errorf("frame is a %T", v)
	}
	return h, nil
}

// field returns a hash field converted to plain Go values.
func field(h *storable.Hash, key string) any {
	for _, e := range h.Entries {
		if e.Key == key {
			var out any
			if storable.UnmarshalValue(e.Value, &out) != nil {
				return nil
			}
			return out
		}
	}
	return nil
}

// request builds a request message to target (a specifier string),
// with an rsvp to this peer's IKC/reply when call is set.
func (p *peer) request(target string, params storable.Value, call bool) *storable.Hash {
	h := storable.NewHash("event", storable.Bytes(target), "params", params)
	if call {
		h.Entries = append(h.Entries, storable.Entry{Key: "rsvp", Value: storable.NewHash(
			"kernel", storable.Bytes(p.name), "session", storable.Bytes("IKC"), "state", storable.Bytes("reply"))})
	}
	return h
}

// call sends a request with an rsvp and waits for its reply, skipping
// other frames (error reports); it returns the reply's params.
func (p *peer) call(target string, params storable.Value, d time.Duration) (any, error) {
	if err := p.send(p.request(target, params, true)); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, errors.New("no reply in time")
		}
		h, err := p.readMsg(left)
		if err != nil {
			return nil, err
		}
		ev, _ := field(h, "event").(map[string]any)
		if ev["state"] == "reply" {
			return field(h, "params"), nil
		}
	}
}

// closedByServer reports whether the server closes the connection within
// d (reading and discarding what comes before).
func (p *peer) closedByServer(d time.Duration) bool {
	p.conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, p.br)
	var ne net.Error
	return err == nil || !(errors.As(err, &ne) && ne.Timeout())
}

// errorReport reads frames until an IKC/remote_error report comes (its
// params) or the connection ends.
func (p *peer) errorReport(d time.Duration) ([]any, error) {
	deadline := time.Now().Add(d)
	for {
		h, err := p.readMsg(time.Until(deadline))
		if err != nil {
			return nil, err
		}
		ev, _ := field(h, "event").(map[string]any)
		if ev["state"] == "remote_error" {
			l, _ := field(h, "params").([]any)
			return l, nil
		}
	}
}

// echo calls demo/echo with params and returns the reply's params as
// thawed (identity kept) and the size of its frame.
func (p *peer) echo(params storable.Value, d time.Duration) (storable.Value, int, error) {
	b, err := storable.Encode(p.request("poe://Demo/demo/echo", params, true))
	if err != nil {
		return nil, 0, err
	}
	if err := p.sendPayload(b); err != nil {
		return nil, 0, err
	}
	return p.replyN(d)
}

// reply waits for the next IKC/reply (skipping other frames) and returns
// its params as thawed.
func (p *peer) reply(d time.Duration) (storable.Value, error) {
	v, _, err := p.replyN(d)
	return v, err
}

func (p *peer) replyN(d time.Duration) (storable.Value, int, error) {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, 0, errors.New("no reply in time")
		}
		p.conn.SetReadDeadline(time.Now().Add(left))
		b, err := p.fr.ReadFrame()
		p.conn.SetReadDeadline(time.Time{})
		if err != nil {
			return nil, 0, err
		}
		n := len(b)
		v, err := p.fz.Thaw(b)
		if err != nil {
			return nil, n, err
		}
		h, ok := v.(*storable.Hash)
		if !ok {
			return nil, n, fmt.Errorf("frame is a %T", v)
		}
		if eventState(h) == "reply" {
			return get(h, "params"), n, nil
		}
	}
}

// get returns h's value for key (nil if absent).
func get(h *storable.Hash, key string) storable.Value {
	v, _ := h.Get(key)
	return v
}

// eventState is the state a message is for: its event is a hash or, as
// YAML peers write it, a specifier.
func eventState(h *storable.Hash) string {
	switch ev := field(h, "event").(type) {
	case map[string]any:
		s, _ := ev["state"].(string)
		return s
	case string:
		return ev[strings.LastIndexByte(ev, '/')+1:]
	}
	return ""
}
