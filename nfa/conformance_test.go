package nfa_test

// Tests derived from poe-test-loops' ses_nfa.pm (a push-button light, a
// stopping machine, a Fibonacci server on call_state/return_state, kernel
// states and options in a machine) and POE's t/10_units/03_base/
// 16_nfa_usage.t (spawn's argument checks).

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/poe-go/poe/nfa"
	"github.com/poe-go/poe/poe"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// run runs k to its end, bounded in time.
func run(t *testing.T, k *poe.Kernel) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := k.RunContext(ctx)
	if ctx.Err() != nil {
		t.Fatalf("the kernel did not finish within 5s")
	}
	return err
}

func diff(t *testing.T, got, want []string) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("log mismatch (-want +got):\n%s", d)
	}
}

// lightSwitch is ses_nfa.pm's Switch object: the "on" state's handlers.
type lightSwitch struct{ objects []any }

func (s *lightSwitch) Enter(e *nfa.Event) any {
	s.objects = append(s.objects, e.Object)
	if err := e.Kernel.Post(e.Arg(nfa.ARG0), "visibility", 1); err != nil {
		panic(err)
	}
	return nil
}

func (s *lightSwitch) Pushed(e *nfa.Event) any {
	return e.Machine.GotoState("off", "enter", e.Sender)
}

func (s *lightSwitch) Default(*nfa.Event) any { return 0 }

func TestPushButtonLightOverPackageAndObjectStates(t *testing.T) {
	k := poe.NewKernel(nil)
	sw := &lightSwitch{}
	var initialObject, offObjects []any
	_, err := nfa.Spawn(k, nfa.Spec{
		Inline: map[string]nfa.States{
			"initial": {
				"start": func(e *nfa.Event) any {
					initialObject = append(initialObject, e.Object)
					must(t, e.Kernel.AliasSet("switch"))
					return e.Machine.GotoState("off", "")
				},
				"_default": func(*nfa.Event) any { return 0 },
			},
		},
		Packages: map[string][]nfa.Group{
			"off": {nfa.Package("Switch", map[string]nfa.Handler{
				"enter": func(e *nfa.Event) any {
					offObjects = append(offObjects, e.Object)
					must(t, e.Kernel.Post(e.Arg(nfa.ARG0), "visibility", 0))
					return nil
				},
				"pushed":   func(e *nfa.Event) any { return e.Machine.GotoState("on", "enter", e.Sender) },
				"_default": func(*nfa.Event) any { return 0 },
			})},
		},
		Objects: map[string][]nfa.Group{
			"on": {nfa.Object(sw, "enter", "pushed", "_default")},
		},
		StartState: "initial",
		StartEvent: "start",
	})
	must(t, err)

	var seen []string
	pushes := 0
	_, err = k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			must(t, e.Kernel.AliasSet("operator"))
			e.Kernel.Yield("push")
			return nil
		},
		"push": func(e *poe.Event) any {
			pushes++
			must(t, e.Kernel.Post("switch", "pushed"))
			return nil
		},
		"visibility": func(e *poe.Event) any {
			seen = append(seen, fmt.Sprintf("push %d light %d", pushes, e.Int(poe.ARG0)))
			if pushes < 10 {
				e.Kernel.Yield("push")
			}
			return nil
		},
	}})
	must(t, err)
	must(t, run(t, k))

	var want []string
	for i := 1; i <= 10; i++ {
		want = append(want, fmt.Sprintf("push %d light %d", i, i&1))
	}
	diff(t, seen, want)
	if d := cmp.Diff([]any{nil}, initialObject); d != "" {
		t.Errorf("inline OBJECT (-want +got):\n%s", d)
	}
	for _, o := range offObjects {
		if o != "Switch" {
			t.Errorf("package state OBJECT = %v, want the package name", o)
		}
	}
	if len(offObjects) != 5 || len(sw.objects) != 5 {
		t.Errorf("entered off %d and on %d times, want 5 and 5", len(offObjects), len(sw.objects))
	}
	for _, o := range sw.objects {
		if o != sw {
			t.Errorf("object state OBJECT = %v, want the object", o)
		}
	}
}

