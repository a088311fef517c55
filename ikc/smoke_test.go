package ikc

import (
	"testing"

	"github.com/poe-go/poe/poe"
)

func TestSmokePostCall(t *testing.T) {
	rec := newRecorder()
	var port int
	startNode(t, func(k *poe.Kernel) {
		s, err := NewServer(k, ServerOptions{Name: "Inet", Aliases: []string{"Ikc"}, Protocol: "IKC"})
		if err != nil {
			t.Fatal(err)
		}
		port = s.Port()
		ts := session(k, "test", map[string]poe.Handler{
			"posted": rec.handler("posted", nil),
			"called": rec.handler("called", int64(4)),
		})
		if err := Publish(k, ts, "posted", "called"); err != nil {
			t.Fatal(err)
		}
	})
	startNode(t, func(k *poe.Kernel) {
		session(k, "client", map[string]poe.Handler{
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
			"callback": rec.handler("callback", nil),
		})
	})
	got := rec.waitFor(t, "posted")
	t.Logf("posted: %#v", got)
	got = rec.waitFor(t, "callback")
	t.Logf("callback: %#v", got)
}
