package poe_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/poe-go/poe/poe"
)

// PeekHandler serves a running kernel's state: an HTML page at the mount
// point, JSON at json, the Trace Event Format at trace.json.
func ExamplePeekHandler() {
	k := poe.NewKernel(&poe.Options{Recorder: poe.NewTraceRecorder(1000)})
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.AliasSet("ticker")
			e.Kernel.Delay("tick", time.Hour)
			return nil
		},
		"tick":     func(e *poe.Event) any { return nil },
		"shutdown": func(e *poe.Event) any { e.Kernel.Stop(); return nil },
	}})
	done := make(chan error)
	go func() { done <- k.Run() }()

	mux := http.NewServeMux()
	mux.Handle("/poe/", poe.PeekHandler(k)) // as a program would on its own server
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/poe/json")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var peek struct {
		Sessions []struct {
			ID      int      `json:"id"`
			Aliases []string `json:"aliases"`
		} `json:"sessions"`
		Queue []struct {
			Kind  string `json:"kind"`
			Event string `json:"event"`
		} `json:"queue"`
		Dispatches []struct {
			Event string `json:"event"`
		} `json:"dispatches"`
	}
	json.NewDecoder(resp.Body).Decode(&peek)
	s := peek.Sessions[0]
	fmt.Println("session", s.ID, s.Aliases)
	for _, q := range peek.Queue {
		if q.Kind == "alarm" {
			fmt.Println("pending", q.Kind, q.Event)
		}
	}
	fmt.Println("dispatched", peek.Dispatches[0].Event)

	k.PostFromGoroutine("ticker", "shutdown")
	<-done
	// Output:
	// session 1 [ticker]
	// pending alarm tick
	// dispatched _start
}
