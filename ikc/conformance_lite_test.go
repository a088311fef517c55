package ikc

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc/clientlite"
	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// liteFrom is ClientLite's from: no state (ikc-protocol.md §8).
func liteFrom() *storable.Hash {
	return storable.NewHash("kernel", storable.Bytes("LiteClient"), "session", storable.Bytes("IKCLite"))
}

func liteRSVP(state string) *storable.Hash {
	return storable.NewHash("kernel", storable.Bytes("LiteClient"), "session", storable.Bytes("IKCLite"), "state", storable.Bytes(state))
}

// readMsg reads one frame from a raw peer and decodes it.
func (p *rawPeer) readMsg() map[string]any {
	p.t.Helper()
	payload, err := freezer.NewReader(p.br, 0).ReadFrame()
	if err != nil {
		p.t.Fatalf("reading a frame: %v", err)
	}
	v, err := storable.Decode(payload)
	if err != nil {
		p.t.Fatal(err)
	}
	m, _ := protocol.FromValue(v).(map[string]any)
	return m
}

// liteIKC runs ClientLite's version of the IKC dialect (ikc-protocol.md §4.6).
func (p *rawPeer) liteIKC(name string) {
	p.t.Helper()
	read := func() string {
		l, err := p.br.ReadString('\n')
		if err != nil {
			p.t.Fatalf("negotiation: %v", err)
		}
		return strings.TrimRight(l, "\r\n")
	}
	p.write("HELLO\r\n")
	for {
		l := read()
		if l == "DONE" {
			break
		}
		if !strings.HasPrefix(l, "IAM ") {
			p.t.Fatalf("Invalid IAM response %q", l)
		}
		p.write("OK\r\n")
	}
	p.write("IAM " + name + "\r\n")
	if l := read(); l != "OK" {
		p.t.Fatalf("IAM answered %q", l)
	}
	p.write("DONE\r\nFREEZER Storable\r\n")
	if l := read(); l != "OK" {
		p.t.Fatalf("FREEZER answered %q", l)
	}
	p.write("WORLD\r\n")
	if l := read(); l != "UP" {
		p.t.Fatalf("WORLD answered %q", l)
	}
}

