package ikc

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// clientReplay is a Go Client connected to a fake server that plays the
// server side of a capture.
type clientReplay struct {
	t    *testing.T
	n    *ikctest.Node
	rec  ikctest.Recorder
	goID string
	capt ikctest.CaptureConn
	got  <-chan []ikctest.WireUnit
}

// rsvpSwap rewrites the server's frames so that the reply targets the
// capture's client chose (Perl session numbers, receipt state names with
// CODE(0x...)) become the ones the Go client chose: the i-th frame the Go
// client sent corresponds to the capture's i-th client frame.
type rsvpSwap struct {
	want []ikctest.WireUnit // the capture's client units
}

func (s rsvpSwap) rewrite(t *testing.T, send []byte, got []ikctest.WireUnit) []byte {
	pairs := map[string]storable.Value{}
	var wf, gf []ikctest.WireUnit
	for _, u := range s.want {
		if !u.Line {
			wf = append(wf, u)
		}
	}
	for _, u := range got {
		if !u.Line {
			gf = append(gf, u)
		}
	}
	for i := 0; i < len(wf) && i < len(gf); i++ {
		w, _ := storable.Decode(wf[i].Raw)
		g, _ := storable.Decode(gf[i].Raw)
		wh, _ := w.(*storable.Hash)
		gh, _ := g.(*storable.Hash)
		if wh == nil || gh == nil {
			continue
		}
		wr, ok1 := wh.Get("rsvp")
		gr, ok2 := gh.Get("rsvp")
		if ok1 && ok2 {
			pairs[fmt.Sprint(protocol.FromValue(wr))] = gr
		}
	}
	if os.Getenv("IKC_DEBUG") != "" {
		t.Logf("rewrite: pairs %v", pairs)
	}
	// The server addresses the client by the first name it announced,
	// the capture client's kernel ID: the Go client has its own.
	capID, goID := firstName(s.want), firstName(got)
	if len(pairs) == 0 && (capID == "" || goID == "" || capID == goID) {
		return send
	}
	var out []byte
	for _, u := range ikctest.SplitWire(t, send) {
		if u.Line {
			out = append(out, u.Raw...)
			continue
		}
		v, err := storable.Decode(u.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if h, ok := v.(*storable.Hash); ok {
			for i, e := range h.Entries {
				if r, ok := pairs[fmt.Sprint(protocol.FromValue(e.Value))]; ok {
					h.Entries[i].Value = r
				} else if e.Key == "event" && capID != "" && goID != "" {
					h.Entries[i].Value = swapKernel(e.Value, capID, goID)
				}
			}
		}
		b, err := storable.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		out = freezer.AppendFrame(out, b)
	}
	return out
}

// firstName returns the first name a side announced in its negotiation
// lines (SETUP KERNEL=first,... or its first IAM), "" if none.
func firstName(units []ikctest.WireUnit) string {
	for _, u := range units {
		if !u.Line {
			continue
		}
		t := strings.TrimSpace(u.Text())
		if rest, ok := strings.CutPrefix(t, "SETUP KERNEL="); ok {
			return strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == ';' })[0]
		}
		if rest, ok := strings.CutPrefix(t, "IAM "); ok {
			return rest
		}
	}
	return ""
}

// swapKernel returns an event whose kernel part from is replaced by to.
func swapKernel(ev storable.Value, from, to string) storable.Value {
	a, err := protocol.AddressFromValue(ev)
	if err != nil || a.Kernel != from {
		return ev
	}
	str := a.IsString()
	a.Kernel = to
	if str {
		s, _ := protocol.StringAddress(a.String())
		return s.Value()
	}
	return protocol.NewAddress(a.Specifier).Value()
}

