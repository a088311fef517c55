package poe

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// traceFile is the Trace Event Format document as a reader decodes it.
type traceFile struct {
	TraceEvents []struct {
		Name string         `json:"name"`
		Cat  string         `json:"cat"`
		Ph   string         `json:"ph"`
		Ts   float64        `json:"ts"`
		Dur  *float64       `json:"dur"`
		Pid  int            `json:"pid"`
		Tid  uint64         `json:"tid"`
		ID   uint64         `json:"id"`
		Bp   string         `json:"bp"`
		Args map[string]any `json:"args"`
	} `json:"traceEvents"`
	DisplayTimeUnit string `json:"displayTimeUnit"`
}

// A small program: a driver posts to a counter, sets a delay, calls the
// counter, and the counter answers with posts.
func runTracedProgram(t *testing.T, opts *Options) (driver, counter SessionID) {
	t.Helper()
	k := NewKernel(opts)
	c, err := k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any { e.Kernel.AliasSet("counter"); return nil },
		"ping": func(e *Event) any {
			e.Kernel.Post(e.Sender, "pong", e.Int(ARG0))
			return nil
		},
		"add":  func(e *Event) any { return e.Int(ARG0) + e.Int(ARG1) },
		"quit": func(e *Event) any { e.Kernel.AliasRemove("counter"); return nil },
	}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			e.Kernel.AliasSet("driver")
			e.Kernel.AliasSet("d2")
			e.Kernel.Post("counter", "ping", 1)
			e.Kernel.Delay("later", 5*time.Millisecond, "x")
			if r, _ := e.Kernel.Call("counter", "add", 2, 3); r != 5 {
				t.Errorf("call returned %v", r)
			}
			return nil
		},
		"pong": func(e *Event) any { return nil },
		"later": func(e *Event) any {
			e.Kernel.Post("counter", "ping", 2)
			e.Kernel.Yield("done")
			return nil
		},
		"done": func(e *Event) any {
			e.Kernel.Post("counter", "quit")
			e.Kernel.AliasRemove("driver")
			e.Kernel.AliasRemove("d2")
			return nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Run(); err != nil {
		t.Fatal(err)
	}
	return d.ID(), c.ID()
}