func TestStopEndsMachineHoldingAliasAndTimer(t *testing.T) {
	k := poe.NewKernel(nil)
	var log []string
	m, err := nfa.Spawn(k, nfa.Spec{Inline: map[string]nfa.States{
		"initial": {
			"start": func(e *nfa.Event) any {
				must(t, e.Kernel.AliasSet("stopper"))
				must(t, e.Kernel.Delay("late", time.Minute))
				e.Kernel.Yield("queued")
				must(t, e.Machine.Stop())
				e.Kernel.Yield("after_stop")
				log = append(log, "start")
				return nil
			},
			"queued":     func(*nfa.Event) any { log = append(log, "queued"); return nil },
			"after_stop": func(*nfa.Event) any { log = append(log, "after_stop"); return nil },
			"late":       func(*nfa.Event) any { log = append(log, "late"); return nil },
		},
	}, StartState: "initial", StartEvent: "start"})
	must(t, err)
	start := time.Now()
	must(t, run(t, k))
	if time.Since(start) > 10*time.Second {
		t.Errorf("Run took %v", time.Since(start))
	}
	// The stop is queued FIFO: what was queued before it runs, what after
	// it is dropped with the machine.
	diff(t, log, []string{"start", "queued"})
	if m.Session().Alive() {
		t.Error("the machine's session is still alive")
	}
	if err := m.Stop(); err == nil {
		t.Error("Stop on a stopped machine: no error")
	}
}

func TestFibonacciServerOnCallStateAndReturnState(t *testing.T) {
	k := poe.NewKernel(nil)
	type fib struct {
		client   *poe.Session
		f        [2]int
		n, limit int
	}
	ignore := func(*nfa.Event) any { return 0 }
	_, err := nfa.Spawn(k, nfa.Spec{
		Runstate: &fib{},
		Inline: map[string]nfa.States{
			"initial": {
				"start": func(e *nfa.Event) any {
					must(t, e.Kernel.AliasSet("server"))
					return e.Machine.GotoState("listen", "")
				},
				"_default": ignore,
			},
			"listen": {
				"request": func(e *nfa.Event) any {
					nfa.RunstateOf[*fib](e).client = e.Sender
					return e.Machine.CallState("answer", "calculate", "start", e.Int(nfa.ARG0))
				},
				"answer": func(e *nfa.Event) any {
					r := nfa.RunstateOf[*fib](e)
					must(t, e.Kernel.Post(r.client, "fib", e.Int(nfa.ARG0)))
					r.client = nil
					return nil
				},
				"_default": ignore,
			},
			"calculate": {
				"start": func(e *nfa.Event) any {
					// As ses_nfa.pm: returning does not end the handler, and
					// the "next" it yields lands in listen's _default.
					if n := e.Int(nfa.ARG0); n == 0 || n == 1 {
						must(t, e.Machine.ReturnState(n))
					}
					r := nfa.RunstateOf[*fib](e)
					r.f, r.n, r.limit = [2]int{0, 1}, 1, e.Int(nfa.ARG0)
					e.Kernel.Yield("next")
					return nil
				},
				"next": func(e *nfa.Event) any {
					r := nfa.RunstateOf[*fib](e)
					r.n++
					r.f = [2]int{r.f[1], r.f[0] + r.f[1]}
					if r.n == r.limit {
						must(t, e.Machine.ReturnState(r.f[1]))
					} else {
						e.Kernel.Yield("next")
					}
					return nil
				},
				"_default": ignore,
			},
		},
		StartState: "initial",
		StartEvent: "start",
	})
	must(t, err)

	tests := [][2]int{{0, 0}, {1, 1}, {2, 1}, {3, 2}, {4, 3}, {5, 5}, {17, 1597}, {23, 28657}, {29, 514229}, {43, 433494437}}
	var got, want []string
	for _, tc := range tests {
		want = append(want, fmt.Sprintf("fib(%d) = %d", tc[0], tc[1]))
	}
	_, err = k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			must(t, e.Kernel.AliasSet("client"))
			e.Kernel.Yield("next_test")
			return nil
		},
		"next_test": func(e *poe.Event) any {
			must(t, e.Kernel.Post("server", "request", tests[len(got)][0]))
			return nil
		},
		"fib": func(e *poe.Event) any {
			got = append(got, fmt.Sprintf("fib(%d) = %d", tests[len(got)][0], e.Int(poe.ARG0)))
			if len(got) < len(tests) {
				e.Kernel.Yield("next_test")
			}
			return nil
		},
	}})
	must(t, err)
	must(t, run(t, k))
	diff(t, got, want)
}

