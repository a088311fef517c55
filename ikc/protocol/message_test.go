package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// capturesDir holds the recordings of real Perl IKC sessions.
var capturesDir = filepath.Join("..", "..", "testdata", "ikc", "captures")

// unit is one line or frame of frames.json.
type unit struct {
	Type          string `json:"type"`
	Offset        int    `json:"offset"`
	Length        int    `json:"length"`
	Text          string `json:"text"`
	Terminator    string `json:"terminator"`
	PayloadOffset int    `json:"payload_offset"`
	PayloadLength int    `json:"payload_length"`
	Freezer       string `json:"freezer"`
}

type connection struct {
	Connection int    `json:"connection"`
	C2S        []unit `json:"c2s"`
	S2C        []unit `json:"s2c"`
	c2s, s2c   []byte
}

// loadCapture reads frames.json and the raw bytes of a capture.
func loadCapture(t testing.TB, name string) []connection {
	t.Helper()
	dir := filepath.Join(capturesDir, name)
	data, err := os.ReadFile(filepath.Join(dir, "frames.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Connections []connection `json:"connections"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	for i := range f.Connections {
		c := &f.Connections[i]
		base := filepath.Join(dir, "conn"+itoa(c.Connection))
		if c.c2s, err = os.ReadFile(base + ".c2s.bin"); err != nil {
			t.Fatal(err)
		}
		if c.s2c, err = os.ReadFile(base + ".s2c.bin"); err != nil {
			t.Fatal(err)
		}
	}
	return f.Connections
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// lines returns the negotiation lines of one direction.
func lines(us []unit) []string {
	var out []string
	for _, u := range us {
		if u.Type == "line" {
			out = append(out, u.Text)
		}
	}
	return out
}

// payloads returns the frame payloads of one direction, checking each
// against its header.
func payloads(t testing.TB, us []unit, raw []byte) (out [][]byte, freezers []string) {
	t.Helper()
	for _, u := range us {
		if u.Type != "frame" {
			continue
		}
		p := raw[u.PayloadOffset : u.PayloadOffset+u.PayloadLength]
		if got := freezer.AppendFrame(nil, p); !bytes.Equal(got, raw[u.Offset:u.Offset+u.Length]) {
			t.Fatalf("frame at %d: header mismatch", u.Offset)
		}
		out = append(out, p)
		freezers = append(freezers, u.Freezer)
	}
	return out, freezers
}

// TestMessageCaptures decodes every Storable frame of the message
// captures into a Message and re-encodes it: byte for byte with the
// decoded key order, and to the same values with the default order.
func TestMessageCaptures(t *testing.T) {
	for _, name := range []string{"c-post", "d-call-rsvp", "e-remote-error", "f-subscribe",
		"g1-clientlite-basic", "g2-clientlite-responded", "p1-probe-ikc0-lines", "p2-probe-ikc0-setup", "p3-probe-ikc-lines",
		"s1-seed-server-ikc-client-errors", "s2-seed-server-ikc-client-subscribe"} {
		t.Run(name, func(t *testing.T) {
			n := 0
			for _, c := range loadCapture(t, name) {
				for _, dir := range []struct {
					us  []unit
					raw []byte
				}{{c.C2S, c.c2s}, {c.S2C, c.s2c}} {
					ps, fz := payloads(t, dir.us, dir.raw)
					for i, p := range ps {
						if fz[i] != "Storable" {
							continue
						}
						n++
						checkRoundTrip(t, p)
					}
				}
			}
			if n == 0 {
				t.Fatal("no frames")
			}
		})
	}
}

func checkRoundTrip(t *testing.T, p []byte) {
	t.Helper()
	v, err := storable.Decode(p)
	if err != nil {
		t.Fatalf("storable: %v", err)
	}
	m, err := DecodeMessage(v)
	if m == nil {
		t.Fatalf("DecodeMessage: %v", err)
	}
	if err != nil {
		// Only the probe's deliberately bad events (p2).
		if !errors.Is(err, ErrNoEvent) && !errors.Is(err, ErrBadSpecifier) {
			t.Fatalf("DecodeMessage: %v", err)
		}
		return
	}
	got, err := storable.Encode(m.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, p) {
		t.Fatalf("re-encoded bytes differ:\n got %x\nwant %x", got, p)
	}
	// Default key order: other bytes, same message.
	m2 := *m
	m2.KeyOrder = nil
	b2, err := storable.Encode(m2.Encode())
	if err != nil {
		t.Fatal(err)
	}
	v3, err := storable.Decode(b2)
	if err != nil {
		t.Fatal(err)
	}
	m3, err := DecodeMessage(v3)
	if err != nil {
		t.Fatal(err)
	}
	m3.KeyOrder = m.KeyOrder
	if b3, _ := storable.Encode(m3.Encode()); !bytes.Equal(b3, p) {
		t.Fatalf("values changed through the default order:\n got %x\nwant %x", b3, p)
	}
}

// TestMessageFields checks the decoded fields of the frames spec section 8
// shows.
func TestMessageFields(t *testing.T) {
	frame := func(name string, c2s bool, i int) *Message {
		t.Helper()
		conns := loadCapture(t, name)
		us, raw := conns[0].S2C, conns[0].s2c
		if c2s {
			us, raw = conns[0].C2S, conns[0].c2s
		}
		ps, _ := payloads(t, us, raw)
		m, err := ThawMessage(freezer.Storable{}, ps[i])
		if err != nil {
			t.Fatalf("%s frame %d: %v", name, i, err)
		}
		return m
	}
	spec := func(s string) Specifier {
		t.Helper()
		sp, err := ParseSpecifier(s)
		if err != nil {
			t.Fatal(err)
		}
		return sp
	}

	// c-post: post without from, string event.
	m := frame("c-post", true, 0)
	if m.Event.Specifier != spec("poe://Server/test/posted") || !m.Event.IsString() || m.From != nil || m.RSVP != nil ||
		m.Params != storable.Bytes("hello") || m.IsError || m.WantList() {
		t.Errorf("c-post 0: %+v", m)
	}
	// c-post: from and hash event.
	m = frame("c-post", true, 2)
	if m.Event.Specifier != (Specifier{"Server", "test", "posted", ""}) || m.Event.IsString() ||
		m.From == nil || m.From.Session != "client" || m.From.State != "IKC:proxy" {
		t.Errorf("c-post 2: %+v", m)
	}
	// d-call-rsvp: numeric rsvp session.
	m = frame("d-call-rsvp", true, 0)
	if m.RSVP == nil || m.RSVP.Specifier != (Specifier{"Client", "2", "answer", ""}) {
		t.Errorf("d-call-rsvp 0: %+v", m.RSVP)
	}
	// e-remote-error: error reply.
	m = frame("e-remote-error", false, 0)
	if !m.IsError || m.Event.Session != "IKC" || m.Event.State != "remote_error" {
		t.Errorf("e-remote-error reply: %+v", m)
	}
	if a, ok := m.Params.(*storable.Array); !ok || len(a.Elems) != 3 {
		t.Errorf("e-remote-error params: %#v", m.Params)
	}
	// e-remote-error: request flagged is_error.
	if m = frame("e-remote-error", true, 3); !m.IsError {
		t.Errorf("e-remote-error 3: %+v", m)
	}
	// f-subscribe: IKC:proxy post, only possible in hash form.
	m = frame("f-subscribe", true, 2)
	if m.Event.State != "IKC:proxy" || m.Event.IsString() {
		t.Errorf("f-subscribe proxy: %+v", m.Event)
	}
	// g1: ClientLite from without state, wantarray.
	m = frame("g1-clientlite-basic", true, 1)
	if m.From == nil || m.From.Specifier != (Specifier{"LiteClient", "IKCLite", "", ""}) || !m.WantList() || m.Params != (storable.Undef{}) {
		t.Errorf("g1 list call: %+v", m)
	}
	if m = frame("g1-clientlite-basic", true, 0); m.WantList() || m.WantArray == nil {
		t.Errorf("g1 scalar call: wantarray %#v", m.WantArray)
	}
	// p2: a string rsvp with ?args, echoed verbatim as the reply event.
	m = frame("p2-probe-ikc0-setup", true, 8)
	if m.RSVP == nil || !m.RSVP.IsString() || m.RSVP.Args != "tag" {
		t.Fatalf("p2 string rsvp: %+v", m.RSVP)
	}
	reply := frame("p2-probe-ikc0-setup", false, 7)
	if reply.Event.Value() != m.RSVP.Value() {
		t.Errorf("reply event %#v, rsvp %#v", reply.Event.Value(), m.RSVP.Value())
	}
}

func TestMessageMalformed(t *testing.T) {
	for _, v := range []storable.Value{nil, storable.Undef{}, storable.Bytes("x"), storable.NewArray(storable.Bytes("not"), storable.Bytes("a"), storable.Bytes("hash")), &storable.Ref{Target: storable.Int(1)}} {
		m, err := DecodeMessage(v)
		var me *MessageError
		if m != nil || !errors.Is(err, ErrNotHash) || !errors.As(err, &me) {
			t.Errorf("DecodeMessage(%#v) = %v, %v", v, m, err)
		}
	}
	cases := []struct {
		h    *storable.Hash
		key  string
		want error
	}{
		{storable.NewHash("params", storable.Int(1)), "event", ErrNoEvent},
		{storable.NewHash("event", storable.Undef{}), "event", ErrNoEvent},
		{storable.NewHash("event", storable.Bytes("poe://Server/test/IKC:proxy")), "event", ErrBadSpecifier},
		{storable.NewHash("event", storable.NewArray()), "event", ErrBadSpecifier},
		{storable.NewHash("event", storable.NewHash("state", storable.NewHash())), "event", ErrBadSpecifier},
		{storable.NewHash("event", storable.Bytes("s/t"), "rsvp", storable.Bytes("a/b/c/d")), "rsvp", ErrBadSpecifier},
		{storable.NewHash("event", storable.Bytes("s/t"), "from", storable.NewArray()), "from", ErrBadSpecifier},
	}
	for _, c := range cases {
		m, err := DecodeMessage(c.h)
		var me *MessageError
		if m == nil || !errors.Is(err, c.want) || !errors.As(err, &me) || me.Key != c.key {
			t.Errorf("DecodeMessage(%v) = %v, %v; want key %s, %v", c.h, m, err, c.key, c.want)
		}
	}
	// The rest of a message with a bad event is still there.
	m, _ := DecodeMessage(storable.NewHash("params", storable.Int(1), "is_error", storable.Int(1)))
	if m.Params != storable.Int(1) || !m.IsError || !m.Event.IsZero() {
		t.Errorf("partial message: %+v", m)
	}
	// A false rsvp is no rsvp (Perl: if $msg->{rsvp}).
	if m, err := DecodeMessage(storable.NewHash("event", storable.Bytes("s/t"), "rsvp", storable.Bytes(""))); err != nil || m.RSVP != nil {
		t.Errorf("false rsvp: %+v, %v", m, err)
	}
	if _, err := ThawMessage(freezer.Storable{}, []byte("not storable")); err == nil {
		t.Error("ThawMessage accepted garbage")
	}
}

func TestMessageBuild(t *testing.T) {
	// Build the d-call-rsvp reply from scratch: a Perl-shaped hash.
	m := &Message{
		Event:  NewAddress(Specifier{Kernel: "Client", Session: "2", State: "answer"}),
		From:   &Address{Specifier: Specifier{Kernel: "vm-1", Session: "test", State: "IKC:proxy"}},
		Params: storable.Int(5),
	}
	p, err := FreezeMessage(freezer.Storable{}, m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ThawMessage(freezer.Storable{}, p)
	if err != nil {
		t.Fatal(err)
	}
	if back.Event.Specifier != m.Event.Specifier || back.From.Specifier != m.From.Specifier || back.Params != storable.Int(5) {
		t.Errorf("round trip: %+v", back)
	}
	ev := back.Event.Value().(*storable.Hash)
	if s, _ := ev.Get("session"); s != storable.Int(2) {
		t.Errorf("numeric session written as %#v", s)
	}
	// Changing a decoded address rebuilds it; keeping it echoes the raw value.
	a, err := AddressFromValue(storable.NewHash("state", storable.Bytes("r"), "session", storable.Bytes("p"), "kernel", storable.Bytes("")))
	if err != nil {
		t.Fatal(err)
	}
	if h := a.Value().(*storable.Hash); h.Entries[0].Key != "state" {
		t.Errorf("raw order lost: %v", h.Entries)
	}
	a.Kernel = "Client" // a channel filling an empty rsvp kernel
	if h := a.Value().(*storable.Hash); h.Entries[0].Key != "kernel" || h.Entries[0].Value != storable.Bytes("Client") {
		t.Errorf("rebuilt: %v", h.Entries)
	}
	// ClientLite's from: no state key.
	if h := NewAddress(Specifier{Kernel: "LiteClient", Session: "IKCLite"}).Value().(*storable.Hash); h.Len() != 2 {
		t.Errorf("from without state: %v", h.Entries)
	}
	s, err := StringAddress("poe://Probe/p/r?tag")
	if err != nil || s.Value() != storable.Bytes("poe://Probe/p/r?tag") || !s.IsString() {
		t.Errorf("StringAddress: %+v %v", s, err)
	}
	if _, err := StringAddress("poe://k/s/IKC:proxy"); !errors.Is(err, ErrBadSpecifier) {
		t.Errorf("StringAddress accepted IKC:proxy: %v", err)
	}
}

// TestMessageBadFrames: the frames that kill a Perl server (p4: not
// Storable, p5: an array) are plain errors here.
func TestMessageBadFrames(t *testing.T) {
	for _, c := range []struct {
		name string
		want error
	}{{"p4-probe-bad-frame", storable.ErrBadMagic}, {"p5-probe-array-frame", ErrNotHash}} {
		conns := loadCapture(t, c.name)
		ps, _ := payloads(t, conns[0].C2S, conns[0].c2s)
		if len(ps) != 1 {
			t.Fatalf("%s: %d frames", c.name, len(ps))
		}
		m, err := ThawMessage(freezer.Storable{}, ps[0])
		if m != nil || err == nil {
			t.Errorf("%s: %v, %v", c.name, m, err)
		}
		if c.want == ErrNotHash && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