func TestTraceEventsProgram(t *testing.T) {
	rec := NewTraceRecorder(0)
	var text bytes.Buffer // the POE-style text trace works beside it
	driver, counter := runTracedProgram(t, &Options{Recorder: rec, Trace: &text})
	if !strings.Contains(text.String(), "dispatching event ``later''") {
		t.Errorf("text trace: %s", text.String())
	}

	var buf bytes.Buffer
	n, err := rec.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo: %d, %v (buffer %d)", n, err, buf.Len())
	}
	if !json.Valid(buf.Bytes()) {
		t.Fatalf("not JSON: %s", buf.String())
	}
	var tf traceFile
	if err := json.Unmarshal(buf.Bytes(), &tf); err != nil {
		t.Fatal(err)
	}

	names := map[uint64]string{}
	slices := map[uint64][]string{}
	type span struct{ start, end float64 }
	spans := map[uint64][]span{}
	starts := map[uint64]struct {
		tid uint64
		ts  float64
	}{}
	ends := map[uint64]struct {
		tid uint64
		ts  float64
		bp  string
	}{}
	for _, e := range tf.TraceEvents {
		switch e.Ph {
		case "M":
			if e.Name == "thread_name" {
				names[e.Tid], _ = e.Args["name"].(string)
			}
		case "X":
			if e.Dur == nil || *e.Dur < 0 || e.Ts < 0 {
				t.Errorf("slice %s on %d: ts %v dur %v", e.Name, e.Tid, e.Ts, e.Dur)
				continue
			}
			slices[e.Tid] = append(slices[e.Tid], e.Name)
			spans[e.Tid] = append(spans[e.Tid], span{e.Ts, e.Ts + *e.Dur})
		case "s":
			if _, dup := starts[e.ID]; dup || e.ID == 0 {
				t.Errorf("flow start id %d repeated or zero", e.ID)
			}
			starts[e.ID] = struct {
				tid uint64
				ts  float64
			}{e.Tid, e.Ts}
		case "f":
			if _, dup := ends[e.ID]; dup {
				t.Errorf("flow end id %d repeated", e.ID)
			}
			ends[e.ID] = struct {
				tid uint64
				ts  float64
				bp  string
			}{e.Tid, e.Ts, e.Bp}
		default:
			t.Errorf("unexpected phase %q", e.Ph)
		}
	}

	if got := names[uint64(driver)]; !strings.Contains(got, "driver") || !strings.Contains(got, "d2") ||
		!strings.Contains(got, "session "+strconv.FormatUint(uint64(driver), 10)) {
		t.Errorf("driver track named %q", got)
	}
	if got := names[uint64(counter)]; !strings.Contains(got, "counter") {
		t.Errorf("counter track named %q", got)
	}
	count := func(tid SessionID, ev string) int {
		n := 0
		for _, s := range slices[uint64(tid)] {
			if s == ev {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		tid  SessionID
		ev   string
		want int
	}{
		{driver, "_start", 1}, {driver, "pong", 2}, {driver, "later", 1}, {driver, "done", 1}, {driver, "_stop", 1},
		{counter, "_start", 1}, {counter, "ping", 2}, {counter, "add", 1}, {counter, "quit", 1}, {counter, "_stop", 1},
	} {
		if got := count(c.tid, c.ev); got != c.want {
			t.Errorf("session %d: %d slices %q, want %d (all: %v)", c.tid, got, c.ev, c.want, slices[uint64(c.tid)])
		}
	}

	// Every arrow starts once and ends once, forwards in time, at the start
	// of a slice of its destination, and starts inside a slice of its
	// source when that is a session.
	inside := func(tid uint64, ts float64, atStart bool) bool {
		for _, s := range spans[tid] {
			if atStart && s.start == ts || !atStart && s.start <= ts && ts <= s.end {
				return true
			}
		}
		return false
	}
	if len(starts) == 0 || len(starts) != len(ends) {
		t.Fatalf("%d flow starts, %d ends", len(starts), len(ends))
	}
	for id, f := range ends {
		s, ok := starts[id]
		if !ok {
			t.Errorf("flow %d ends without a start", id)
			continue
		}
		if f.bp != "e" || s.ts > f.ts {
			t.Errorf("flow %d: bp %q, %v -> %v", id, f.bp, s.ts, f.ts)
		}
		if !inside(f.tid, f.ts, true) {
			t.Errorf("flow %d ends at %v on %d, where no slice starts", id, f.ts, f.tid)
		}
		if s.tid != 0 && !inside(s.tid, s.ts, false) {
			t.Errorf("flow %d starts at %v on %d, outside its slices", id, s.ts, s.tid)
		}
	}
	// 7 queued dispatches (2 ping, 2 pong, later, done, quit) and the
	// call; the _starts of sessions created outside handlers have none.
	if len(starts) != 8 {
		t.Errorf("%d arrows, want 8 (7 queued events and the call)", len(starts))
	}

	ds := rec.Dispatches(0)
	var sawLater, sawCall, sawPing bool
	for _, d := range ds {
		if d.Handler < 0 || d.Wait < 0 {
			t.Errorf("negative times: %+v", d)
		}
		switch {
		case d.Event == "later":
			sawLater = true
			// Wait runs from the timer's item, made a moment after the
			// clock reading that Delay adds 5ms to.
			if d.Kind != "alarm" || d.Wait < 4*time.Millisecond || d.Late < 0 || d.Args != "x" || d.Item == 0 {
				t.Errorf("later: %+v", d)
			}
		case d.Event == "add":
			sawCall = true
			if d.Kind != "call" || d.Depth != 1 || d.Sender != driver || d.Args != "2 3" || d.Wait != 0 {
				t.Errorf("add: %+v", d)
			}
		case d.Event == "ping" && d.Args == "1":
			sawPing = true
			if d.Kind != "post" || d.Sender != driver || d.Session != counter || !strings.Contains(d.SenderName, "driver") || d.Wait <= 0 {
				t.Errorf("ping: %+v", d)
			}
		}
	}
	if !sawLater || !sawCall || !sawPing {
		t.Errorf("missing dispatches: later %v call %v ping %v in %+v", sawLater, sawCall, sawPing, ds)
	}
	if rec.Total() != uint64(len(ds)) {
		t.Errorf("total %d, kept %d", rec.Total(), len(ds))
	}
}

// The ring keeps the last N dispatches and forgets the names of sessions
// it no longer mentions.
func TestTraceRecorderBounded(t *testing.T) {
	rec := NewTraceRecorder(8)
	k := NewKernel(&Options{Recorder: rec})
	n := 0
	for i := 0; i < 50; i++ {
		k.Create(Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { e.Kernel.Yield("step"); return nil },
			"step":   func(e *Event) any { n++; return nil },
		}})
	}
	if err := k.Run(); err != nil {
		t.Fatal(err)
	}
	if n != 50 {
		t.Fatalf("ran %d steps", n)
	}
	ds := rec.Dispatches(0)
	if len(ds) != 8 || rec.Total() != 150 { // _start, step, _stop each
		t.Fatalf("kept %d, total %d", len(ds), rec.Total())
	}
	for i := 1; i < len(ds); i++ {
		if ds[i].Seq != ds[i-1].Seq+1 {
			t.Fatalf("not in order: %+v", ds)
		}
	}
	if ds[len(ds)-1].Seq != 150 {
		t.Fatalf("last seq %d", ds[len(ds)-1].Seq)
	}
	if last := rec.Dispatches(3); len(last) != 3 || last[2].Seq != 150 {
		t.Fatalf("Dispatches(3) = %+v", last)
	}
	if len(rec.names) > 4*8+16 {
		t.Fatalf("%d names kept", len(rec.names))
	}
	var buf bytes.Buffer
	if _, err := rec.WriteTo(&buf); err != nil || !json.Valid(buf.Bytes()) {
		t.Fatalf("WriteTo: %v", err)
	}
}

