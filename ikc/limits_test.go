package ikc

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// limitServer runs a server "Server" with a session "test" publishing
// posted (recorded) and echo, with the responder and server options given.
func limitServer(t *testing.T, ro ResponderOptions, so ServerOptions) (*ikctest.Node, ikctest.Recorder, int) {
	t.Helper()
	rec := ikctest.NewRecorder()
	var port int
	n := ikctest.StartNode(t, func(k *poe.Kernel) {
		if _, err := Spawn(k, &ro); err != nil {
			t.Error(err)
			return
		}
		so.IP, so.Port, so.Name = "127.0.0.1", EphemeralPort, "Server"
		s, err := NewServer(k, so)
		if err != nil {
			t.Error(err)
			return
		}
		port = s.Port()
		ts := ikctest.Session(k, "test", map[string]poe.Handler{
			"posted": rec.Handler("posted", nil),
			"echo":   func(e *poe.Event) any { return e.Arg(poe.ARG0) },
			"error":  rec.Handler("error", nil),
		})
		Publish(k, ts, "posted", "echo")
		ts.Do(func() { Monitor(k, "*", map[string]string{"error": "error"}, nil) })
	})
	return n, rec, port
}

func statsOf(n *ikctest.Node) Stats {
	var st Stats
	n.Do(func(k *poe.Kernel) { st = ResponderOf(k).Stats() })
	return st
}

