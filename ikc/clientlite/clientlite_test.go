package clientlite

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc"
	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

func liteCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), ikctest.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// liteConnected starts a server kernel and connects a Client named
// LiteClient to it, registered there (rec has the server's events); the
// Client is disconnected at the end of the test.
func liteConnected(t *testing.T) (*ikctest.Node, *Client, context.Context, ikctest.Recorder) {
	t.Helper()
	n, port, rec := liteServer(t, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort})
	ctx := liteCtx(t)
	l, err := Dial(ctx, Options{Host: "127.0.0.1", Port: port, Name: "LiteClient"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Disconnect() })
	rec.WaitFor(t, "reg")
	return n, l, ctx, rec
}

// liteScript is what lite.pl did in the g1, g6 and s4 captures.
func liteBasicScript(t *testing.T, ctx context.Context, l *Client, errorText string) {
	t.Helper()
	if v, err := l.Call(ctx, "test/fetchQ"); err != nil || v != int64(7) {
		t.Errorf("call test/fetchQ = %#v, %v; want 7", v, err)
	}
	if v, err := l.CallList(ctx, "test/list"); err != nil || !reflect.DeepEqual(v, []any{int64(1), int64(2), int64(3)}) {
		t.Errorf("list call test/list = %#v, %v; want [1 2 3]", v, err)
	}
	if v, err := l.PostRespond(ctx, "test/add_1", 7); err != nil || v != int64(8) {
		t.Errorf("post_respond test/add_1 = %#v, %v; want 8", v, err)
	}
	if err := l.Post(ctx, "test/here", 8); err != nil {
		t.Errorf("post test/here: %v", err)
	}
	_, err := l.Call(ctx, "test/unpublished", 1)
	var re *RemoteError
	if !errors.Is(err, ErrRemote) || !errors.As(err, &re) {
		t.Fatalf("call test/unpublished: %v, want a RemoteError", err)
	}
	if got := ikctest.BaseMask().Apply(re.Text); got != errorText {
		t.Errorf("remote error text %q, want %q", got, errorText)
	}
}