// A handler's panic closes its slice (and the slices of calls it was in)
// as panicked; the next dispatches are recorded as usual.
func TestTraceRecorderPanic(t *testing.T) {
	rec := NewTraceRecorder(0)
	k := NewKernel(&Options{Recorder: rec})
	k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			e.Kernel.Sig("DIE", "die")
			e.Kernel.Yield("boom")
			return nil
		},
		"boom": func(e *Event) any { e.Kernel.Call(e.Session, "inner"); return nil },
		"inner": func(e *Event) any {
			panic(errors.New("inner fails"))
		},
		"die": func(e *Event) any {
			e.Kernel.SigHandled()
			e.Kernel.Sig("DIE", "")
			return nil
		},
	}})
	if err := k.Run(); err != nil {
		t.Fatal(err)
	}
	var boom, inner, die *Dispatch
	ds := rec.Dispatches(0)
	for i := range ds {
		switch ds[i].Event {
		case "boom":
			boom = &ds[i]
		case "inner":
			inner = &ds[i]
		case "die":
			die = &ds[i]
		}
	}
	if boom == nil || inner == nil || die == nil {
		t.Fatalf("dispatches: %+v", ds)
	}
	if !boom.Panicked || !inner.Panicked || inner.Depth != 1 || die.Panicked || die.Kind != "signal" {
		t.Fatalf("boom %+v\ninner %+v\ndie %+v", boom, inner, die)
	}
	if len(rec.open) != 0 {
		t.Fatalf("%d dispatches left open", len(rec.open))
	}
}

func TestTraceRecorderOneKernel(t *testing.T) {
	rec := NewTraceRecorder(0)
	NewKernel(&Options{Recorder: rec})
	defer func() {
		if recover() == nil {
			t.Fatal("a second kernel took the same recorder")
		}
	}()
	NewKernel(&Options{Recorder: rec})
}

func TestTraceArgsSummary(t *testing.T) {
	long := strings.Repeat("x", 100)
	got := string(appendArgs(nil, []any{nil, "a b", 3, int64(-4), 2.5, true, SessionID(7)}))
	want := "(undef) a b 3 -4 2.5 true ..."
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = string(appendArgs(nil, []any{long, []any{1, 2}, struct{ A int }{1}, errors.New("bad")}))
	want = strings.Repeat("x", argBytes-3) + "... []any len 2 struct { A int } bad"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// One post and its dispatch: no allocation with the recorder off, and
// none with it on once its ring has been filled.
func TestTraceAllocs(t *testing.T) {
	for _, on := range []bool{false, true} {
		var opts Options
		if on {
			opts.Recorder = NewTraceRecorder(64)
		}
		k := NewKernel(&opts)
		seen := 0
		s, err := k.Create(Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { e.Kernel.AliasSet("sink"); return nil },
			"ev":     func(e *Event) any { seen++; return nil },
		}})
		if err != nil {
			t.Fatal(err)
		}
		step := func() {
			k.Post(s, "ev", 1, "two")
			k.RunOneTimeslice()
		}
		for i := 0; i < 200; i++ {
			step() // warm the pools and the ring
		}
		allocs := testing.AllocsPerRun(1000, step)
		if allocs != 0 {
			t.Errorf("recorder %v: %v allocations per post and dispatch", on, allocs)
		}
		if seen != 1200+1 { // AllocsPerRun runs once more to warm up
			t.Errorf("recorder %v: %d dispatches", on, seen)
		}
	}
}

// A signal reaches each watcher in its own dispatch, all of kind signal
// and of the same item; one arrow goes from the signal to the first.
func TestTraceSignalWatchers(t *testing.T) {
	rec := NewTraceRecorder(0)
	k := NewKernel(&Options{Recorder: rec})
	for i := 0; i < 2; i++ {
		k.Create(Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { e.Kernel.Sig("HELLO", "got"); return nil },
			"got":    func(e *Event) any { e.Kernel.Sig("HELLO", ""); return nil },
		}})
	}
	if err := k.Signal(k, "HELLO", "x"); err != nil {
		t.Fatal(err)
	}
	if err := k.Run(); err != nil {
		t.Fatal(err)
	}
	var got []Dispatch
	for _, d := range rec.Dispatches(0) {
		if d.Event == "got" {
			got = append(got, d)
		}
	}
	if len(got) != 2 || got[0].Kind != "signal" || got[1].Kind != "signal" || got[0].Item == 0 || got[0].Item != got[1].Item ||
		got[0].Session == got[1].Session || got[0].Args != "HELLO x" {
		t.Fatalf("%+v", got)
	}
	var buf bytes.Buffer
	rec.WriteTo(&buf)
	var tf traceFile
	if err := json.Unmarshal(buf.Bytes(), &tf); err != nil {
		t.Fatal(err)
	}
	flows := 0
	for _, e := range tf.TraceEvents {
		if e.Ph == "f" && e.ID == 2*got[0].Item {
			flows++
		}
	}
	if flows != 1 {
		t.Fatalf("%d arrows to the signal's dispatches", flows)
	}
}
