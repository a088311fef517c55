package nfa_test

// Tests of the transition rules of POE 1.370's lib/POE/NFA.pm.

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/poe-go/poe/nfa"
	"github.com/poe-go/poe/poe"
)

// recorder logs each handler run as "state/event args sender".
type recorder struct{ lines []string }

func (r *recorder) h(f func(e *nfa.Event)) nfa.Handler {
	return func(e *nfa.Event) any {
		who := "other"
		if e.Sender == e.Machine.Session() {
			who = "self"
		} else if e.Sender.IsKernel() {
			who = "kernel"
		}
		r.lines = append(r.lines, fmt.Sprintf("%s/%s %v %s", e.State, e.Event, e.Args, who))
		if f != nil {
			f(e)
		}
		return nil
	}
}

func TestGotoStateRunsLeaveThenEntryInNewState(t *testing.T) {
	k := poe.NewKernel(nil)
	r := &recorder{}
	m, err := nfa.Spawn(k, nfa.Spec{Inline: map[string]nfa.States{
		"a": {
			"go":      r.h(func(e *nfa.Event) { must(t, e.Machine.GotoState("b", "arrive", 1, "two")) }),
			nfa.Leave: r.h(nil),
		},
		"b": {
			"arrive":  r.h(func(e *nfa.Event) { must(t, e.Machine.GotoState("c", "")) }),
			nfa.Leave: r.h(nil),
		},
		"c": {"_default": r.h(nil)},
	}})
	must(t, err)
	must(t, m.GotoState("a", ""))
	must(t, k.Post(m.Session(), "go"))
	must(t, run(t, k))
	diff(t, r.lines, []string{
		"a/go [] kernel",
		"a/leave [] self",
		"b/arrive [1 two] self",
		"b/leave [] self",
	})
	if m.CurrentState() != "c" {
		t.Errorf("CurrentState = %q, want c", m.CurrentState())
	}
}

func TestFirstGotoStateEntersAtOnceLaterOnesQueue(t *testing.T) {
	k := poe.NewKernel(nil)
	r := &recorder{}
	m, err := nfa.Spawn(k, nfa.Spec{Inline: map[string]nfa.States{
		"a": {
			"start": r.h(func(e *nfa.Event) {
				e.Kernel.Yield("pending")
				must(t, e.Machine.GotoState("b", "start"))
				if e.Machine.CurrentState() != "a" {
					t.Errorf("after a queued GotoState: state %q, want a", e.Machine.CurrentState())
				}
			}),
			"pending": r.h(nil),
		},
		"b": {"start": r.h(nil), "pending": r.h(nil)},
	}})
	must(t, err)
	must(t, m.GotoState("a", "start"))
	// The machine had no state: the first transition was a call, run
	// before the kernel.
	diff(t, r.lines, []string{"a/start [] self"})
	must(t, run(t, k))
	diff(t, r.lines, []string{"a/start [] self", "a/pending [] self", "b/start [] self"})
}

func TestImmediateOptionTransitionsAtOnce(t *testing.T) {
	k := poe.NewKernel(nil)
	r := &recorder{}
	m, err := nfa.Spawn(k, nfa.Spec{
		Options: map[string]any{"immediate": "yes"},
		Inline: map[string]nfa.States{
			"a": {
				"start": r.h(func(e *nfa.Event) {
					e.Kernel.Yield("pending")
					must(t, e.Machine.CallState("back", "b", "start", 7))
					r.lines = append(r.lines, "after CallState in "+e.Machine.CurrentState())
					must(t, e.Machine.ReturnState("x"))
					r.lines = append(r.lines, "after ReturnState in "+e.Machine.CurrentState())
					must(t, e.Machine.GotoState("b", ""))
				}),
				"back": r.h(nil),
			},
			"b": {"start": r.h(nil), "pending": r.h(nil)},
		},
		StartState: "a", StartEvent: "start",
	})
	must(t, err)
	must(t, run(t, k))
	diff(t, r.lines, []string{
		"a/start [] self",
		"b/start [7] self",
		"after CallState in b",
		"a/back [x] self",
		"after ReturnState in a",
		"b/pending [] self",
	})
	if m.CurrentState() != "b" {
		t.Errorf("CurrentState = %q, want b", m.CurrentState())
	}
}