// replayLite plays the server side of a capture to a Go Lite running
// script, then compares what the Lite sent with the capture's client
// side. extra adds steps to connection 1 (and want the units they
// expect).
func replayLite(t *testing.T, name string, opts Options, script func(ctx context.Context, l *Client), extra []ikctest.ReplayStep, extraWant []ikctest.WireUnit) {
	t.Helper()
	conns := ikctest.LoadCaptureConns(t, name)
	scripts := make([][]ikctest.ReplayStep, len(conns))
	for i, c := range conns {
		scripts[i] = c.ServerSteps(t)
	}
	scripts[0] = append(scripts[0], extra...)
	port, got := ikctest.FakeServer(t, scripts)
	opts.Host, opts.Port, opts.Name = "127.0.0.1", port, "LiteClient"
	if opts.Timeout == 0 {
		opts.Timeout = ikctest.Timeout
	}
	ctx := liteCtx(t)
	l, err := Dial(ctx, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	script(ctx, l)
	l.Disconnect()
	for i, c := range conns {
		want := ikctest.SplitWire(t, c.C2S)
		if i == 0 {
			want = append(want, extraWant...)
		}
		ikctest.CompareUnits(t, "client conn"+string(rune('1'+i)), want, ikctest.Recv(t, got[i]), ikctest.BaseMask())
	}
}

// TestClientLiteReplay feeds the server side of the ClientLite captures
// to the Go Lite (ikc-protocol.md I37; s4 for case 39) and checks it sends
// the capture's client bytes, modulo PIDs, ports and hash order.
func TestClientLiteReplay(t *testing.T) {
	const unpublished = "Session 'test' has not published state 'unpublished'.  Request poe://%s/test/unpublished sent by poe://LiteClient/IKCLite"
	t.Run("I37", func(t *testing.T) {
		t.Run("g1-basic-ikc0", func(t *testing.T) {
			replayLite(t, "g1-clientlite-basic", Options{}, func(ctx context.Context, l *Client) {
				if l.RemoteKernel() != "vm-6b04914f-00002cb2-00000001" {
					t.Errorf("remote kernel %q, want the server's kernel ID", l.RemoteKernel())
				}
				liteBasicScript(t, ctx, l, strings.Replace(unpublished, "%s", "vm-6b04914f-00002cb2-00000001", 1))
			}, nil, nil)
		})
		t.Run("g2-responded", func(t *testing.T) {
			replayLite(t, "g2-clientlite-responded", Options{}, func(ctx context.Context, l *Client) {
				if err := l.Post(ctx, "test/post1", "the"); err != nil {
					t.Fatal(err)
				}
				if v, err := l.Responded(ctx, "resp1"); err != nil || !reflect.DeepEqual(v, []any{"the"}) {
					t.Errorf("responded resp1 = %#v, %v", v, err)
				}
				if err := l.Post(ctx, "test/post2", "wizard"); err != nil {
					t.Fatal(err)
				}
				if v, err := l.Responded(ctx, "resp2"); err != nil || !reflect.DeepEqual(v, []any{"wizard", "second", "third"}) {
					t.Errorf("responded resp2 = %#v, %v", v, err)
				}
			}, nil, nil)
		})
		t.Run("g3-reconnect", func(t *testing.T) {
			replayLite(t, "g3-clientlite-reconnect", Options{}, func(ctx context.Context, l *Client) {
				if v, err := l.Call(ctx, "test/fetchQ"); err != nil || v != int64(7) {
					t.Errorf("call = %#v, %v", v, err)
				}
				l.Disconnect()
				if err := l.SetProtocol("IKC"); err != nil {
					t.Fatal(err)
				}
				// Reconnects (IKC handshake) and keeps the IKC0 remote name.
				if err := l.Post(ctx, "test/here", 8); err != nil {
					t.Errorf("post after reconnect: %v", err)
				}
			}, nil, nil)
		})
		t.Run("g4-ikc-ping", func(t *testing.T) {
			replayLite(t, "g4-clientlite-ikc-ping", Options{Protocol: "IKC"}, func(ctx context.Context, l *Client) {
				if err := l.Ping(ctx); err != nil {
					t.Errorf("ping: %v", err)
				}
				if v, err := l.Call(ctx, "test/echo", []any{1, 2}); err != nil || !reflect.DeepEqual(v, []any{int64(1), int64(2)}) {
					t.Errorf("call test/echo = %#v, %v", v, err)
				}
			}, nil, nil)
		})
		t.Run("g5-ikc0-ping-fixed", func(t *testing.T) {
			// Perl's ClientLite sends nothing for ping in IKC0 and fails
			// (ikc-protocol.md §12). The Go Lite sends g4's ping frame (with this
			// server's kernel ID) and gets g4's PONG answer.
			g4 := ikctest.LoadCaptureConns(t, "g4-clientlite-ikc-ping")[0]
			g4c, g4s := ikctest.SplitWire(t, g4.C2S), ikctest.SplitWire(t, g4.S2C)
			m := ikctest.Masker{}.Add(`vm-6b049151-00002cca-00000001`, "vm-6b049152-00002ce2-00000001")
			var ping, pong []byte
			for _, u := range g4c {
				if !u.Line && strings.Contains(string(u.Raw), "PING") {
					ping = u.Raw
				}
			}
			for _, u := range g4s {
				if !u.Line && strings.Contains(string(u.Raw), "PONG") {
					pong = u.Raw
				}
			}
			pingFrame := reencode(t, ping, m)
			pongFrame := freezer.AppendFrame(nil, reencode(t, pong, m))
			replayLite(t, "g5-clientlite-ikc0-ping", Options{}, func(ctx context.Context, l *Client) {
				if err := l.Ping(ctx); err != nil {
					t.Errorf("ping in IKC0: %v", err)
				}
			}, []ikctest.ReplayStep{{Need: 2, Send: pongFrame}}, []ikctest.WireUnit{{Raw: pingFrame}})
		})
		t.Run("g6-ikc0-to-ikc-server", func(t *testing.T) {
			replayLite(t, "g6-clientlite-ikc0-to-ikc-server", Options{}, func(ctx context.Context, l *Client) {
				liteBasicScript(t, ctx, l, strings.Replace(unpublished, "%s", "127.0.0.1:<port>", 1))
			}, nil, nil)
		})
	})
	t.Run("I39-s4-seed-server", func(t *testing.T) {
		replayLite(t, "s4-seed-server-clientlite-ikc", Options{Protocol: "IKC"}, func(ctx context.Context, l *Client) {
			liteBasicScript(t, ctx, l, "Session 'test' has not published state 'unpublished' [poe://127.0.0.1:<port>/test/unpublished] sent by [poe://LiteClient/IKCLite]")
		}, nil, nil)
	})
}

// reencode decodes a Storable payload, masks its strings and encodes it
// again (key order kept).
func reencode(t *testing.T, payload []byte, m ikctest.Masker) []byte {
	t.Helper()
	v, err := storable.Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(storable.Value) storable.Value
	walk = func(v storable.Value) storable.Value {
		switch x := v.(type) {
		case storable.Bytes:
			return storable.Bytes(m.Apply(string(x)))
		case *storable.Hash:
			for i := range x.Entries {
				x.Entries[i].Value = walk(x.Entries[i].Value)
			}
		case *storable.Array:
			for i := range x.Elems {
				x.Elems[i] = walk(x.Elems[i])
			}
		}
		return v
	}
	b, err := storable.Encode(walk(v))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// liteServer starts a Go server "Inet" (alias "Ikc") with t/20's test
// session and returns its port and a recorder of what the handlers saw.
func liteServer(t *testing.T, opts ikc.ServerOptions) (*ikctest.Node, int, ikctest.Recorder) {
	t.Helper()
	rec := ikctest.NewRecorder()
	var port int
	n := ikctest.StartNode(t, func(k *poe.Kernel) {
		if opts.Name == "" {
			opts.Name, opts.Aliases = "Inet", []string{"Ikc"}
		}
		s, err := ikc.NewServer(k, opts)
		if err != nil {
			t.Error(err)
			return
		}
		port = s.Port()
		ts := ikctest.Session(k, "test", map[string]poe.Handler{
			"fetchQ": func(e *poe.Event) any { return 7 },
			"list":   func(e *poe.Event) any { return []any{1, 2, 3} },
			"echo":   func(e *poe.Event) any { return e.Arg(poe.ARG0) },
			"args":   func(e *poe.Event) any { return append([]any{}, e.Args...) },
			"add_1": func(e *poe.Event) any {
				a := e.Slice(poe.ARG0)
				rec <- []any{"add_1", a[0]}
				e.Kernel.Post("IKC", "post", a[1], a[0].(int64)+1)
				return nil
			},
			"inc": func(e *poe.Event) any {
				a := e.Slice(poe.ARG0)
				e.Kernel.Post("IKC", "post", a[1], a[0].(int64)+1)
				return nil
			},
			"here":    rec.Handler("here", nil),
			"nothing": rec.Handler("nothing", nil),
			"post1":   func(e *poe.Event) any { e.Kernel.Post(e.Sender, "resp1", e.Arg(poe.ARG0)); return nil },
			"reg":     func(e *poe.Event) any { rec <- []any{"reg", e.Arg(poe.ARG1)}; return nil },
			"unreg":   func(e *poe.Event) any { rec <- []any{"unreg", e.Arg(poe.ARG1)}; return nil },
		})
		ts.Do(func() {
			ikc.Publish(k, ts, "fetchQ", "list", "echo", "args", "add_1", "inc", "here", "nothing", "post1")
			ikc.Monitor(k, "LiteClient", map[string]string{"register": "reg", "unregister": "unreg"}, nil)
		})
	})
	return n, port, rec
}

// TestClientLiteGoServer runs the Go Lite against the Go server (t/20's
// cases 9-12 and t/33's case 18 with a real Go ClientLite).
func TestClientLiteGoServer(t *testing.T) {
	_, port, rec := liteServer(t, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort})
	ctx := liteCtx(t)
	var l *Client
	dial := func(t *testing.T) {
		t.Helper()
		var err error
		l, err = Dial(ctx, Options{Host: "127.0.0.1", Port: port, Name: "LiteClient", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The cases after I10 use its client; run alone (-run .../I11), a
	// case connects one itself.
	connected := func(t *testing.T) {
		t.Helper()
		if l != nil {
			return
		}
		dial(t)
		if err := l.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		rec.WaitFor(t, "reg")
	}
	t.Run("I09", func(t *testing.T) {
		// Serializer discovery: Storable by default; YAML can be chosen;
		// the eval-based POE::Component::IKC::Freezer is refused (ikc-protocol.md §7.4).
		if _, err := freezer.Lookup(freezer.NameStorable); err != nil {
			t.Fatal(err)
		}
		_, err := Dial(ctx, Options{Port: port, Serializer: freezer.NamePerlFreezer})
		if !errors.Is(err, freezer.ErrEvalFreezer) {
			t.Errorf("POE::Component::IKC::Freezer: %v, want ErrEvalFreezer", err)
		}
		_, err = Dial(ctx, Options{Port: port, Serializer: "No::Such"})
		if !errors.Is(err, freezer.ErrUnknownFreezer) {
			t.Errorf("unknown serializer: %v", err)
		}
		// The Go server accepts every freezer it has by default, as
		// Perl's does: YAML and FreezeThaw too, in both dialects.
		for _, ser := range []string{"YAML", "FreezeThaw"} {
			for _, proto := range []string{"IKC0", "IKC"} {
				y, err := Dial(ctx, Options{Host: "127.0.0.1", Port: port, Serializer: ser, Name: "Lite" + ser + proto, Protocol: proto})
				if err != nil {
					t.Errorf("%s, %s against the default server: %v", ser, proto, err)
					continue
				}
				if y.Freezer() != ser {
					t.Errorf("%s, %s: Freezer() = %q", ser, proto, y.Freezer())
				}
				if v, err := y.Call(ctx, "test/echo", "x"); err != nil || v != "x" {
					t.Errorf("%s, %s: echo = %#v, %v", ser, proto, v, err)
				}
				y.Disconnect()
			}
		}
		// A server told to take Storable alone refuses YAML.
		_, sport, _ := liteServer(t, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort, Serializers: []string{"Storable"}})
		_, err = Dial(ctx, Options{Host: "127.0.0.1", Port: sport, Serializer: "YAML", Name: "Yaml"})
		if !errors.Is(err, ErrHandshake) {
			t.Errorf("YAML against a Storable-only server: %v, want ErrHandshake", err)
		}
	})
	t.Run("I10", func(t *testing.T) {
		dial(t)
		if v, err := l.Call(ctx, "test/fetchQ"); err != nil || v != int64(7) {
			t.Errorf("fetchQ = %#v, %v", v, err)
		}
		if g := rec.WaitFor(t, "reg"); g[1] != "LiteClient" {
			t.Errorf("register %v", g[1])
		}
		if v, err := l.CallList(ctx, "test/list"); err != nil || !reflect.DeepEqual(v, []any{int64(1), int64(2), int64(3)}) {
			t.Errorf("list = %#v, %v", v, err)
		}
		if v, err := l.Call(ctx, "test/args", "a", 2); err != nil || !reflect.DeepEqual(v, []any{"a", int64(2)}) {
			t.Errorf("two arguments (IKC:proxy) = %#v, %v", v, err)
		}
		if err := l.Ping(ctx); err != nil {
			t.Errorf("ping (IKC0): %v", err)
		}
	})
	t.Run("I11", func(t *testing.T) {
		connected(t)
		if v, err := l.PostRespond(ctx, "test/add_1", 7); err != nil || v != int64(8) {
			t.Errorf("post_respond = %#v, %v", v, err)
		}
		if g := rec.WaitFor(t, "add_1"); g[1] != int64(7) {
			t.Errorf("add_1 saw %v", g[1])
		}
	})
	t.Run("I12", func(t *testing.T) {
		connected(t)
		l.Disconnect()
		if g := rec.WaitFor(t, "unreg"); g[1] != "LiteClient" {
			t.Errorf("unregister %v", g[1])
		}
		l.SetProtocol("IKC")
		if err := l.Post(ctx, "test/here", 8); err != nil {
			t.Fatal(err)
		}
		if g := rec.WaitFor(t, "reg"); g[1] != "LiteClient" {
			t.Errorf("register %v", g[1])
		}
		if g := rec.WaitFor(t, "here"); g[1] != int64(8) {
			t.Errorf("here got %v", g[1])
		}
		if err := l.Ping(ctx); err != nil {
			t.Errorf("ping (IKC): %v", err)
		}
	})
	t.Run("I18", func(t *testing.T) {
		connected(t)
		if err := l.Post(ctx, "test/post1", "the"); err != nil {
			t.Fatal(err)
		}
		// An answer to another state first: Responded finds resp1 later.
		if v, err := l.Call(ctx, "test/echo", "x"); err != nil || v != "x" {
			t.Errorf("echo = %#v, %v", v, err)
		}
		if v, err := l.Responded(ctx, "resp1"); err != nil || !reflect.DeepEqual(v, []any{"the"}) {
			t.Errorf("responded = %#v, %v", v, err)
		}
	})
	t.Run("errors", func(t *testing.T) {
		connected(t)
		_, err := l.Call(ctx, "test/unpublished")
		var re *RemoteError
		if !errors.As(err, &re) || re.Phase != "check" || !strings.HasPrefix(re.Text, "Session 'test' has not published state 'unpublished'") {
			t.Errorf("unpublished: %v", err)
		}
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err = l.Call(short, "test/nothing")
		if !errors.Is(err, ErrNoResponse) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("undef result: %v, want ErrNoResponse and DeadlineExceeded", err)
		}
		cctx, ccancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, ccancel)
		_, err = l.Call(cctx, "test/nothing")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: %v", err)
		}
		if err := l.Post(ctx, "not a/spec/at all"); !errors.Is(err, protocol.ErrBadSpecifier) {
			t.Errorf("bad spec: %v", err)
		}
		if err := l.Post(ctx, "poe://x/onlysession"); !errors.Is(err, protocol.ErrNoState) {
			t.Errorf("no state: %v", err)
		}
		// After the timeouts the Lite reconnects by itself.
		if v, err := l.Call(ctx, "test/fetchQ"); err != nil || v != int64(7) {
			t.Errorf("after timeouts: %#v, %v", v, err)
		}
		l.Disconnect()
	})
	t.Run("refused", func(t *testing.T) {
		_, err := Dial(ctx, Options{Host: "127.0.0.1", Port: 1, Name: "X", Timeout: time.Second})
		if err == nil {
			t.Error("connected to port 1")
		}
	})
}

