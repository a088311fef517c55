package ikc

import (
	"testing"

	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/poe"
)

func TestSmokePostCall(t *testing.T) {
	rec := ikctest.NewRecorder()
	var port int
	ikctest.StartNode(t, func(k *poe.Kernel) {
		s, err := NewServer(k, ServerOptions{IP: "127.0.0.1", Port: EphemeralPort, Name: "Inet", Aliases: []string{"Ikc"}, Protocol: "IKC"})
		if err != nil {
			t.Fatal(err)
		}
		port = s.Port()
		ts := ikctest.Session(k, "test", map[string]poe.Handler{
			"posted": rec.Handler("posted", nil),
			"called": rec.Handler("called", int64(4)),
		})
		if err := Publish(k, ts, "posted", "called"); err != nil {
			t.Fatal(err)
		}
	})
	ikctest.StartNode(t, func(k *poe.Kernel) {
		ikctest.Session(k, "client", map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				_, err := NewClient(e.Kernel, ClientOptions{
					Host: "127.0.0.1", Port: port, Name: "InetClient",
					OnError: func(op string, errno int, text string) { rec <- []any{"error", op, errno, text} },
					OnConnect: func() {
						k.Post("client", "go")
					},
				})
				if err != nil {
					t.Error(err)
				}
				return nil
			},
			"go": func(e *poe.Event) any {
				if _, err := Post(e.Kernel, "poe://Inet/test/posted", []any{"posted", "InetClient"}); err != nil {
					t.Error(err)
				}
				if _, err := Call(e.Kernel, "poe://Ikc/test/called", "poe:callback", "called"); err != nil {
					t.Error(err)
				}
				return nil
			},
			"callback": rec.Handler("callback", nil),
		})
	})
	got := rec.WaitFor(t, "posted")
	t.Logf("posted: %#v", got)
	got = rec.WaitFor(t, "callback")
	t.Logf("callback: %#v", got)
}

// TestGoAPI covers the Go-style entry points: CallFunc, several arguments
// (sent through IKC:proxy), the Perl-style IKC/post event, and a string
// rsvp with ?args (echoed as the reply's event, the word passed as ARG1).
func TestGoAPI(t *testing.T) {
	rec := ikctest.NewRecorder()
	var port int
	ikctest.StartNode(t, func(k *poe.Kernel) {
		s, err := NewServer(k, ServerOptions{IP: "127.0.0.1", Port: EphemeralPort, Name: "Pulse"})
		if err != nil {
			t.Fatal(err)
		}
		port = s.Port()
		ts := ikctest.Session(k, "Service", map[string]poe.Handler{
			"sum": func(e *poe.Event) any {
				n := int64(0)
				for _, a := range e.Args {
					n += a.(int64)
				}
				return n
			},
			"event": func(e *poe.Event) any { rec <- []any{"event", e.Arg(poe.ARG0)}; return nil },
		})
		Publish(k, ts, "sum", "event")
	})
	ikctest.StartNode(t, func(k *poe.Kernel) {
		cs := ikctest.Session(k, "client", map[string]poe.Handler{
			"go": func(e *poe.Event) any {
				CallFunc(e.Kernel, "poe://Pulse/Service/sum", func(v any) { rec <- []any{"sum", v} }, 1, 2, 3)
				e.Kernel.Post("IKC", "post", "Pulse/Service/event", "perl-style")
				Call(e.Kernel, "poe://Pulse/Service/sum", "poe:/client/answer?tag", 40, 2)
				return nil
			},
			"answer": func(e *poe.Event) any { rec <- []any{"answer", e.Arg(poe.ARG0), e.Arg(poe.ARG1)}; return nil },
		})
		cs.Do(func() {
			NewClient(k, ClientOptions{Host: "127.0.0.1", Port: port, OnConnect: func() { k.Post(cs, "go") }})
		})
	})
	got := map[string][]any{}
	for len(got) < 3 {
		g := rec.Wait(t)
		got[g[0].(string)] = g
	}
	if g := got["sum"]; g[1] != int64(6) {
		t.Errorf("CallFunc result %#v", g[1])
	}
	if g := got["event"]; g[1] != "perl-style" {
		t.Errorf("IKC/post delivered %#v", g[1])
	}
	if g := got["answer"]; g[1] != int64(42) || g[2] != "tag" {
		t.Errorf("answer %#v", g[1:])
	}
}