// replayClient starts a Go Client (name "Client") against a fake server
// playing the capture, with a session "client" that publishes YOW. Call
// finish to shut IKC down and compare the client's bytes.
func replayClient(t *testing.T, name string, opts ClientOptions) *clientReplay {
	t.Helper()
	conns := ikctest.LoadCaptureConns(t, name)
	c := &clientReplay{t: t, rec: ikctest.NewRecorder(), capt: conns[0]}
	steps := conns[0].ServerSteps(t)
	port, got := fakeServerRewrite(t, steps, rsvpSwap{want: ikctest.SplitWire(t, conns[0].C2S)})
	c.n = ikctest.StartNode(t, func(k *poe.Kernel) {
		c.goID = k.ID()
		cl := ikctest.Session(k, "client", map[string]poe.Handler{
			"YOW":  c.rec.Handler("YOW", nil),
			"mon":  func(e *poe.Event) any { c.rec <- append([]any{"mon"}, e.Args...); return nil },
			"done": c.rec.Handler("done", nil),
			"answer": func(e *poe.Event) any {
				c.rec <- []any{"answer", e.Arg(poe.ARG0)}
				return nil
			},
			"pong": func(e *poe.Event) any { c.rec <- []any{"pong", e.Arg(poe.ARG0)}; return nil },
		})
		cl.Do(func() {
			Publish(k, cl, "YOW")
			Monitor(k, "*", map[string]string{"register": "mon", "error": "mon", "subscribe": "mon"}, nil)
		})
		opts.Host, opts.Port, opts.Name = "127.0.0.1", port, "Client"
		opts.OnError = func(op string, errno int, text string) { t.Errorf("client error %s: %s", op, text) }
		if _, err := NewClient(k, opts); err != nil {
			t.Fatal(err)
		}
	})
	c.got = got
	return c
}

// fakeServerRewrite is fakeServer for one connection whose server chunks
// are rewritten by sw before they are sent.
func fakeServerRewrite(t *testing.T, steps []ikctest.ReplayStep, sw rsvpSwap) (int, <-chan []ikctest.WireUnit) {
	for i := range steps {
		steps[i].Rewrite = func(send []byte, got []ikctest.WireUnit) []byte { return sw.rewrite(t, send, got) }
	}
	port, chans := ikctest.FakeServer(t, [][]ikctest.ReplayStep{steps})
	return port, chans[0]
}

// monitors returns the next n monitor callbacks formatted as Perl's
// client.log lines ("register <name> real|alias", "error <name> <op>
// <text>", "subscribe <name> <spec>").
func (c *clientReplay) monitors(n int) []string {
	var out []string
	for len(out) < n {
		v := c.rec.WaitFor(c.t, "mon")
		kind := "alias"
		if v[3] == true {
			kind = "real"
		}
		switch {
		case len(v) == 7:
			out = append(out, fmt.Sprintf("error %v %v %v", v[2], v[5], v[6]))
		case len(v) == 6 && isMap(v[5]):
			s := v[5].(map[string]any)
			out = append(out, fmt.Sprintf("subscribe %v %v/%v/%v", v[2], s["kernel"], s["session"], s["state"]))
		default:
			out = append(out, fmt.Sprintf("register %v %s", v[2], kind))
		}
	}
	return out
}

// perlLog returns the capture's client.log lines starting with prefix
// ("CLIENT: monitor register", ...), without "CLIENT: monitor ".
func (c *clientReplay) perlLog(name string, prefixes ...string) []string {
	b, err := os.ReadFile(filepath.Join(ikctest.CapturesDir, name, "client.log"))
	if err != nil {
		c.t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, "CLIENT: monitor "+p) {
				out = append(out, strings.TrimPrefix(l, "CLIENT: monitor "))
			}
		}
	}
	return out
}

// finish shuts IKC down and compares the client's units with the
// capture's, masked with m plus PIDs, ports and the client kernel ID.
func (c *clientReplay) finish(m ikctest.Masker) {
	c.t.Helper()
	c.n.Do(func(k *poe.Kernel) { Shutdown(k) })
	want := ikctest.SplitWire(c.t, c.capt.C2S)
	capID := ""
	if f := strings.Fields(want[0].Text()); len(f) > 1 {
		if f[0] == "SETUP" {
			capID = setupKernel(want[0].Text())
		}
	}
	if capID == "" {
		for _, u := range want {
			if u.Line && strings.HasPrefix(u.Text(), "IAM ") {
				capID = strings.TrimPrefix(u.Text(), "IAM ")
				break
			}
		}
	}
	m = append(ikctest.BaseMask(), m...).Add(regexp.QuoteMeta(capID), "<client-id>").Add(regexp.QuoteMeta(c.goID), "<client-id>")
	ikctest.CompareUnits(c.t, "client", want, ikctest.Recv(c.t, c.got), m)
}

