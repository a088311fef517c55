package poe

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TraceRecorder records a kernel's dispatches: which session ran which
// event for whom, how long the event waited in the queue and how long its
// handler took. It keeps the last N dispatches in a ring, so a long-running
// server does not grow, and writes them in the Trace Event Format (the JSON
// that Perfetto and chrome://tracing open) with WriteTo.
//
// Give it to one kernel through Options.Recorder. The kernel writes to it
// on its own goroutine; Dispatches and WriteTo may be called from any
// goroutine.
type TraceRecorder struct {
	mu       sync.Mutex
	ring     []dispatchRec // fixed length: the last len(ring) dispatches
	next     int           // the slot the next dispatch goes to
	total    uint64        // dispatches recorded since creation
	names    map[SessionID]*trackName
	kernelID string
	epoch    time.Time // the kernel's epoch: item dues compare directly

	// Used on the kernel's goroutine only.
	k          *Kernel
	open       []dispatchRec // dispatches whose handler is running, outermost first
	lastLinked uint64        // the queued item whose flow has been drawn
	calls      uint64        // flow IDs of synchronous dispatches
}

type trackName struct {
	aliases []string // as the session has them now, to see a change
	ever    []string // every alias seen, sorted: sessions often drop theirs before they stop
	name    string
}

// dispatchRec is one dispatch as kept in the ring. Times are nanoseconds
// on the kernel's clock.
type dispatchRec struct {
	seq      uint64
	session  SessionID
	sender   SessionID
	event    string
	state    string // the handler run: event, "_default", or "" when none
	kind     string
	cause    string    // the queued item's event when it is not event (a signal's name)
	item     uint64    // the queued item (0 for synchronous dispatches)
	flow     uint64    // flow arrow ID; 0: none
	flowFrom int64     // when the arrow starts (the post, or the call)
	from     SessionID // the track it starts on
	start    int64
	end      int64
	wait     int64
	late     int64
	depth    int
	panicked bool
	args     []byte // summary, reused between dispatches
	ev       *Event // identifies an open dispatch
}

const (
	defaultRecorderSize = 4096
	argsShown           = 6  // arguments summarised per dispatch
	argBytes            = 48 // bytes shown of each
)

// NewTraceRecorder returns a recorder that keeps the last n dispatches
// (4096 when n <= 0).
func NewTraceRecorder(n int) *TraceRecorder {
	if n <= 0 {
		n = defaultRecorderSize
	}
	return &TraceRecorder{ring: make([]dispatchRec, 0, n), names: map[SessionID]*trackName{}}
}

// attach binds the recorder to its kernel (NewKernel).
func (r *TraceRecorder) attach(k *Kernel) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.k != nil && r.k != k {
		panic("poe: a TraceRecorder records one kernel; give each kernel its own")
	}
	r.k, r.epoch, r.kernelID = k, k.clock.epoch, k.id
}

// observeItem fills what Options.Trace and Options.Recorder want of a new
// queue item.
func (k *Kernel) observeItem(it *item) {
	if it.obs == nil {
		it.obs = new(itemObs)
	}
	o := it.obs
	o.file, o.line, o.enq = "", 0, 0
	if k.trace != nil {
		o.file, o.line = callerOutside()
	}
	if k.rec != nil {
		o.enq = k.rec.stamp()
	}
}

// observeDispatch tells Options.Trace and Options.Recorder that a handler
// is about to run (the recorder hears of its end through end).
func (k *Kernel) observeDispatch(ev *Event, s, src *Session, event, state string, args []any, mode int) {
	if k.trace != nil {
		k.trace.dispatch(k, s, src, event, state, args)
	}
	if k.rec != nil {
		if state != event { // _default: ARG1 holds the event's own arguments
			args, _ = args[1].([]any)
		}
		k.rec.begin(ev, s, src, event, state, args, mode)
	}
}

// stamp reads the kernel's clock without disturbing the kernel's own last
// reading (posted dues depend on it).
func (r *TraceRecorder) stamp() int64 { return int64(time.Since(r.epoch)) }

