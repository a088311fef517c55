package nfa_test

import (
	"fmt"

	"github.com/poe-go/poe/nfa"
	"github.com/poe-go/poe/poe"
)

// A turnstile: the same two events, coin and push, do different things in
// its two states. The events are all queued before the machine runs, so
// it changes state with the "immediate" option: queued transitions would
// come after them.
func Example() {
	k := poe.NewKernel(nil)
	m, err := nfa.Spawn(k, nfa.Spec{
		Options: map[string]any{"immediate": true},
		Inline: map[string]nfa.States{
			"locked": {
				"enter": func(e *nfa.Event) any { fmt.Println("locked"); return nil },
				"coin": func(e *nfa.Event) any {
					nfa.RunstateOf[map[string]any](e)["coins"] = e.Int(nfa.ARG0)
					return e.Machine.GotoState("unlocked", "enter")
				},
				"push": func(e *nfa.Event) any { fmt.Println("push: still locked"); return nil },
			},
			"unlocked": {
				"enter": func(e *nfa.Event) any {
					fmt.Println("unlocked by", e.Runstate.(map[string]any)["coins"], "coin")
					return nil
				},
				"coin": func(e *nfa.Event) any { fmt.Println("coin: refunded"); return nil },
				"push": func(e *nfa.Event) any { return e.Machine.GotoState("locked", "enter") },
				nfa.Leave: func(e *nfa.Event) any {
					fmt.Println("leaving", e.State)
					return nil
				},
			},
		},
		StartState: "locked",
		StartEvent: "enter",
	})
	if err != nil {
		panic(err)
	}
	for _, ev := range []string{"push", "coin", "coin", "push", "push"} {
		if err := k.Post(m.Session(), ev, 1); err != nil {
			panic(err)
		}
	}
	if err := k.Run(); err != nil {
		panic(err)
	}
	// Output:
	// locked
	// push: still locked
	// unlocked by 1 coin
	// coin: refunded
	// leaving unlocked
	// locked
	// push: still locked
}