// TestClientReplay feeds the server side of captures to a Go Client
// (ikc-protocol.md I27-I36 in the client direction) and checks the bytes it
// sends and how it reacts, modulo PIDs, ports, kernel IDs, session
// numbers, receipt names and hash order. The Go client offers Storable
// and FreezeThaw, never POE::Component::IKC::Freezer (ikc-protocol.md §16 #12), so
// that name is masked out of the capture's offers; where the capture
// offers Capture::LocalOnly (a serializer only that client can load) the
// Go client offers FreezeThaw, which the capture's server refuses the
// same way.
func TestClientReplay(t *testing.T) {
	noEval := ikctest.Masker{}.Add(`,POE::Component::IKC::Freezer`, "")
	localOnly := ikctest.Masker{}.Add(`Capture::LocalOnly`, "FreezeThaw")
	both := []string{"Storable", "FreezeThaw"}
	negotiation := []struct {
		id, capture, proto string
		fz                 []string
		m                  ikctest.Masker
	}{
		{"I27", "a-ikc-negotiation", "IKC", both, noEval},
		{"I28", "b-ikc0-negotiation", "IKC0", both, noEval},
		{"I29", "b2-ikc0-client-ikc-server", "IKC0", both, noEval},
		{"I30", "b3-ikc-client-ikc0-server", "IKC", both, noEval},
		{"I31", "b4-freezer-refused-ikc", "IKC", []string{"FreezeThaw", "Storable"}, localOnly},
		{"I31", "b5-freezer-refused-ikc0", "IKC0", []string{"FreezeThaw", "Storable"}, localOnly},
		{"I31", "b7-freezer-none-acceptable", "IKC0", []string{"FreezeThaw"}, localOnly},
	}
	for _, tc := range negotiation {
		t.Run(tc.id+"-"+tc.capture, func(t *testing.T) {
			c := replayClient(t, tc.capture, ClientOptions{Protocol: tc.proto, Serializers: tc.fz})
			want := c.perlLog(tc.capture, "register")
			got := c.monitors(len(want))
			if m := ikctest.BaseMask(); fmt.Sprint(mapStrings(got, m.Apply)) != fmt.Sprint(mapStrings(want, m.Apply)) {
				t.Errorf("register monitors:\n got  %q\n want %q", got, want)
			}
			c.finish(tc.m)
		})
	}
	t.Run("I33-c-post", func(t *testing.T) {
		c := replayClient(t, "c-post", ClientOptions{Serializers: both})
		c.monitors(4)
		c.n.Do(func(k *poe.Kernel) {
			Post(k, "poe://Server/test/posted", "hello") // from ctl: no published alias, no from
			k.AliasResolve("client").Do(func() {
				Post(k, "poe://Server/test/posted", map[string]any{
					"list": []any{1, -1, 300, "two", nil}, "number": 1.5, "text": "café ☺"})
				Post(k, protocol.Specifier{Kernel: "Server", Session: "test", State: "posted"}, []any{"a", "b"})
			})
		})
		time.Sleep(100 * time.Millisecond)
		c.finish(noEval)
	})
	t.Run("I34-d-call-rsvp", func(t *testing.T) {
		c := replayClient(t, "d-call-rsvp", ClientOptions{Serializers: both})
		c.monitors(4)
		c.n.Do(func(k *poe.Kernel) {
			// A session without published states calls, as client.pl's
			// session 2 did; answer states are not published (the rsvp
			// allowance lets the replies in).
			ikctest.Session(k, "caller", map[string]poe.Handler{ // an alias keeps it alive; no published states, so no from
				"_start": func(e *poe.Event) any {
					Call(k, "poe://Server/test/add", "poe:answer", []any{2, 3})
					Call(k, "poe://Server/test/nothing", "poe:answer", "x")
					Call(k, "poe://Server/test/echo", protocol.Specifier{Kernel: "Client", Session: "client", State: "answer"}, []any{"a", map[string]any{"b": 2}})
					Call(k, "poe://Server/IKC/ping", "poe:pong", "PING")
					return nil
				},
				"answer": func(e *poe.Event) any { c.rec <- []any{"answer", e.Arg(poe.ARG0)}; return nil },
				"pong":   func(e *poe.Event) any { c.rec <- []any{"pong", e.Arg(poe.ARG0)}; return nil },
			})
		})
		got := []string{}
		for i := 0; i < 3; i++ {
			v := c.rec.Wait(t)
			if v[0] == "mon" {
				i--
				continue
			}
			got = append(got, fmt.Sprintf("%v %v", v[0], FromValueString(v[1])))
		}
		want := []string{"answer 5", "answer [a map[b:2]]", "pong PONG"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("replies %q, want %q", got, want)
		}
		c.finish(noEval)
	})
	t.Run("I35-e-remote-error", func(t *testing.T) {
		c := replayClient(t, "e-remote-error", ClientOptions{Serializers: both})
		c.monitors(4)
		c.n.Do(func(k *poe.Kernel) {
			Post(k, "poe://Server/nosuch/state", 1)
			Post(k, "poe://Server/test/unpublished", 2)
		})
		want := c.perlLog("e-remote-error", "error")
		got := c.monitors(2)
		c.n.Do(func(k *poe.Kernel) {
			k.AliasResolve("client").Do(func() { Post(k, "poe://Server/nosuch/state", 3) })
		})
		got = append(got, c.monitors(1)...)
		c.n.Do(func(k *poe.Kernel) {
			to, _ := protocol.StringAddress("poe://Server/nosuch/state")
			ResponderOf(k).send(&protocol.Message{Event: to, Params: storable.Int(4), IsError: true}, nil)
		})
		m := ikctest.Masker{}.Add(regexp.QuoteMeta("vm-6b04914c-00002c97-00000001"), "<client-id>").Add(regexp.QuoteMeta(c.goID), "<client-id>")
		if fmt.Sprint(mapStrings(got, m.Apply)) != fmt.Sprint(mapStrings(want, m.Apply)) {
			t.Errorf("error monitors:\n got  %q\n want %q", got, want)
		}
		time.Sleep(100 * time.Millisecond)
		c.finish(noEval)
	})
	t.Run("I36-f-subscribe", func(t *testing.T) {
		c := replayClient(t, "f-subscribe", ClientOptions{Serializers: both})
		c.monitors(4)
		accepted := make(chan []string, 1)
		c.n.Do(func(k *poe.Kernel) {
			k.AliasResolve("client").Do(func() {
				err := Subscribe(k, []string{"poe://Server/test", "poe://Server/nosuch"}, func(ok []string) { accepted <- ok })
				if err != nil {
					t.Error(err)
				}
			})
		})
		// As client.pl: on the subscribe monitor event, post through the
		// proxy; the server answers YOW through its proxy SENDER.
		if got := c.monitors(1); !strings.HasPrefix(got[0], "subscribe ") || !strings.HasSuffix(got[0], " Server/test/") {
			t.Errorf("subscribe monitor %q", got)
		}
		c.n.Do(func(k *poe.Kernel) {
			k.AliasResolve("client").Do(func() { k.Post("poe://Server/test", "method", map[string]any{"type": "method"}) })
		})
		if v := c.rec.WaitFor(t, "YOW"); fmt.Sprint(v[1:]) != "[from server]" {
			t.Errorf("YOW got %v", v[1:])
		}
		select {
		case ok := <-accepted:
			if fmt.Sprint(ok) != "[poe://Server/test]" {
				t.Errorf("accepted %v", ok)
			}
		case <-time.After(ikctest.Timeout):
			t.Fatal("subscription callback not called")
		}
		c.finish(ikctest.Masker{}.Add(`,POE::Component::IKC::Freezer`, "").Add(`IKC:receipt \d+ CODE\(0x[0-9a-f]+\)`, "IKC:receipt <n> <callback>"))
	})
}

func mapStrings(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// FromValueString formats a handler argument for comparisons.
func FromValueString(v any) string { return fmt.Sprint(v) }

func isMap(v any) bool { _, ok := v.(map[string]any); return ok }