// begin opens a dispatch record before the handler runs; ev, the
// dispatch's own Event, identifies it for end.
func (r *TraceRecorder) begin(ev *Event, s, src *Session, event, state string, args []any, mode int) {
	k := r.k
	now := r.stamp()
	tok := len(r.open)
	if tok < cap(r.open) {
		r.open = r.open[:tok+1]
	} else {
		r.open = append(r.open, dispatchRec{})
	}
	d := &r.open[tok]
	*d = dispatchRec{
		session: s.id, sender: src.id, event: event, state: state,
		start: now, depth: tok, args: appendArgs(d.args[:0], args), ev: ev,
	}
	switch {
	case tok == 0 && k.cur != nil:
		// A dispatch of the queued item being run (a signal has one per
		// watcher, a stop a _stop per session): the first gets an arrow
		// from the item's post (or its timer's setting).
		it := k.cur
		d.kind, d.item = it.kind.String(), it.id
		if it.event != event {
			d.cause = it.event
		}
		enq := int64(0)
		if it.obs != nil {
			enq = it.obs.enq
		}
		d.wait = now - enq
		if it.kind == kindAlarm {
			d.late = now - it.due
		}
		if it.id != r.lastLinked {
			r.lastLinked = it.id
			d.flow, d.flowFrom, d.from = 2*it.id, enq, it.src.id
			r.name(it.src)
		}
	case mode == modeCall:
		d.kind = "call"
	case mode == modeQueued:
		d.kind = "io"
	default:
		d.kind = "mgmt"
	}
	if d.flow == 0 && tok > 0 && src != s && r.open[tok-1].session == src.id {
		// A synchronous dispatch made by a running handler (a call, a
		// _start): an arrow from the caller's slice.
		r.calls++
		d.flow, d.flowFrom, d.from = 2*r.calls+1, now, src.id
	}
	r.name(s)
	if src != s {
		r.name(src)
	}
}

// end closes the dispatch of ev (and any opened after it that a panic
// left open) and moves it into the ring.
func (r *TraceRecorder) end(ev *Event) {
	tok := len(r.open) - 1
	for tok >= 0 && r.open[tok].ev != ev {
		tok--
	}
	if tok < 0 {
		return // unwound already
	}
	now := r.stamp()
	r.mu.Lock()
	for i := len(r.open) - 1; i >= tok; i-- {
		d := &r.open[i]
		d.end = now
		d.panicked = i > tok
		r.store(d)
	}
	r.mu.Unlock()
	r.open = r.open[:tok]
}

// unwind closes every open dispatch after a panic reached the kernel's
// trap.
func (r *TraceRecorder) unwind() {
	if len(r.open) == 0 {
		return
	}
	now := r.stamp()
	r.mu.Lock()
	for i := len(r.open) - 1; i >= 0; i-- {
		d := &r.open[i]
		d.end, d.panicked = now, true
		r.store(d)
	}
	r.mu.Unlock()
	r.open = r.open[:0]
}

// store moves d into the ring (mu held). The slot's old summary buffer
// goes back to d, so that nothing is allocated once the ring is full.
func (r *TraceRecorder) store(d *dispatchRec) {
	r.total++
	d.seq = r.total
	var slot *dispatchRec
	if len(r.ring) < cap(r.ring) {
		r.ring = r.ring[:len(r.ring)+1]
		slot = &r.ring[len(r.ring)-1]
	} else {
		slot = &r.ring[r.next]
	}
	r.next = (r.next + 1) % cap(r.ring)
	buf := slot.args
	*slot = *d
	slot.ev = nil
	d.args, d.ev = buf, nil
	if len(r.names) > 4*cap(r.ring)+16 {
		r.prune()
	}
}

// name keeps the track name of s current: its ID and every alias it was
// seen with.
func (r *TraceRecorder) name(s *Session) {
	t := r.names[s.id]
	if t != nil && slices.Equal(t.aliases, s.aliases) {
		return
	}
	nt := &trackName{aliases: slices.Clone(s.aliases)}
	if t != nil {
		nt.ever = slices.Clone(t.ever)
	}
	for _, a := range s.aliases {
		if i, found := slices.BinarySearch(nt.ever, a); !found {
			nt.ever = slices.Insert(nt.ever, i, a)
		}
	}
	switch {
	case s.IsKernel():
		nt.name = "kernel"
	case len(nt.ever) > 0:
		nt.name = fmt.Sprintf("session %d (%s)", s.id, strings.Join(nt.ever, ", "))
	default:
		nt.name = fmt.Sprintf("session %d", s.id)
	}
	r.mu.Lock()
	r.names[s.id] = nt
	r.mu.Unlock()
}

// prune forgets the names of sessions the ring no longer mentions
// (mu held).
func (r *TraceRecorder) prune() {
	keep := make(map[SessionID]bool, 2*len(r.ring))
	for i := range r.ring {
		keep[r.ring[i].session] = true
		keep[r.ring[i].sender] = true
		keep[r.ring[i].from] = true
	}
	for i := range r.open {
		keep[r.open[i].session] = true
		keep[r.open[i].sender] = true
		keep[r.open[i].from] = true
	}
	for id := range r.names {
		if !keep[id] {
			delete(r.names, id)
		}
	}
}

