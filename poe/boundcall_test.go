package poe_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/poe-go/poe/poe"
)

// A BoundCall gives what Call gives: the same Event fields, the handler's
// value, a List's last element, the new handler after SetState, _default
// when the state goes, and a trapped call when it is not a self-call.
func TestBoundCallMatchesCall(t *testing.T) {
	type seen struct {
		state, caller string
		sender        *poe.Session
		args          []any
		obj           any
	}
	var got []seen
	on := false // recording only the calls of "go" (_default also gets _child)
	record := func(tag string) poe.Handler {
		return func(e *poe.Event) any {
			if on {
				got = append(got, seen{e.State, e.CallerState, e.Sender, append([]any(nil), e.Args...), e.Object})
			}
			return tag
		}
	}
	var other *poe.Session
	var direct, bound []any
	k := poe.NewKernel(nil)
	obj := &struct{ n int }{}
	_, err := k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.Yield("go")
			return nil
		},
		"go": func(e *poe.Event) any {
			s, k := e.Session, e.Kernel
			c := k.BindCall(s, "in")
			on = true
			defer func() { on = false }()
			for i := 0; i < 2; i++ {
				r, _ := k.Call(s, "in", "rec", i)
				direct = append(direct, r)
				bound = append(bound, c.Call("rec", i))
			}
			// A List gives its last element.
			s.SetState("in", func(e *poe.Event) any { return poe.List{"a", "b"} }, nil)
			r, _ := k.Call(s, "in")
			direct, bound = append(direct, r), append(bound, c.Call())
			// A new handler (an object state) after SetState.
			s.SetState("in", record("obj"), obj)
			r, _ = k.Call(s, "in", 7)
			direct, bound = append(direct, r), append(bound, c.Call(7))
			// The state gone: _default gets (event, args).
			s.SetState("in", nil, nil)
			r, _ = k.Call(s, "in", 8)
			direct, bound = append(direct, r), append(bound, c.Call(8))
			// Not a self-call: into another session, trapped there.
			oc := k.BindCall(other, "boom")
			direct, bound = append(direct, oc.Call()), append(bound, oc.Call())
			return nil
		},
		"in":       record("in"),
		"_default": record("default"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	var dies int
	other, _ = k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any { e.Kernel.Sig("DIE", "died"); return nil },
		"boom":   func(e *poe.Event) any { panic(errors.New("boom")) },
		"died":   func(e *poe.Event) any { dies++; e.Kernel.SigHandled(); return nil },
	}})
	if err := k.Run(); err != nil {
		t.Fatal(err)
	}
	want := []any{"in", "in", "b", "obj", "default", nil}
	for i := range want {
		if direct[i] != want[i] || bound[i] != want[i] {
			t.Errorf("return %d: Call %v, BoundCall %v, want %v", i, direct[i], bound[i], want[i])
		}
	}
	if dies != 2 {
		t.Errorf("a trapped call into another session: %d DIE signals, want 2", dies)
	}
	// Each pair of records (Call, then BoundCall) must be equal.
	if len(got)%2 != 0 {
		t.Fatalf("%d handler runs, want pairs", len(got))
	}
	for i := 0; i < len(got); i += 2 {
		a, b := got[i], got[i+1]
		if a.state != b.state || a.caller != b.caller || a.sender != b.sender || a.obj != b.obj || len(a.args) != len(b.args) {
			t.Errorf("run %d: Call saw %+v, BoundCall %+v", i/2, a, b)
			continue
		}
		if !reflect.DeepEqual(a.args, b.args) {
			t.Errorf("run %d: args %v against %v", i/2, a.args, b.args)
		}
	}
	if len(got) != 8 {
		t.Errorf("%d handler runs, want 8 (in twice, obj, default: each by Call and BoundCall)", len(got))
	}
}

// A fatal error raised under a bound self-call reaches the calling
// handler even when the callee swallows the panic that carried it, as
// under Call: the kernel stops with it.
func TestBoundCallFatalPropagates(t *testing.T) {
	for _, bound := range []bool{false, true} {
		k := poe.NewKernel(nil)
		after := false
		var other *poe.Session
		_, err := k.Create(poe.Spec{Inline: map[string]poe.Handler{
			"_start": func(e *poe.Event) any { e.Kernel.Yield("go"); return nil },
			"go": func(e *poe.Event) any {
				if bound {
					e.Kernel.BindCall(e.Session, "in").Call()
				} else {
					e.Kernel.Call(e.Session, "in")
				}
				after = true
				return nil
			},
			"in": func(e *poe.Event) any {
				defer func() { recover() }()
				e.Kernel.Call(other, "_stop") // a panic in _stop is fatal
				return nil
			},
		}})
		if err != nil {
			t.Fatal(err)
		}
		other, _ = k.Create(poe.Spec{Inline: map[string]poe.Handler{
			"_start": func(e *poe.Event) any { return nil },
			"_stop":  func(e *poe.Event) any { panic("fatal in _stop") },
		}})
		runErr := k.Run()
		if runErr == nil || after {
			t.Errorf("bound=%v: Run returned %v and the caller went on: %v; want the fatal error, caller stopped", bound, runErr, after)
		}
	}
}

func BenchmarkBoundCall(b *testing.B) {
	for _, mode := range []string{"Call", "BoundCall"} {
		b.Run(mode, func(b *testing.B) {
			k := poe.NewKernel(nil)
			k.Create(poe.Spec{Inline: map[string]poe.Handler{
				"_start": func(e *poe.Event) any { e.Kernel.Yield("go"); return nil },
				"go": func(e *poe.Event) any {
					c := e.Kernel.BindCall(e.Session, "in")
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if mode == "Call" {
							e.Kernel.Call(e.Session, "in", "rec", 1)
						} else {
							c.Call("rec", 1)
						}
					}
					return nil
				},
				"in": func(e *poe.Event) any { return nil },
			}})
			if err := k.Run(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// A wheel-like loop calls one event of its session for every record, the
// handler bound once.
func ExampleKernel_BindCall() {
	k := poe.NewKernel(nil)
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			input := e.Kernel.BindCall(e.Session, "input")
			for _, line := range []string{"one", "two"} {
				input.Call(line, 1)
			}
			return nil
		},
		"input": func(e *poe.Event) any {
			fmt.Println(e.String(poe.ARG0), "from wheel", e.Int(poe.ARG1))
			return nil
		},
	}})
	k.Run()
	// Output:
	// one from wheel 1
	// two from wheel 1
}