func TestCallStateNestsAndReturnStateUnwinds(t *testing.T) {
	k := poe.NewKernel(nil)
	r := &recorder{}
	_, err := nfa.Spawn(k, nfa.Spec{Inline: map[string]nfa.States{
		"top": {
			"start": r.h(func(e *nfa.Event) { must(t, e.Machine.CallState("done", "mid", "start")) }),
			"done":  r.h(nil),
		},
		"mid": {
			"start": r.h(func(e *nfa.Event) { must(t, e.Machine.CallState("", "leaf", "start")) }),
			// The return event "" returns without an event; mid then
			// gets a plain event and returns on.
			"poke":    r.h(func(e *nfa.Event) { must(t, e.Machine.ReturnState("from mid")) }),
			nfa.Leave: r.h(nil),
		},
		"leaf": {
			"start": r.h(func(e *nfa.Event) {
				must(t, e.Machine.ReturnState("ignored"))
				e.Kernel.Yield("poke")
			}),
		},
	}, StartState: "top", StartEvent: "start"})
	must(t, err)
	must(t, run(t, k))
	diff(t, r.lines, []string{
		"top/start [] self",
		"mid/start [] self",
		"mid/leave [] self",
		"leaf/start [] self",
		"mid/poke [] self",
		"mid/leave [] self",
		"top/done [from mid] self",
	})
}

func TestDefaultOfCurrentStateGetsUnhandledEvents(t *testing.T) {
	k := poe.NewKernel(nil)
	var got []string
	m, err := nfa.Spawn(k, nfa.Spec{Inline: map[string]nfa.States{
		"a": {"_default": func(e *nfa.Event) any {
			got = append(got, fmt.Sprintf("%s %s %v in %s", e.Event, e.String(nfa.ARG0), e.Slice(nfa.ARG1), e.State))
			return "handled"
		}},
	}, StartState: "a"})
	must(t, err)
	ret, err := k.Call(m.Session(), "mystery", 1, 2)
	must(t, err)
	diff(t, got, []string{"_default mystery [1 2] in a"})
	if ret != "handled" {
		t.Errorf("Call returned %v, want _default's value", ret)
	}
	must(t, run(t, k))
}

func TestHandlerReturnValueReachesCall(t *testing.T) {
	k := poe.NewKernel(nil)
	m, err := nfa.Spawn(k, nfa.Spec{Inline: map[string]nfa.States{
		"a": {"double": func(e *nfa.Event) any { return 2 * e.Int(nfa.ARG0) }},
		"b": {"double": func(e *nfa.Event) any { return -1 }},
	}, StartState: "a"})
	must(t, err)
	if ret, _ := k.Call(m.Session(), "double", 21); ret != 42 {
		t.Errorf("call double in a = %v, want 42", ret)
	}
	m.SetOption("immediate", 1)
	must(t, m.GotoState("b", ""))
	if ret, _ := k.Call(m.Session(), "double", 21); ret != -1 {
		t.Errorf("call double in b = %v, want b's handler", ret)
	}
	must(t, run(t, k))
}

// dieOf runs k, expecting the machine's unhandled DIE as Run's error.
func dieOf(t *testing.T, k *poe.Kernel) error {
	t.Helper()
	err := run(t, k)
	if err == nil {
		t.Fatal("Run = nil, want the machine's exception")
	}
	return err
}

func TestEventWithoutHandlerOrDefaultDies(t *testing.T) {
	k := poe.NewKernel(nil)
	m, err := nfa.Spawn(k, nfa.Spec{Inline: map[string]nfa.States{
		"a": {"known": func(*nfa.Event) any { return nil }},
	}, StartState: "a"})
	must(t, err)
	must(t, k.Post(m.Session(), "unknown"))
	if err := dieOf(t, k); !errors.Is(err, nfa.ErrNoHandler) || !strings.Contains(err.Error(), `"unknown"`) {
		t.Errorf("Run = %v, want ErrNoHandler naming the event", err)
	}
}

func TestKernelEventsWithoutHandlerAreDropped(t *testing.T) {
	k := poe.NewKernel(nil)
	var log []string
	_, err := nfa.Spawn(k, nfa.Spec{Inline: map[string]nfa.States{
		"a": {"start": func(e *nfa.Event) any {
			// A child session: the machine gets _child create and lose,
			// which its state does not handle.
			_, err := e.Kernel.Create(poe.Spec{Inline: map[string]poe.Handler{
				"_start": func(*poe.Event) any { log = append(log, "child started"); return nil },
			}})
			must(t, err)
			return nil
		}},
	}, StartState: "a", StartEvent: "start"})
	must(t, err)
	must(t, run(t, k))
	diff(t, log, []string{"child started"})
}

func TestReturnStateWithEmptyStackDies(t *testing.T) {
	k := poe.NewKernel(nil)
	_, err := nfa.Spawn(k, nfa.Spec{Inline: map[string]nfa.States{
		"a": {"start": func(e *nfa.Event) any { return e.Machine.ReturnState() }},
	}, StartState: "a", StartEvent: "start"})
	must(t, err)
	if err := dieOf(t, k); !errors.Is(err, nfa.ErrEmptyStack) {
		t.Errorf("Run = %v, want ErrEmptyStack", err)
	}
}

