package poe

import (
	"fmt"
	"testing"
)

func TestSmoke(t *testing.T) {
	k := NewKernel(nil)
	var log []string
	lg := func(f string, a ...any) { log = append(log, fmt.Sprintf(f, a...)) }
	g := map[string]Handler{
		"_start": func(e *Event) any { lg("G _start"); return "gret" },
		"_stop":  func(e *Event) any { lg("G _stop"); return "gstop" },
	}
	c := map[string]Handler{
		"_start": func(e *Event) any {
			lg("C _start sender=%d", e.Sender.ID())
			e.Kernel.Create(Spec{Inline: g})
			e.Kernel.Yield("bye")
			return "cret"
		},
		"bye":    func(e *Event) any { lg("C bye"); return nil },
		"_child": func(e *Event) any { lg("C _child %s %d ret=%v", e.String(0), e.SessionArg(1).ID(), e.Arg(2)); return nil },
		"_stop":  func(e *Event) any { lg("C _stop"); return "cstop" },
	}
	p := map[string]Handler{
		"_start": func(e *Event) any {
			lg("P _start kernel=%v args=%v,%v", e.Sender.IsKernel(), e.Arg(0), e.Arg(1))
			e.Kernel.Create(Spec{Inline: c})
			return nil
		},
		"_child": func(e *Event) any { lg("P _child %s %d ret=%v", e.String(0), e.SessionArg(1).ID(), e.Arg(2)); return nil },
		"_stop":  func(e *Event) any { lg("P _stop"); return nil },
	}
	k.Create(Spec{Inline: p, Args: []any{"a", "b"}})
	lg("constructor returned")
	if err := k.Run(); err != nil {
		t.Fatal(err)
	}
	for _, l := range log {
		t.Log(l)
	}
}
