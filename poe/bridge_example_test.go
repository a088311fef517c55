package poe_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/poe-go/poe/poe"
)

// Another goroutine asks a session for an answer and waits for it; the
// kernel runs the handler on its own goroutine.
func ExampleKernel_CallFromGoroutine() {
	k := poe.NewKernel(nil)
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.AliasSet("calc")
			// Other goroutines call in: hold the kernel until "done".
			e.Kernel.RefcountIncrement(e.Session.ID(), "clients")
			return nil
		},
		"add": func(e *poe.Event) any { return e.Int(poe.ARG0) + e.Int(poe.ARG1) },
		"done": func(e *poe.Event) any {
			e.Kernel.RefcountDecrement(e.Session.ID(), "clients")
			e.Kernel.AliasRemove("calc")
			return nil
		},
	}})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sum, err := k.CallFromGoroutine(ctx, "calc", "add", 2, 3)
		fmt.Println(sum, err)
		_, err = k.CallFromGoroutine(ctx, "nobody", "add")
		fmt.Println(errors.Is(err, poe.ESRCH))
		k.PostFromGoroutine("calc", "done")
	}()
	if err := k.Run(); err != nil {
		fmt.Println(err)
	}
	_, err := k.CallFromGoroutine(context.Background(), "calc", "add", 1, 1)
	fmt.Println(errors.Is(err, poe.ErrKernelStopped))
	// Output:
	// 5 <nil>
	// true
	// true
}

// Shutdown is the kernel receiving SIGTERM: a session that watches TERM
// finishes its work, then Run returns and so does Shutdown. Had it not
// finished before the context's deadline, Shutdown would have stopped it.
func ExampleKernel_Shutdown() {
	k := poe.NewKernel(nil)
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.Sig("TERM", "shutdown")
			e.Kernel.RefcountIncrement(e.Session.ID(), "serving") // as a listener would
			return nil
		},
		"shutdown": func(e *poe.Event) any {
			e.Kernel.SigHandled() // this session stops by itself
			fmt.Println("TERM: finishing the last request")
			e.Kernel.Delay("finished", poe.Seconds(0.05))
			return nil
		},
		"finished": func(e *poe.Event) any {
			fmt.Println("finished")
			e.Kernel.Sig("TERM", "")
			e.Kernel.RefcountDecrement(e.Session.ID(), "serving")
			return nil
		},
		"_stop": func(e *poe.Event) any { fmt.Println("_stop"); return nil },
	}})
	ran := make(chan error, 1)
	go func() { ran <- k.Run() }()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println("Shutdown:", k.Shutdown(ctx))
	fmt.Println("Run:", <-ran)
	// Output:
	// TERM: finishing the last request
	// finished
	// _stop
	// Shutdown: <nil>
	// Run: <nil>
}