// TestConformanceClientLite plays ClientLite's side of t/20_clientlite.t
// and t/33_thunklite.t against a Go server (ikc-protocol.md I09-I12, I14, I18).
// The peer in I10-I12 and I18 is a scripted socket that sends what
// testdata/ikc/captures/g1-g4 show; I09 and I14 use the Go ClientLite.
func TestConformanceClientLite(t *testing.T) {
	rec := ikctest.NewRecorder()
	var port int
	ikctest.StartNode(t, func(k *poe.Kernel) {
		s, err := NewServer(k, ServerOptions{IP: "127.0.0.1", Port: EphemeralPort, Name: "Inet", Aliases: []string{"Ikc"}})
		if err != nil {
			t.Error(err)
			return
		}
		port = s.Port()
		var held poe.SessionID
		ts := ikctest.Session(k, "test", map[string]poe.Handler{
			"fetchQ": func(e *poe.Event) any { return 7 },
			"add_1": func(e *poe.Event) any {
				a := e.Slice(poe.ARG0)
				rec <- []any{"add_1", a[0]}
				e.Kernel.Post("IKC", "post", a[1], a[0].(int64)+1)
				return nil
			},
			"here":  rec.Handler("here", nil),
			"post1": func(e *poe.Event) any { e.Kernel.Post(e.Sender, "resp1", e.Arg(poe.ARG0)); return nil },
			"post2": func(e *poe.Event) any {
				held = e.Sender.ID()
				e.Kernel.RefcountIncrement(held, "later")
				e.Kernel.Delay("later", 20*time.Millisecond, e.Arg(poe.ARG0))
				return nil
			},
			"later": func(e *poe.Event) any { e.Kernel.Post(held, "resp2", e.Arg(poe.ARG0)); return nil },
			"post3": func(e *poe.Event) any {
				rec <- []any{"post3", e.Sender.ID() != held}
				e.Kernel.Post(e.Sender, "resp3", e.Arg(poe.ARG0))
				return nil
			},
			"done": func(e *poe.Event) any { e.Kernel.RefcountDecrement(held, "later"); return nil },
			"reg":  func(e *poe.Event) any { rec <- []any{"reg", e.Arg(poe.ARG1)}; return nil },
			"unreg": func(e *poe.Event) any {
				rec <- []any{"unreg", e.Arg(poe.ARG1)}
				return nil
			},
		})
		ts.Do(func() {
			Publish(k, ts, "fetchQ", "add_1", "here", "post1", "post2", "post3", "done")
			Monitor(k, "LiteClient", map[string]string{"register": "reg", "unregister": "unreg"}, nil)
		})
	})
	var lite *rawPeer
	var serverID string
	outer := t
	connect := func(t *testing.T) {
		lite = dialRaw(outer, port)
		lite.t = t
		line := lite.setup("LiteClient")
		serverID = setupKernel(strings.TrimRight(line, "\r\n"))
	}
	// The cases after I10 go on with the connection before them; run
	// alone (-run .../I11), a case makes one itself.
	connected := func(t *testing.T) {
		if lite == nil {
			connect(t)
			rec.WaitFor(t, "reg")
		}
		lite.t = t
	}

	t.Run("I09", func(t *testing.T) {
		// The Go ClientLite finds a default serializer (Storable) that
		// freezes and thaws; an explicit POE::Component::IKC::Freezer is
		// refused on purpose (its payloads are Perl code run with eval,
		// ikc-protocol.md §16 #12).
		f, err := freezer.Lookup(freezer.NameStorable)
		if err != nil {
			t.Fatal(err)
		}
		b, err := f.Freeze(map[string]any{"a": int64(1)})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := f.Thaw(b); err != nil || !reflect.DeepEqual(protocol.FromValue(v), map[string]any{"a": int64(1)}) {
			t.Errorf("Storable round trip: %#v, %v", v, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		l, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: port, Name: "SerializerProbe"})
		if err != nil {
			t.Fatalf("default serializer: %v", err)
		}
		if v, err := l.Call(ctx, "poe://Inet/test/fetchQ"); err != nil || v != int64(7) {
			t.Errorf("call with the default serializer: %v, %v", v, err)
		}
		l.Disconnect()
		if _, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: port, Serializer: freezer.NamePerlFreezer}); !errors.Is(err, freezer.ErrEvalFreezer) {
			t.Errorf("POE::Component::IKC::Freezer: %v, want ErrEvalFreezer", err)
		}
		// The server takes every freezer it has by default, as Perl's.
		y, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: port, Name: "YAMLProbe", Serializer: freezer.NameYAML})
		if err != nil {
			t.Errorf("YAML against a default server: %v", err)
		} else {
			y.Disconnect()
		}
	})
	t.Run("I10", func(t *testing.T) {
		connect(t)
		lite.frame(storable.NewHash(
			"event", storable.Bytes("poe://"+serverID+"/test/fetchQ"), "params", storable.Undef{},
			"wantarray", storable.Bytes(""), "from", liteFrom(), "rsvp", liteRSVP("response0")))
		m := lite.readMsg()
		if m["params"] != int64(7) || !reflect.DeepEqual(m["event"], protocol.FromValue(liteRSVP("response0"))) {
			t.Errorf("reply %#v", m)
		}
		if g := rec.WaitFor(t, "reg"); g[1] != "LiteClient" {
			t.Errorf("register %v", g[1])
		}
	})
	t.Run("I11", func(t *testing.T) {
		connected(t)
		lite.frame(storable.NewHash(
			"event", storable.Bytes("poe://"+serverID+"/test/add_1"), "from", liteFrom(),
			"params", storable.NewArray(storable.Int(7), liteRSVP("response1"))))
		if g := rec.WaitFor(t, "add_1"); g[1] != int64(7) {
			t.Errorf("add_1 got %v", g[1])
		}
		m := lite.readMsg()
		if m["params"] != int64(8) || !reflect.DeepEqual(m["event"], protocol.FromValue(liteRSVP("response1"))) {
			t.Errorf("post_respond answer %#v", m)
		}
	})
	t.Run("I12", func(t *testing.T) {
		connected(t)
		lite.conn.Close()
		if g := rec.WaitFor(t, "unreg"); g[1] != "LiteClient" {
			t.Errorf("unregister %v", g[1])
		}
		lite = dialRaw(outer, port)
		lite.t = t
		lite.liteIKC("LiteClient")
		if g := rec.WaitFor(t, "reg"); g[1] != "LiteClient" {
			t.Errorf("register %v", g[1])
		}
		lite.frame(storable.NewHash("event", storable.Bytes("poe://"+serverID+"/test/here"), "from", liteFrom(), "params", storable.Int(8)))
		if g := rec.WaitFor(t, "here"); g[1] != int64(8) {
			t.Errorf("here got %v", g[1])
		}
	})
	t.Run("I14", testConcurrencyCap)
	t.Run("I18", func(t *testing.T) {
		connected(t)
		want := map[string]string{"resp1": "the", "resp2": "wizard", "resp3": "walks bye"}
		for i, w := range []string{"the", "wizard", "walks bye"} {
			state := "post" + string(rune('1'+i))
			lite.frame(storable.NewHash("event", storable.Bytes("poe://"+serverID+"/test/"+state), "from", liteFrom(), "params", storable.Bytes(w)))
			m := lite.readMsg()
			resp := "resp" + string(rune('1'+i))
			if !reflect.DeepEqual(m["event"], map[string]any{"kernel": "LiteClient", "session": "IKCLite", "state": resp}) ||
				!reflect.DeepEqual(m["params"], []any{want[resp]}) {
				t.Errorf("%s: answer %#v", state, m)
			}
		}
		if g := rec.WaitFor(t, "post3"); g[1] != true {
			t.Error("post3 was served by the held thunk")
		}
		lite.frame(storable.NewHash("event", storable.Bytes("poe://"+serverID+"/test/done"), "from", liteFrom(), "params", storable.Undef{}))
		lite.conn.Close()
		rec.WaitFor(t, "unreg")
	})
}

