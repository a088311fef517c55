package ikc

import (
	"reflect"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/poe"
)

// TestConformanceLocal is t/30_local.t (ikc-protocol.md I13): IKC/call to the
// local kernel's own name, no network peer.
func TestConformanceLocal(t *testing.T) {
	t.Run("I13", func(t *testing.T) {
		rec := ikctest.NewRecorder()
		n := ikctest.StartNode(t, func(k *poe.Kernel) {
			if _, err := NewServer(k, ServerOptions{IP: "127.0.0.1", Port: EphemeralPort, Name: "Inet", Aliases: []string{"Ikc"}}); err != nil {
				t.Error(err)
				return
			}
			ts := ikctest.Session(k, "test", map[string]poe.Handler{
				"called": func(e *poe.Event) any { rec <- []any{"called", e.Arg(poe.ARG0)}; return 4 },
			})
			k.Post("IKC", "publish", "test", []string{"called"})
			_ = ts
			ikctest.Session(k, "caller", map[string]poe.Handler{
				"_start": func(e *poe.Event) any {
					Monitor(e.Kernel, "*", map[string]string{"shutdown": "shutdown"}, nil)
					e.Kernel.Post("IKC", "call", "poe://Inet/test/called", "", "poe:callback")
					return nil
				},
				"callback": func(e *poe.Event) any {
					rec <- []any{"callback", e.Arg(poe.ARG0)}
					e.Kernel.Post("IKC", "shutdown")
					ikctest.ReleaseKernel(e.Kernel)
					return nil
				},
				"shutdown": rec.Handler("shutdown", nil),
			})
		})
		if got := rec.WaitFor(t, "called"); got[1] != "" {
			t.Errorf("called ARG0 = %#v, want \"\"", got[1])
		}
		if got := rec.WaitFor(t, "callback"); got[1] != int64(4) {
			t.Errorf("callback ARG0 = %#v, want 4", got[1])
		}
		rec.WaitFor(t, "shutdown")
		if !n.Exited() {
			t.Fatal("kernel did not exit by itself")
		}
	})
}

// TestConformanceThunk is t/32_thunk.t (ikc-protocol.md I15-I17): answers
// through SENDER, thunk reuse, a fresh thunk while one is held.
func TestConformanceThunk(t *testing.T) {
	srec, crec := ikctest.NewRecorder(), ikctest.NewRecorder()
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
			"post1": func(e *poe.Event) any {
				srec <- []any{"post1", e.Sender.ID()}
				e.Kernel.Post(e.Sender, "resp1", e.Arg(poe.ARG0))
				return nil
			},
			"post2": func(e *poe.Event) any {
				srec <- []any{"post2", e.Sender.ID()}
				held = e.Sender.ID()
				e.Kernel.RefcountIncrement(held, "later")
				args := e.Slice(poe.ARG0)
				e.Kernel.Delay("later", 50*time.Millisecond, args...)
				return nil
			},
			"later": func(e *poe.Event) any {
				e.Kernel.Post(held, "resp2", e.Args...)
				return nil
			},
			"post3": func(e *poe.Event) any {
				srec <- []any{"post3", e.Sender.ID()}
				e.Kernel.Post(e.Sender, "resp3", e.Arg(poe.ARG0))
				return nil
			},
			"done": func(e *poe.Event) any {
				srec <- []any{"done", e.Sender.ID()}
				e.Kernel.RefcountDecrement(held, "later")
				return nil
			},
		})
		Publish(k, ts, "post1", "post2", "post3", "done")
	})
	ikctest.StartNode(t, func(k *poe.Kernel) {
		cs := ikctest.Session(k, "client", map[string]poe.Handler{
			"go": func(e *poe.Event) any { Post(e.Kernel, "poe://Ikc/test/post1", "I am"); return nil },
			"resp1": func(e *poe.Event) any {
				crec <- []any{"resp1", append([]any(nil), e.Args...)}
				Post(e.Kernel, "poe://Ikc/test/post2", []any{"IRON", "MAN"})
				return nil
			},
			"resp2": func(e *poe.Event) any {
				crec <- []any{"resp2", append([]any(nil), e.Args...)}
				Post(e.Kernel, "poe://Ikc/test/post3", []any{})
				return nil
			},
			"resp3": func(e *poe.Event) any {
				crec <- []any{"resp3", append([]any(nil), e.Args...)}
				Post(e.Kernel, "poe://Ikc/test/done", nil)
				return nil
			},
		})
		cs.Do(func() {
			Publish(k, cs, "resp1", "resp2", "resp3")
			NewClient(k, ClientOptions{Name: "Thunk1Client", Host: "127.0.0.1", Port: port,
				OnConnect: func() { k.Post(cs, "go") }})
		})
	})
	var ids [4]poe.SessionID
	for i, name := range []string{"post1", "post2", "post3", "done"} {
		got := srec.WaitFor(t, name)
		ids[i] = got[1].(poe.SessionID)
	}
	r1, r2, r3 := crec.WaitFor(t, "resp1"), crec.WaitFor(t, "resp2"), crec.WaitFor(t, "resp3")
	t.Run("I15", func(t *testing.T) {
		if !reflect.DeepEqual(r1[1], []any{"I am"}) {
			t.Errorf("resp1 args %#v", r1[1])
		}
	})
	t.Run("I16", func(t *testing.T) {
		if ids[1] != ids[0] {
			t.Errorf("post2 SENDER %d, want the same thunk as post1 (%d)", ids[1], ids[0])
		}
		if !reflect.DeepEqual(r2[1], []any{"IRON", "MAN"}) {
			t.Errorf("resp2 args %#v, want IRON, MAN", r2[1])
		}
	})
	t.Run("I17", func(t *testing.T) {
		if ids[2] == ids[1] {
			t.Errorf("post3 SENDER %d is the held thunk", ids[2])
		}
		if ids[3] != ids[2] {
			t.Errorf("done SENDER %d, want post3's %d", ids[3], ids[2])
		}
		if !reflect.DeepEqual(r3[1], []any{[]any{}}) {
			t.Errorf("resp3 args %#v, want one empty array", r3[1])
		}
	})
}
