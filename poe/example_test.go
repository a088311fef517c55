package poe_test

import (
	"fmt"
	"io"
	"time"

	"github.com/poe-go/poe/poe"
)

// A session counts to three with Yield and ends when it runs out of work.
func ExampleKernel_Create() {
	k := poe.NewKernel(nil)
	k.Create(poe.Spec{
		Inline: map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				e.Kernel.Yield("count", 1)
				return nil
			},
			"count": func(e *poe.Event) any {
				n := e.Int(poe.ARG0)
				fmt.Println("count", n)
				if n < 3 {
					e.Kernel.Yield("count", n+1)
				}
				return nil
			},
			"_stop": func(e *poe.Event) any { fmt.Println("stopped"); return nil },
		},
	})
	if err := k.Run(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// count 1
	// count 2
	// count 3
	// stopped
}

// Post queues an event for a session named by its alias; Call runs one at
// once and returns the handler's value.
func ExampleKernel_Call() {
	k := poe.NewKernel(nil)
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any { e.Kernel.AliasSet("adder"); return nil },
		"add":    func(e *poe.Event) any { return e.Int(poe.ARG0) + e.Int(poe.ARG1) },
		"hello": func(e *poe.Event) any {
			fmt.Println("hello from the kernel:", e.Sender.IsKernel())
			return nil
		},
	}})
	sum, _ := k.Call("adder", "add", 2, 3)
	fmt.Println("2+3 =", sum)
	k.Post("adder", "hello")
	k.Run()
	// Output:
	// 2+3 = 5
	// hello from the kernel: true
}

// Delays, with a typed heap.
func ExampleKernel_Delay() {
	type heap struct{ ticks int }
	k := poe.NewKernel(nil)
	k.Create(poe.Spec{
		Heap: &heap{},
		Inline: map[string]poe.Handler{
			"_start": func(e *poe.Event) any { return e.Kernel.Delay("tick", 10*time.Millisecond) },
			"tick": func(e *poe.Event) any {
				h := poe.HeapOf[*heap](e)
				h.ticks++
				fmt.Println("tick", h.ticks)
				if h.ticks < 2 {
					e.Kernel.Delay("tick", 10*time.Millisecond)
				}
				return nil
			},
		},
	})
	k.Run()
	// Output:
	// tick 1
	// tick 2
}

// Package states: handlers that are a type's methods, the shape of POE's
// package_states (ikc.Server uses it).
type greeter struct{ greeting string }

func (g *greeter) Start(e *poe.Event) any { e.Kernel.Yield("greet", "world"); return nil }
func (g *greeter) Greet(e *poe.Event) any {
	fmt.Printf("%s, %s (OBJECT is %T)\n", g.greeting, e.String(poe.ARG0), e.Object)
	return nil
}

func ExampleObject() {
	k := poe.NewKernel(nil)
	_, err := k.Create(poe.Spec{Objects: []poe.States{poe.Object(&greeter{"hello"}, "_start", "greet")}})
	if err != nil {
		fmt.Println(err)
	}
	k.Run()
	// Output:
	// hello, world (OBJECT is *poe_test.greeter)
}

// A signal sent to a session reaches its watcher; SigHandled keeps a
// terminal signal from stopping it.
func ExampleKernel_Sig() {
	k := poe.NewKernel(nil)
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.Sig("TERM", "got_term")
			e.Kernel.Signal(e.Session, "TERM", "please")
			return nil
		},
		"got_term": func(e *poe.Event) any {
			fmt.Println("caught", e.String(poe.ARG0), e.String(poe.ARG1))
			e.Kernel.SigHandled()
			e.Kernel.Sig("TERM", "")
			return nil
		},
		"_stop": func(e *poe.Event) any { fmt.Println("stopped when idle"); return nil },
	}})
	k.Run()
	// Output:
	// caught TERM please
	// stopped when idle
}

// Peek shows the kernel's sessions, queue and watchers.
func ExampleKernel_Peek() {
	k := poe.NewKernel(nil)
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.AliasSet("worker")
			e.Kernel.Delay("later", time.Hour)
			snap := e.Kernel.Peek()
			fmt.Println(len(snap.Sessions), "session, aliases", snap.Sessions[0].Aliases, "timers", snap.Sessions[0].Timers)
			e.Kernel.AlarmRemoveAll()
			return nil
		},
	}})
	k.Run()
	snap := k.Peek()
	fmt.Println("after Run:", len(snap.Sessions), "sessions,", len(snap.Queue), "queued")
	snap.WriteText(io.Discard, true) // the USR1/USR2 dump
	// Output:
	// 1 session, aliases [worker] timers 1
	// after Run: 0 sessions, 0 queued
}
