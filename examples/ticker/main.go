// Command ticker is the smallest complete POE program: a session with an
// alias that counts with a delay, watches SIGINT, and ends on its own.
//
//	go run ./examples/ticker            # ten ticks, 200ms apart
//	go run ./examples/ticker -n 3 -every 50ms
//
// Press Ctrl-C to stop early: the INT handler marks the signal handled
// and stops ticking, so the session ends gracefully.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/poe-go/poe/poe"
)

// counter is the session's heap.
type counter struct {
	n, limit int
	every    time.Duration
	out      io.Writer
}

func start(e *poe.Event) any {
	h := poe.HeapOf[*counter](e)
	e.Kernel.AliasSet("ticker")
	e.Kernel.Sig("INT", "interrupted")
	fmt.Fprintf(h.out, "session %d started, alias %q\n", e.Session.ID(), "ticker")
	e.Kernel.Delay("tick", h.every)
	return nil
}

func tick(e *poe.Event) any {
	h := poe.HeapOf[*counter](e)
	h.n++
	fmt.Fprintf(h.out, "tick %d\n", h.n)
	if h.n < h.limit {
		e.Kernel.Delay("tick", h.every)
	} else {
		// Nothing else holds the session but its alias: without work
		// the kernel goes idle and the session stops.
		e.Kernel.Sig("INT", "")
	}
	return nil
}

func interrupted(e *poe.Event) any {
	h := poe.HeapOf[*counter](e)
	fmt.Fprintf(h.out, "got SIG%s after %d ticks\n", e.String(poe.ARG0), h.n)
	e.Kernel.SigHandled()
	e.Kernel.Alarm("tick", time.Time{}) // remove the pending tick
	e.Kernel.Sig("INT", "")
	return nil
}

func stop(e *poe.Event) any {
	fmt.Fprintf(poe.HeapOf[*counter](e).out, "session stopped\n")
	return nil
}

// run builds the kernel and its session and runs it to completion.
func run(out io.Writer, limit int, every time.Duration) error {
	k := poe.NewKernel(nil)
	_, err := k.Create(poe.Spec{
		Inline: map[string]poe.Handler{
			"_start":      start,
			"tick":        tick,
			"interrupted": interrupted,
			"_stop":       stop,
		},
		Heap: &counter{limit: limit, every: every, out: out},
	})
	if err != nil {
		return err
	}
	return k.Run()
}

func main() {
	n := flag.Int("n", 10, "number of ticks")
	every := flag.Duration("every", 200*time.Millisecond, "time between ticks")
	flag.Parse()
	if err := run(os.Stdout, *n, *every); err != nil {
		fmt.Fprintln(os.Stderr, "ticker:", err)
		os.Exit(1)
	}
}