// appendArgs summarises a dispatch's arguments without keeping them (they
// are released after the dispatch) and, for common types, without
// allocating.
func appendArgs(b []byte, args []any) []byte {
	for i, a := range args {
		if i == argsShown {
			return append(b, " ..."...)
		}
		if i > 0 {
			b = append(b, ' ')
		}
		start := len(b)
		b = appendArg(b, a)
		if len(b)-start > argBytes {
			b = append(b[:start+argBytes-3], "..."...)
		}
	}
	return b
}

func appendArg(b []byte, a any) []byte {
	switch v := a.(type) {
	case nil:
		return append(b, "(undef)"...)
	case string:
		return append(b, v[:min(len(v), argBytes+1)]...) // one more than shown marks a cut
	case []byte:
		return append(b, v[:min(len(v), argBytes+1)]...)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case int32:
		return strconv.AppendInt(b, int64(v), 10)
	case uint64:
		return strconv.AppendUint(b, v, 10)
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10)
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(b, v)
	case SessionID:
		return strconv.AppendUint(append(b, "session "...), uint64(v), 10)
	case AlarmID:
		return strconv.AppendUint(append(b, "alarm "...), uint64(v), 10)
	case *Session:
		if v == nil {
			return append(b, "session <nil>"...)
		}
		return strconv.AppendUint(append(b, "session "...), uint64(v.id), 10)
	case time.Duration:
		return append(b, v.String()...)
	case *os.File: // I/O events' ARG0 (Fd would make it blocking)
		return append(append(b, "file "...), v.Name()...)
	case []any:
		return strconv.AppendInt(append(b, "[]any len "...), int64(len(v)), 10)
	case error:
		return append(b, v.Error()...)
	case fmt.Stringer:
		return append(b, v.String()...)
	}
	return append(b, reflect.TypeOf(a).String()...)
}

// Dispatch is one recorded dispatch.
type Dispatch struct {
	Seq         uint64        `json:"seq"`          // 1 for the first dispatch recorded
	Kind        string        `json:"kind"`         // what caused it: a queued post, alarm, signal or stop; a call; io readiness; mgmt (_start, _child... outside those)
	Session     SessionID     `json:"session"`      // the session that ran it
	SessionName string        `json:"session_name"` // "session 3 (alias)": every alias it was seen with
	Sender      SessionID     `json:"sender"`       // SENDER (0: the kernel)
	SenderName  string        `json:"sender_name"`
	Event       string        `json:"event"`
	Cause       string        `json:"cause,omitempty"` // the queued item's event when not Event: the signal (ZOMBIE) behind a watcher's event or a _stop
	State       string        `json:"state"`           // the handler run: Event, "_default", or "" when the session had none
	Args        string        `json:"args"`            // a short summary
	Item        uint64        `json:"item,omitempty"`
	Depth       int           `json:"depth"` // 0 for a queued event, more for calls made from handlers
	Start       time.Time     `json:"start"`
	Wait        time.Duration `json:"wait_ns"`           // from the post (or the timer's setting) to the dispatch
	Late        time.Duration `json:"late_ns,omitempty"` // timers: how long after its due time it ran
	Handler     time.Duration `json:"handler_ns"`        // the handler's time, calls it made included
	Panicked    bool          `json:"panicked,omitempty"`
}

// Total returns how many dispatches were recorded, those that left the
// ring included.
func (r *TraceRecorder) Total() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// Dispatches returns the last n recorded dispatches (all that the ring
// holds when n <= 0), in the order they finished.
func (r *TraceRecorder) Dispatches(n int) []Dispatch {
	r.mu.Lock()
	defer r.mu.Unlock()
	recs := r.ordered()
	if n > 0 && n < len(recs) {
		recs = recs[len(recs)-n:]
	}
	out := make([]Dispatch, len(recs))
	for i, d := range recs {
		out[i] = Dispatch{
			Seq: d.seq, Kind: d.kind, Session: d.session, SessionName: r.nameOf(d.session),
			Sender: d.sender, SenderName: r.nameOf(d.sender), Event: d.event, Cause: d.cause, State: d.state,
			Args: string(d.args), Item: d.item, Depth: d.depth,
			Start: r.epoch.Add(time.Duration(d.start)), Wait: time.Duration(d.wait),
			Late: time.Duration(d.late), Handler: time.Duration(d.end - d.start), Panicked: d.panicked,
		}
	}
	return out
}