func TestReturnToEventTheStateLacksDies(t *testing.T) {
	k := poe.NewKernel(nil)
	_, err := nfa.Spawn(k, nfa.Spec{Inline: map[string]nfa.States{
		"a": {"start": func(e *nfa.Event) any { return e.Machine.CallState("nowhere", "b", "start") }},
		"b": {"start": func(e *nfa.Event) any { return e.Machine.ReturnState() }},
	}, StartState: "a", StartEvent: "start"})
	must(t, err)
	if err := dieOf(t, k); !errors.Is(err, nfa.ErrUnknownEntry) {
		t.Errorf("Run = %v, want ErrUnknownEntry", err)
	}
}

func TestTransitionsToUnknownStatesAreErrors(t *testing.T) {
	k := poe.NewKernel(nil)
	m, err := nfa.Spawn(k, nfa.Spec{Inline: map[string]nfa.States{
		"a": {"start": func(*nfa.Event) any { return nil }},
	}})
	must(t, err)
	if err := m.GotoState("b", ""); !errors.Is(err, nfa.ErrUnknownState) {
		t.Errorf("GotoState(b) = %v, want ErrUnknownState", err)
	}
	if err := m.GotoState("a", "enter"); !errors.Is(err, nfa.ErrUnknownEntry) {
		t.Errorf("GotoState(a, enter) = %v, want ErrUnknownEntry", err)
	}
	if err := m.CallState("back", "b", ""); !errors.Is(err, nfa.ErrUnknownState) {
		t.Errorf("CallState(b) = %v, want ErrUnknownState", err)
	}
	if m.CurrentState() != "" {
		t.Errorf("CurrentState = %q after failed transitions", m.CurrentState())
	}
	// A transition posted by hand is checked when dispatched.
	must(t, m.GotoState("a", ""))
	must(t, k.Post(m.Session(), "poe_nfa_goto_state", "b"))
	if err := dieOf(t, k); !errors.Is(err, nfa.ErrUnknownState) {
		t.Errorf("Run = %v, want ErrUnknownState", err)
	}
}

func TestMachineIsASessionOthersPostTo(t *testing.T) {
	k := poe.NewKernel(nil)
	var log []string
	_, err := nfa.Spawn(k, nfa.Spec{Inline: map[string]nfa.States{
		"idle": {
			"start": func(e *nfa.Event) any { return e.Kernel.AliasSet("door") },
			"open": func(e *nfa.Event) any {
				log = append(log, "opening for "+e.Sender.String())
				must(t, e.Machine.GotoState("open", ""))
				return e.Kernel.Post(e.Sender, "opened")
			},
		},
		"open": {"open": func(e *nfa.Event) any {
			log = append(log, "already open")
			return e.Machine.Stop()
		}},
	}, StartState: "idle", StartEvent: "start"})
	must(t, err)
	_, err = k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any { return e.Kernel.Post("door", "open") },
		"opened": func(e *poe.Event) any { return e.Kernel.Post("door", "open") },
	}})
	must(t, err)
	must(t, run(t, k))
	diff(t, log, []string{"opening for session 2", "already open"})
}

func TestTraceOptionLogsEvents(t *testing.T) {
	var buf bytes.Buffer
	k := poe.NewKernel(nil)
	_, err := nfa.Spawn(k, nfa.Spec{
		Logger:  slog.New(slog.NewTextHandler(&buf, nil)),
		Options: map[string]any{"trace": 1},
		Inline: map[string]nfa.States{
			"a": {"start": func(*nfa.Event) any { return nil }},
		},
		StartState: "a", StartEvent: "start",
	})
	must(t, err)
	must(t, run(t, k))
	if !strings.Contains(buf.String(), "event=start state=a") {
		t.Errorf("trace log = %q, want the start event", buf.String())
	}
}

func TestEventAccessors(t *testing.T) {
	k := poe.NewKernel(nil)
	type counter struct{ n int }
	var got string
	m, err := nfa.Spawn(k, nfa.Spec{Runstate: &counter{}, Inline: map[string]nfa.States{
		"a": {"args": func(e *nfa.Event) any {
			c := nfa.RunstateOf[*counter](e)
			c.n++
			got = fmt.Sprintf("%q %d %.1f %v %v %v %d %v", e.String(nfa.ARG0), e.Int(nfa.ARG1), e.Float(nfa.ARG2),
				e.Bool(nfa.ARG3), e.Arg(nfa.ARG9), e.SessionArg(nfa.ARG4) == e.Machine.Session(), c.n,
				nfa.RunstateOf[map[string]any](e) == nil)
			return nil
		}},
	}, StartState: "a"})
	must(t, err)
	_, err = k.Call(m.Session(), "args", []byte("x"), "12", 1.5, "0", m.Session())
	must(t, err)
	if want := `"x" 12 1.5 false <nil> true 1 true`; got != want {
		t.Errorf("accessors: %s, want %s", got, want)
	}
	must(t, run(t, k))
}
