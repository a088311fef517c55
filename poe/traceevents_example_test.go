package poe_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/poe-go/poe/poe"
)

// A recorder keeps the last dispatches; WriteTo gives them in the Trace
// Event Format, which Perfetto (ui.perfetto.dev) and chrome://tracing open.
func ExampleTraceRecorder() {
	rec := poe.NewTraceRecorder(1000)
	k := poe.NewKernel(&poe.Options{Recorder: rec})
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.AliasSet("pinger")
			e.Kernel.Yield("ping", 1)
			return nil
		},
		"ping": func(e *poe.Event) any {
			if n := e.Int(poe.ARG0); n < 3 {
				e.Kernel.Yield("ping", n+1)
			}
			return nil
		},
		"_stop": func(e *poe.Event) any { return nil },
	}})
	k.Run()

	for _, d := range rec.Dispatches(0) {
		line := fmt.Sprintf("%-6s %s %s(%s) %s", d.Kind, d.SessionName, d.Event, d.Args, d.Cause)
		fmt.Println(strings.TrimSpace(line))
	}
	var buf bytes.Buffer
	rec.WriteTo(&buf) // a file to save as trace.json
	var trace struct {
		TraceEvents []struct {
			Ph string `json:"ph"`
		} `json:"traceEvents"`
	}
	json.Unmarshal(buf.Bytes(), &trace)
	phases := map[string]int{}
	for _, e := range trace.TraceEvents {
		phases[e.Ph]++
	}
	fmt.Println("slices", phases["X"], "arrows", phases["s"], phases["f"])
	// The alias keeps the session until the kernel, idle, stops it with
	// its IDLE signal: the arrow to _stop comes from the kernel's track.

	// Output:
	// mgmt   session 1 (pinger) _start()
	// post   session 1 (pinger) ping(1)
	// post   session 1 (pinger) ping(2)
	// post   session 1 (pinger) ping(3)
	// signal session 1 (pinger) _stop() IDLE
	// slices 5 arrows 4 4
}