func TestKernelStateOptionsCallbackAndPostbackInMachine(t *testing.T) {
	k := poe.NewKernel(nil)
	var log []string
	add := func(f string, a ...any) { log = append(log, fmt.Sprintf(f, a...)) }
	var pb *poe.Postback
	_, err := nfa.Spawn(k, nfa.Spec{Inline: map[string]nfa.States{
		"initial": {
			"start": func(e *nfa.Event) any {
				must(t, e.Kernel.AliasSet("dynamicstates"))
				must(t, e.Machine.GotoState("listen", "send"))
				// A handler installed with the kernel's State (as a wheel
				// does) is the session's own, whatever the machine's state.
				must(t, e.Kernel.State("test_wheel_event", func(pe *poe.Event) any {
					pe.Kernel.Yield("happened")
					return nil
				}))
				m := e.Machine
				orig := m.SetOption("default", 1)
				v, _ := m.Option("default")
				add("default set to %v", v)
				add("reset returns %v", m.SetOption("default", orig))
				_, set := m.Option("default")
				add("default after reset set=%v", set)

				cb := m.Callback("callback")
				add("callback returned %v", cb.Call())
				cb.Release()
				pb = m.Postback("postback")
				pb.Post()
				return nil
			},
			"_default": func(*nfa.Event) any { return 0 },
			"callback": func(e *nfa.Event) any { add("callback in %s", e.State); return "cb" },
			"postback": func(e *nfa.Event) any { add("postback in %s (wrong state)", e.State); return nil },
		},
		"listen": {
			"send": func(e *nfa.Event) any { e.Kernel.Yield("test_wheel_event"); return nil },
			"happened": func(e *nfa.Event) any {
				add("happened in %s, current %s, same runstate %v", e.State, e.Machine.CurrentState(),
					fmt.Sprintf("%p", e.Runstate) == fmt.Sprintf("%p", e.Machine.Runstate()))
				return nil
			},
			"callback": func(e *nfa.Event) any { add("callback in %s (wrong state)", e.State); return nil },
			"postback": func(e *nfa.Event) any {
				add("postback in %s", e.State)
				pb.Release()
				return nil
			},
		},
	}, StartState: "initial", StartEvent: "start"})
	must(t, err)
	must(t, run(t, k))
	diff(t, log, []string{
		"default set to 1",
		"reset returns 1",
		"default after reset set=false",
		"callback in initial",
		"callback returned cb",
		"postback in listen",
		"happened in listen, current listen, same runstate true",
	})
}

// onlyFoo has the one method 16_nfa_usage.t's package states name.
type onlyFoo struct{}

func (onlyFoo) Foo(*nfa.Event) any { return nil }