// waitStats polls the stats until ok or the timeout.
func waitStats(t *testing.T, n *ikctest.Node, what string, ok func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(ikctest.Timeout)
	for {
		st := statsOf(n)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: stats %+v", what, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func post(target string, params storable.Value, from string) *storable.Hash {
	h := storable.NewHash("event", storable.Bytes(target), "params", params)
	if from != "" {
		h.Entries = append(h.Entries, storable.Entry{Key: "from", Value: storable.NewHash(
			"kernel", storable.Bytes(from), "session", storable.Bytes("s"), "state", storable.Bytes("IKC:proxy"))})
	}
	return h
}

// TestThunkCap: each remote kernel's senders have at most MaxThunks
// thunks, the least recently used going first; they all go with their
// kernel's connection.
func TestThunkCap(t *testing.T) {
	n, rec, port := limitServer(t, ResponderOptions{MaxThunks: 8}, ServerOptions{})
	p := dialRaw(t, port)
	p.setup("Faker")
	for i := range 50 {
		p.frame(post("poe://Server/test/posted", storable.Int(i), fmt.Sprint("fake", i)))
	}
	for range 50 {
		rec.WaitFor(t, "posted")
	}
	st := statsOf(n)
	if st.Thunks != 8 || st.ThunksEvicted != 42 {
		t.Fatalf("thunks %d, evicted %d; want 8 and 42", st.Thunks, st.ThunksEvicted)
	}
	p.conn.Close()
	waitStats(t, n, "thunks after the peer left", func(s Stats) bool { return s.Thunks == 0 })
}

// TestThunkIdle: a thunk that served nothing for ThunkIdle goes.
func TestThunkIdle(t *testing.T) {
	n, rec, port := limitServer(t, ResponderOptions{ThunkIdle: 100 * time.Millisecond}, ServerOptions{})
	p := dialRaw(t, port)
	p.setup("Sender")
	p.frame(post("poe://Server/test/posted", storable.Int(1), "one"))
	rec.WaitFor(t, "posted")
	if st := statsOf(n); st.Thunks != 1 {
		t.Fatalf("thunks %d, want 1", st.Thunks)
	}
	st := waitStats(t, n, "idle thunk", func(s Stats) bool { return s.Thunks == 0 })
	if st.ThunksEvicted != 1 {
		t.Errorf("evicted %d, want 1", st.ThunksEvicted)
	}
}

// TestForeignFrames: a request for another kernel's name is ignored and
// counted; the names this server goes by, its address and "*" are
// served.
func TestForeignFrames(t *testing.T) {
	n, rec, port := limitServer(t, ResponderOptions{}, ServerOptions{})
	p := dialRaw(t, port)
	p.setup("Peer")
	p.frame(post("poe://Other/test/posted", storable.Bytes("foreign"), ""))
	var id string
	n.Do(func(k *poe.Kernel) { id = k.ID() })
	for _, k := range []string{"Server", id, "*", "127.0.0.1:" + strconv.Itoa(port), "localhost:" + strconv.Itoa(port), ""} {
		p.frame(post("poe://"+k+"/test/posted", storable.Bytes(k), ""))
		if g := rec.WaitFor(t, "posted"); g[1] != k {
			t.Fatalf("posted %v, want %q (the foreign frame ran?)", g[1], k)
		}
	}
	if st := statsOf(n); st.ForeignFrames != 1 {
		t.Fatalf("foreign frames %d, want 1", st.ForeignFrames)
	}
}

// TestRefusedFrame: a frame that does not decode gets its peer an error
// report, the error monitors a channel-read error, and closes the
// connection; the server goes on.
func TestRefusedFrame(t *testing.T) {
	n, rec, port := limitServer(t, ResponderOptions{}, ServerOptions{})
	p := dialRaw(t, port)
	p.setup("Broken")
	p.write("3\x00abc")
	fr := freezer.NewReader(p.br, 0)
	b, err := fr.ReadFrame()
	if err != nil {
		t.Fatalf("no error report: %v", err)
	}
	v, _ := storable.Decode(b)
	h, _ := v.(*storable.Hash)
	if h == nil {
		t.Fatalf("report %v", v)
	}
	ev, _ := h.Get("event")
	params, _ := h.Get("params")
	if s := fmt.Sprint(storableText(ev)); !strings.Contains(s, "remote_error") {
		t.Errorf("report to %s", s)
	}
	if a, _ := params.(*storable.Array); a == nil || len(a.Elems) != 3 || !strings.HasPrefix(fmt.Sprint(storableText(a.Elems[0])), "ikc: frame refused: ") {
		t.Errorf("report params %v", params)
	}
	if !p.closedByServer() {
		t.Error("connection not closed")
	}
	g := rec.WaitFor(t, "error")
	if g[5] != "channel-read" {
		t.Errorf("monitor op %v", g[5])
	}
	if st := statsOf(n); st.RefusedFrames != 1 || st.DroppedPeers != 1 {
		t.Errorf("stats %+v", st)
	}
	q := dialRaw(t, port)
	q.setup("Good")
	q.frame(post("poe://Server/test/posted", storable.Bytes("still"), ""))
	rec.WaitFor(t, "posted")
}

// storableText renders a value for messages.
func storableText(v storable.Value) any {
	var out any
	storable.UnmarshalValue(v, &out)
	return out
}

// TestBackpressure: above the output high mark the server stops reading
// a peer; once the peer reads, every reply arrives and reading resumes.
// A peer that stays above the mark for StallTimeout is dropped.
func TestBackpressure(t *testing.T) {
	n, rec, port := limitServer(t, ResponderOptions{}, ServerOptions{Limits: Limits{
		OutputHighMark: 64 << 10, OutputLowMark: 16 << 10, StallTimeout: 300 * time.Millisecond}})
	big := storable.Bytes(strings.Repeat("x", 16<<10))
	// call writes a call to echo from the peer's goroutine (errors end
	// the writing: the server may close first).
	call := func(p *rawPeer, i int) error {
		h := post("poe://Server/test/echo", big, "")
		h.Entries = append(h.Entries, storable.Entry{Key: "rsvp", Value: storable.NewHash(
			"kernel", storable.Bytes(p.name), "session", storable.Bytes("IKC"), "state", storable.Bytes("r"+strconv.Itoa(i)))})
		b, err := storable.Encode(h)
		if err != nil {
			return err
		}
		_, err = p.conn.Write(freezer.AppendFrame(nil, b))
		return err
	}
	t.Run("reader", func(t *testing.T) {
		p := dialRaw(t, port)
		p.name = "Slow"
		p.setup(p.name)
		const calls = 100 // 1.6 MiB of replies
		go func() {
			for i := range calls {
				if call(p, i) != nil {
					return
				}
			}
		}()
		waitStats(t, n, "paused", func(s Stats) bool { return s.PausedReads > 0 })
		fr := freezer.NewReader(p.br, 0)
		for i := range calls {
			p.conn.SetReadDeadline(time.Now().Add(ikctest.Timeout))
			b, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("reply %d: %v", i, err)
			}
			if len(b) < 16<<10 {
				t.Fatalf("reply %d: %d bytes", i, len(b))
			}
		}
		if st := statsOf(n); st.StalledPeers != 0 {
			t.Fatalf("a peer that reads was dropped: %+v", st)
		}
	})
	t.Run("non-reader", func(t *testing.T) {
		before := statsOf(n)
		p := dialRaw(t, port)
		p.name = "Hoarder"
		p.setup(p.name)
		go func() {
			// Far more than the socket buffers of both ends hold.
			for i := range 2000 {
				if call(p, i) != nil {
					return
				}
			}
		}()
		st := waitStats(t, n, "stalled", func(s Stats) bool { return s.StalledPeers > before.StalledPeers })
		if st.DroppedPeers != before.DroppedPeers+1 {
			t.Errorf("dropped %d, want %d", st.DroppedPeers, before.DroppedPeers+1)
		}
		g := rec.WaitFor(t, "error")
		for g[5] == "channel-read" { // the reader's end
			g = rec.WaitFor(t, "error")
		}
		if g[5] != "channel-write" || !strings.Contains(fmt.Sprint(g[6]), "peer not reading") {
			t.Errorf("monitor %v", g[4:])
		}
	})
}

