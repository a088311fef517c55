package ikc

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/poe"
)

// TestConformanceMonitor is t/40_monitor.t (ikc-protocol.md I19-I24): server
// "Parent" on 127.0.0.1, client "Child".
func TestConformanceMonitor(t *testing.T) {
	prec, crec := ikctest.NewRecorder(), ikctest.NewRecorder()
	var port int
	parent := ikctest.StartNode(t, func(k *poe.Kernel) {
		s, err := NewServer(k, ServerOptions{Port: EphemeralPort, IP: "127.0.0.1", Name: "Parent"})
		if err != nil {
			t.Error(err)
			return
		}
		port = s.Port()
		ps := ikctest.Session(k, "parent", map[string]poe.Handler{
			"req": func(e *poe.Event) any {
				m, _ := e.Arg(poe.ARG0).(map[string]any)
				prec <- []any{"req", fmt.Sprint(m)}
				e.Kernel.Post("IKC", "post", m["resp"], 17)
				return nil
			},
			"error": func(e *poe.Event) any {
				prec <- []any{"error", e.Arg(poe.ARG0), e.Arg(poe.ARG1), e.Arg(poe.ARG4), e.Arg(poe.ARG5)}
				return nil
			},
			"unregister": func(e *poe.Event) any { prec <- []any{"unregister", e.Arg(poe.ARG1)}; return nil },
			"channel": func(e *poe.Event) any {
				if e.Bool(poe.ARG2) {
					prec <- []any{"channel", e.Arg(poe.ARG4), e.Arg(poe.ARG5)}
				}
				return nil
			},
			"done": func(e *poe.Event) any {
				Shutdown(e.Kernel)
				ikctest.ReleaseKernel(e.Kernel)
				return nil
			},
		})
		ps.Do(func() {
			Publish(k, ps, "req")
			Monitor(k, "Parent", map[string]string{"error": "error"}, nil)
			Monitor(k, "Child", map[string]string{"error": "error", "unregister": "unregister"}, nil)
			Monitor(k, "*", map[string]string{"channel": "channel"}, nil)
		})
	})
	child := ikctest.StartNode(t, func(k *poe.Kernel) {
		cs := ikctest.Session(k, "child", map[string]poe.Handler{
			"registered": func(e *poe.Event) any {
				Subscribe(e.Kernel, []string{"poe://Parent/parent", "poe://Parent/unknown", "poe://Unknown/unknown"}, "subscribed")
				return nil
			},
			"error": func(e *poe.Event) any {
				crec <- []any{"error", e.Arg(poe.ARG1), e.Arg(poe.ARG4), e.Arg(poe.ARG5)}
				return nil
			},
			"subscribe": func(e *poe.Event) any {
				if e.Bool(poe.ARG2) || e.String(poe.ARG1) == "Parent" {
					crec <- []any{"subscribe", e.Arg(poe.ARG1), e.Arg(poe.ARG4)}
				}
				return nil
			},
			"subscribed": func(e *poe.Event) any {
				crec <- []any{"subscribed", e.Arg(poe.ARG0)}
				e.Kernel.Post("IKC", "post", "poe://Parent/not/there", "x")
				e.Kernel.Post("poe://Parent/parent", "req", map[string]any{"resp": "poe://Child/child/resp"})
				return nil
			},
			"resp": func(e *poe.Event) any {
				crec <- []any{"resp", e.Arg(poe.ARG0)}
				Shutdown(e.Kernel)
				ikctest.ReleaseKernel(e.Kernel)
				return nil
			},
		})
		cs.Do(func() {
			Publish(k, cs, "resp")
			Monitor(k, "Parent", map[string]string{"register": "registered", "subscribe": "subscribe"}, nil)
			Monitor(k, "*", map[string]string{"error": "error"}, nil)
			NewClient(k, ClientOptions{Name: "Child", Host: "127.0.0.1", Port: port,
				OnError: func(op string, errno int, text string) { crec <- []any{"on_error", op, text} }})
		})
	})

	// Collect the child's view until its resp, then the parent's until
	// the child's unregister.
	var cev [][]any
	for {
		got := crec.Wait(t)
		cev = append(cev, got)
		if got[0] == "resp" {
			break
		}
	}
	// The error report may be dispatched after resp (monitor callbacks
	// are posted, resp is called): wait for it a little.
	for deadline := time.After(2 * time.Second); ; {
		select {
		case got := <-crec:
			cev = append(cev, got)
			if got[0] != "error" || got[2] != "remote-check" {
				continue
			}
		case <-deadline:
		}
		break
	}
	var pev [][]any
	for {
		got := prec.Wait(t)
		pev = append(pev, got)
		if got[0] == "unregister" && got[1] == "Child" {
			break
		}
	}
	find := func(evs [][]any, pred func(e []any) bool) []any {
		for _, e := range evs {
			if pred(e) {
				return e
			}
		}
		return nil
	}
	str := func(v any) string { s, _ := v.(string); return s }
	noNewline := func(t *testing.T, evs [][]any) {
		for _, e := range evs {
			if e[0] == "error" {
				for _, v := range e[1:] {
					if strings.HasSuffix(str(v), "\n") {
						t.Errorf("error text ends with a newline: %q", v)
					}
				}
			}
		}
	}

	t.Run("I19", func(t *testing.T) {
		if find(cev, func(e []any) bool {
			return e[0] == "error" && e[2] == "resolve" && strings.Contains(str(e[3]), "Unknown kernel 'Unknown'")
		}) == nil {
			t.Errorf("no resolve error: %v", cev)
		}
		if find(cev, func(e []any) bool {
			return e[0] == "error" && e[2] == "subscribe" && strings.Contains(str(e[3]), "Unknown kernel Unknown")
		}) == nil {
			t.Errorf("no subscribe error for Unknown: %v", cev)
		}
	})
	t.Run("I20", func(t *testing.T) {
		if find(cev, func(e []any) bool {
			return e[0] == "error" && e[2] == "subscribe" && strings.Contains(str(e[3]), "Refused subscription")
		}) == nil {
			t.Errorf("no refused subscription: %v", cev)
		}
	})
	t.Run("I21", func(t *testing.T) {
		e := find(cev, func(e []any) bool { return e[0] == "subscribe" })
		if e == nil {
			t.Fatalf("no subscribe monitor: %v", cev)
		}
		if m, _ := e[2].(map[string]any); m["kernel"] != "Parent" || m["session"] != "parent" {
			t.Errorf("subscribe ARG4 = %#v", e[2])
		}
		if s := find(cev, func(e []any) bool { return e[0] == "subscribed" }); s == nil || fmt.Sprint(s[1]) != "[poe://Parent/parent]" {
			t.Errorf("subscribe callback: %v", s)
		}
	})
	t.Run("I22", func(t *testing.T) {
		if find(pev, func(e []any) bool {
			return e[0] == "error" && e[1] == "Parent" && e[3] == "local-check" && strings.Contains(str(e[4]), "poe://Parent/not/there")
		}) == nil {
			t.Errorf("parent: no local-check error: %v", pev)
		}
		if find(cev, func(e []any) bool {
			return e[0] == "error" && e[2] == "remote-check" && strings.HasPrefix(str(e[3]), "Session 'not'")
		}) == nil {
			t.Errorf("child: no remote-check error: %v", cev)
		}
		noNewline(t, cev)
		noNewline(t, pev)
	})
	t.Run("I23", func(t *testing.T) {
		if find(pev, func(e []any) bool { return e[0] == "req" && e[1] == "map[resp:poe://Child/child/resp]" }) == nil {
			t.Errorf("parent req: %v", pev)
		}
		if e := find(cev, func(e []any) bool { return e[0] == "resp" }); e[1] != int64(17) {
			t.Errorf("child resp %#v, want 17", e[1])
		}
	})
	t.Run("I24", func(t *testing.T) {
		if find(pev, func(e []any) bool {
			return e[0] == "error" && e[1] == "Child" && e[3] == "channel-read" && (e[4] == "[0] " || e[4] == "[104] ")
		}) == nil {
			t.Errorf("no channel-read error for Child: %v", pev)
		}
		ready := find(pev, func(e []any) bool { return e[0] == "channel" && e[1] == "ready" })
		closed := find(pev, func(e []any) bool { return e[0] == "channel" && e[1] == "close" })
		if ready == nil || closed == nil {
			t.Fatalf("channel ready/close: %v", pev)
		}
		if _, ok := ready[2].(poe.SessionID); !ok || ready[2] != closed[2] {
			t.Errorf("channel IDs %v / %v", ready[2], closed[2])
		}
		if find(cev, func(e []any) bool { return e[0] == "on_error" }) != nil {
			t.Errorf("on_error called: %v", cev)
		}
		parent.K.PostFromGoroutine("parent", "done")
		if !parent.Exited() || !child.Exited() {
			t.Fatal("kernels did not exit")
		}
	})
}