// testConcurrencyCap is t/31_concurrency.t: ten ClientLites at once
// against concurrency 4; never more than 4 registered, all served.
func testConcurrencyCap(t *testing.T) {
	const clients, limit = 10, 4
	type count struct{ now, max, neg int }
	counts := make(chan count, 1)
	counts <- count{}
	var port int
	ikctest.StartNode(t, func(k *poe.Kernel) {
		s, err := NewServer(k, ServerOptions{IP: "127.0.0.1", Port: EphemeralPort, Name: "Inet", Concurrency: limit})
		if err != nil {
			t.Error(err)
			return
		}
		port = s.Port()
		track := func(d int) poe.Handler {
			return func(e *poe.Event) any {
				if !strings.HasPrefix(e.String(poe.ARG1), "Lite") {
					return nil
				}
				c := <-counts
				c.now += d
				c.max = max(c.max, c.now)
				if c.now < 0 {
					c.neg++
				}
				counts <- c
				return nil
			}
		}
		ts := ikctest.Session(k, "test", map[string]poe.Handler{
			"fetchQ": func(e *poe.Event) any { return 7 },
			"add_1": func(e *poe.Event) any {
				a := e.Slice(poe.ARG0)
				e.Kernel.Post("IKC", "post", a[1], a[0].(int64)+1)
				return nil
			},
			"here":  func(e *poe.Event) any { return nil },
			"reg":   track(1),
			"unreg": track(-1),
		})
		ts.Do(func() {
			Publish(k, ts, "fetchQ", "add_1", "here")
			Monitor(k, "*", map[string]string{"register": "reg", "unregister": "unreg"}, nil)
		})
	})
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		go func(i int) {
			errs <- func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				l, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: port, Name: fmt.Sprintf("Lite%dClient", i), Timeout: 20 * time.Second})
				if err != nil {
					return err
				}
				defer l.Disconnect()
				if v, err := l.Call(ctx, "poe://Inet/test/fetchQ"); err != nil || v != int64(7) {
					return fmt.Errorf("fetchQ: %v %v", v, err)
				}
				if v, err := l.PostRespond(ctx, "poe://Inet/test/add_1", 7); err != nil || v != int64(8) {
					return fmt.Errorf("add_1: %v %v", v, err)
				}
				return l.Post(ctx, "poe://Inet/test/here", 8)
			}()
		}(i)
	}
	for i := 0; i < clients; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := <-counts
		counts <- c
		if c.now == 0 || time.Now().After(deadline) {
			if c.now != 0 || c.max > limit || c.max < 1 || c.neg != 0 {
				t.Errorf("registered: now %d, max %d (limit %d), negative %d times", c.now, c.max, limit, c.neg)
			}
			t.Logf("at most %d of %d clients registered at once", c.max, clients)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