// TestClientLiteUnixYAML uses a Unix socket and the YAML serializer.
func TestClientLiteUnixYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ikc.sock")
	_, _, rec := liteServer(t, ikc.ServerOptions{Unix: path, Serializers: []string{"Storable", "YAML"}})
	ctx := liteCtx(t)
	for _, proto := range []string{"IKC0", "IKC"} {
		l, err := Dial(ctx, Options{Unix: path, Name: "LiteClient", Serializer: "YAML", Protocol: proto})
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		if v, err := l.Call(ctx, "test/echo", map[string]any{"a": []any{1, "b"}}); err != nil ||
			!reflect.DeepEqual(v, map[string]any{"a": []any{"1", "b"}}) && !reflect.DeepEqual(v, map[string]any{"a": []any{int64(1), "b"}}) {
			t.Errorf("%s: echo over YAML = %#v, %v", proto, v, err)
		}
		if err := l.Ping(ctx); err != nil {
			t.Errorf("%s: ping: %v", proto, err)
		}
		l.Disconnect()
		rec.WaitFor(t, "unreg")
	}
}

// TestClientLiteServerGone: the server closes the connection while a
// call waits; the error says so at once, and the next request reconnects.
func TestClientLiteServerGone(t *testing.T) {
	n, port, _ := liteServer(t, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort})
	ctx := liteCtx(t)
	l, err := Dial(ctx, Options{Host: "127.0.0.1", Port: port, Name: "LiteClient"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Disconnect()
	go func() {
		time.Sleep(100 * time.Millisecond)
		n.Do(func(k *poe.Kernel) { k.Call(ikc.ResponderAlias, "unregister", "LiteClient") })
	}()
	start := time.Now()
	_, err = l.Call(ctx, "test/nothing")
	if !errors.Is(err, ErrConnClosed) || time.Since(start) > 3*time.Second {
		t.Errorf("call while the server closes: %v after %v, want ErrConnClosed at once", err, time.Since(start))
	}
	if v, err := l.Call(ctx, "test/fetchQ"); err != nil || v != int64(7) {
		t.Errorf("after reconnect: %#v, %v", v, err)
	}
	// The server closes an idle connection: the next post notices and
	// reconnects before writing.
	n.Do(func(k *poe.Kernel) { k.Call(ikc.ResponderAlias, "unregister", "LiteClient") })
	time.Sleep(100 * time.Millisecond)
	if v, err := l.Call(ctx, "test/fetchQ"); err != nil || v != int64(7) {
		t.Errorf("after the server closed an idle connection: %#v, %v", v, err)
	}
}