// TestClientBackpressure: a Client's connection has the same marks: a
// server that stops reading gets no more than the high mark queued, and
// is dropped after StallTimeout.
func TestClientBackpressure(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := br.ReadString('\n'); err != nil { // SETUP
			return
		}
		c.Write([]byte("SETUP KERNEL=Deaf;FREEZER=Storable;PID=1\r\n"))
		time.Sleep(ikctest.Timeout) // and never read again
	}()
	rec := ikctest.NewRecorder()
	n := ikctest.StartNode(t, func(k *poe.Kernel) {
		ts := ikctest.Session(k, "app", map[string]poe.Handler{"error": rec.Handler("error", nil)})
		ts.Do(func() { Monitor(k, "*", map[string]string{"error": "error"}, nil) })
		_, err := NewClient(k, ClientOptions{
			Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Name: "Talker",
			Limits:    Limits{OutputHighMark: 64 << 10, OutputLowMark: 16 << 10, StallTimeout: 300 * time.Millisecond},
			OnConnect: func() { k.Post("app", "flood") },
		})
		if err != nil {
			t.Error(err)
		}
		ts.SetState("flood", func(e *poe.Event) any {
			big := strings.Repeat("x", 64<<10)
			for range 200 { // 12.5 MiB, more than the sockets hold
				if n, _ := Post(e.Kernel, "poe://Deaf/x/y", big); n == 0 {
					break
				}
			}
			return nil
		}, nil)
	})
	st := waitStats(t, n, "client stalled", func(s Stats) bool { return s.StalledPeers == 1 })
	if st.PausedReads == 0 {
		t.Errorf("stats %+v", st)
	}
	g := rec.WaitFor(t, "error")
	if g[5] != "channel-write" {
		t.Errorf("monitor %v", g[4:])
	}
}

// TestFrameBudget: Limits.MaxElements and MaxDecodedBytes are the
// freezer's budget of each frame: a frame over either is refused, one
// within them served.
func TestFrameBudget(t *testing.T) {
	n, rec, port := limitServer(t, ResponderOptions{}, ServerOptions{Limits: Limits{MaxElements: 64, MaxDecodedBytes: -1}})
	p := dialRaw(t, port)
	p.setup("Small")
	p.frame(post("poe://Server/test/posted", storable.NewArray(make([]storable.Value, 10)...), ""))
	rec.WaitFor(t, "posted")
	p.frame(post("poe://Server/test/posted", storable.NewArray(make([]storable.Value, 100)...), ""))
	if g := rec.WaitFor(t, "error"); g[5] != "channel-read" {
		t.Errorf("monitor op %v", g[5])
	}
	if !p.closedByServer() {
		t.Error("connection not closed")
	}
	if st := statsOf(n); st.RefusedFrames != 1 {
		t.Errorf("refused frames %d, want 1", st.RefusedFrames)
	}

	n, rec, port = limitServer(t, ResponderOptions{Limits: Limits{MaxDecodedBytes: 4 << 10}}, ServerOptions{})
	p = dialRaw(t, port)
	p.setup("Bytes")
	p.frame(post("poe://Server/test/posted", storable.NewArray(make([]storable.Value, 1000)...), ""))
	rec.WaitFor(t, "error")
	if st := statsOf(n); st.RefusedFrames != 1 {
		t.Errorf("responder's MaxDecodedBytes: refused frames %d, want 1", st.RefusedFrames)
	}
}