// ordered returns the ring's records oldest first (mu held); the records
// share their summary buffers with the ring.
func (r *TraceRecorder) ordered() []*dispatchRec {
	out := make([]*dispatchRec, 0, len(r.ring))
	first := 0
	if len(r.ring) == cap(r.ring) {
		first = r.next
	}
	for i := range r.ring {
		out = append(out, &r.ring[(first+i)%len(r.ring)])
	}
	return out
}

func (r *TraceRecorder) nameOf(id SessionID) string {
	if t := r.names[id]; t != nil {
		return t.name
	}
	if id == 0 {
		return "kernel"
	}
	return "session " + strconv.FormatUint(uint64(id), 10)
}

// traceEvent is one entry of the Trace Event Format's traceEvents array.
type traceEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`
	Ts   float64        `json:"ts"` // microseconds
	Dur  *float64       `json:"dur,omitempty"`
	Pid  int            `json:"pid"`
	Tid  uint64         `json:"tid"`
	ID   uint64         `json:"id,omitempty"`
	Bp   string         `json:"bp,omitempty"`
	Args map[string]any `json:"args,omitempty"`
}

func micros(ns int64) float64 { return float64(ns) / 1e3 }

// WriteTo writes the recorded dispatches in the Trace Event Format: one
// track per session (named with its ID and aliases), each dispatch a
// complete ("X") slice, and a flow arrow from each post, timer setting or
// call to the dispatch it caused.
func (r *TraceRecorder) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	recs := r.ordered()
	pid := os.Getpid()
	evs := make([]traceEvent, 0, 2*len(recs)+16)
	evs = append(evs, traceEvent{Name: "process_name", Ph: "M", Pid: pid,
		Args: map[string]any{"name": "poe kernel " + r.kernelID}})
	tracks := map[SessionID]bool{}
	track := func(id SessionID) {
		if tracks[id] {
			return
		}
		tracks[id] = true
		evs = append(evs,
			traceEvent{Name: "thread_name", Ph: "M", Pid: pid, Tid: uint64(id), Args: map[string]any{"name": r.nameOf(id)}},
			traceEvent{Name: "thread_sort_index", Ph: "M", Pid: pid, Tid: uint64(id), Args: map[string]any{"sort_index": uint64(id)}})
	}
	for _, d := range recs {
		track(d.session)
		dur := micros(d.end - d.start)
		args := map[string]any{"sender": r.nameOf(d.sender), "args": string(d.args), "depth": d.depth, "seq": d.seq}
		if d.state != d.event {
			args["state"] = d.state
		}
		if d.cause != "" {
			args["cause"] = d.cause
		}
		if d.item != 0 {
			args["item"] = d.item
			args["wait_us"] = micros(d.wait)
		}
		if d.late != 0 {
			args["late_us"] = micros(d.late)
		}
		if d.panicked {
			args["panicked"] = true
		}
		evs = append(evs, traceEvent{Name: d.event, Cat: d.kind, Ph: "X", Ts: micros(d.start), Dur: &dur,
			Pid: pid, Tid: uint64(d.session), Args: args})
		if d.flow != 0 {
			track(d.from)
			evs = append(evs,
				traceEvent{Name: d.kind, Cat: "flow", Ph: "s", Ts: micros(d.flowFrom), Pid: pid, Tid: uint64(d.from), ID: d.flow},
				traceEvent{Name: d.kind, Cat: "flow", Ph: "f", Bp: "e", Ts: micros(d.start), Pid: pid, Tid: uint64(d.session), ID: d.flow})
		}
	}
	other := map[string]any{"kernel": r.kernelID, "recorded": r.total, "kept": len(recs)}
	r.mu.Unlock()
	// Metadata first, then by time, an enclosing slice before what it
	// encloses and slices before the arrows that bind to them.
	rank := func(e *traceEvent) int {
		switch e.Ph {
		case "M":
			return 0
		case "X":
			return 1
		}
		return 2
	}
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := &evs[i], &evs[j]
		if (a.Ph == "M") != (b.Ph == "M") {
			return a.Ph == "M"
		}
		if a.Ts != b.Ts {
			return a.Ts < b.Ts
		}
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		return a.Dur != nil && b.Dur != nil && *a.Dur > *b.Dur
	})
	cw := &countWriter{w: w}
	bw := bufio.NewWriter(cw)
	err := json.NewEncoder(bw).Encode(struct {
		TraceEvents     []traceEvent   `json:"traceEvents"`
		DisplayTimeUnit string         `json:"displayTimeUnit"`
		OtherData       map[string]any `json:"otherData"`
	}{evs, "ns", other})
	if err == nil {
		err = bw.Flush()
	}
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