func TestSpawnChecksItsArguments(t *testing.T) {
	start := func(*nfa.Event) any { return nil }
	k := poe.NewKernel(nil)
	cases := []struct {
		name string
		k    *poe.Kernel
		spec nfa.Spec
		want error
	}{
		{"needs a kernel", nil, nfa.Spec{Inline: map[string]nfa.States{"initial": {"start": start}}}, nfa.ErrNoKernel},
		{"needs states", k, nfa.Spec{Runstate: 1}, nfa.ErrNoStates},
		{"nil handler", k, nfa.Spec{Inline: map[string]nfa.States{"initial": {"start": nil}}}, nfa.ErrNilHandler},
		{"missing method", k, nfa.Spec{Objects: map[string][]nfa.Group{"initial": {nfa.Object(onlyFoo{}, "foo", "bar")}}}, nfa.ErrNoMethod},
		{"no object for methods", k, nfa.Spec{Packages: map[string][]nfa.Group{"initial": {{Methods: map[string]string{"foo": "Foo"}}}}}, nfa.ErrNoMethod},
		{"reserved event", k, nfa.Spec{Inline: map[string]nfa.States{"initial": {"poe_nfa_goto_state": start}}}, nfa.ErrReservedEvent},
		{"unknown start state", k, nfa.Spec{Inline: map[string]nfa.States{"initial": {"start": start}}, StartState: "nowhere"}, nfa.ErrUnknownState},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := nfa.Spawn(c.k, c.spec); !errors.Is(err, c.want) {
				t.Errorf("Spawn = %v, want %v", err, c.want)
			}
		})
	}

	t.Run("most basic machine", func(t *testing.T) {
		m, err := nfa.Spawn(k, nfa.Spec{Inline: map[string]nfa.States{"initial": {"start": start}}})
		must(t, err)
		if m.CurrentState() != "" || !m.Session().Alive() {
			t.Errorf("a new machine: state %q alive %v", m.CurrentState(), m.Session().Alive())
		}
	})
	t.Run("object states and an array runstate", func(t *testing.T) {
		m, err := nfa.Spawn(k, nfa.Spec{
			Objects:  map[string][]nfa.Group{"initial": {nfa.ObjectMap(onlyFoo{}, map[string]string{"foo": "Foo", "bar": "foo"})}},
			Runstate: []any{},
		})
		must(t, err)
		if _, ok := m.Runstate().([]any); !ok {
			t.Errorf("RUNSTATE is %T, want the []any given", m.Runstate())
		}
	})
	t.Run("default runstate is a map", func(t *testing.T) {
		m, err := nfa.Spawn(k, nfa.Spec{Inline: map[string]nfa.States{"initial": {"start": start}}})
		must(t, err)
		if _, ok := m.Runstate().(map[string]any); !ok {
			t.Errorf("RUNSTATE is %T, want map[string]any", m.Runstate())
		}
	})
	must(t, run(t, k))
}

// C08 of docs/poe-semantics.md (observation e15): a machine that stops
// while its child lives hands the child to its own parent.
func TestStopHandsLiveChildToParent(t *testing.T) {
	k := poe.NewKernel(nil)
	var log []string
	add := func(f string, a ...any) { log = append(log, fmt.Sprintf(f, a...)) }
	names := map[poe.SessionID]string{1: "P", 2: "N", 3: "G"} // in creation order
	name := func(s *poe.Session) string {
		if s.IsKernel() {
			return "K"
		}
		return names[s.ID()]
	}
	child := func(who string) func(*poe.Event) any {
		return func(e *poe.Event) any {
			add("%s _child %s %s", who, e.String(poe.ARG0), name(e.SessionArg(poe.ARG1)))
			return nil
		}
	}
	_, err := k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			m, err := nfa.Spawn(e.Kernel, nfa.Spec{Inline: map[string]nfa.States{
				"only": {
					"start": func(e *nfa.Event) any {
						_, err := e.Kernel.Create(poe.Spec{Inline: map[string]poe.Handler{
							"_start": func(e *poe.Event) any {
								must(t, e.Kernel.AliasSet("g"))
								return e.Kernel.Delay("t", 100*time.Millisecond)
							},
							"_parent": func(e *poe.Event) any {
								add("G _parent old=%s new=%s", name(e.SessionArg(poe.ARG0)), name(e.SessionArg(poe.ARG1)))
								return nil
							},
							"t":     func(*poe.Event) any { add("G t"); return nil },
							"_stop": func(*poe.Event) any { add("G stop"); return nil },
						}})
						must(t, err)
						return e.Machine.Stop()
					},
					"_child": func(e *nfa.Event) any {
						add("N _child %s %s", e.String(nfa.ARG0), name(e.SessionArg(nfa.ARG1)))
						return nil
					},
				},
			}})
			must(t, err)
			return m.GotoState("only", "start")
		},
		"_child": child("P"),
		"_stop":  func(*poe.Event) any { add("P stop"); return nil },
	}})
	must(t, err)
	must(t, run(t, k))
	diff(t, log, []string{
		"P _child create N",
		"N _child create G",
		"P _child gain G",
		"G _parent old=N new=P",
		"P _child lose N",
		"G t",
		"G stop",
		"P _child lose G",
		"P stop",
	})
}
