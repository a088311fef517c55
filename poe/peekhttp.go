package poe

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

//go:embed peekpage.html
var peekPage []byte

// PeekHandler serves a kernel's peek over HTTP, from net/http's goroutines:
//
//	http.Handle("/poe/", poe.PeekHandler(k))
//
// Below wherever it is mounted (the last path element decides, or the
// format query parameter):
//
//   - "" (the mount point itself): a self-contained HTML page that shows
//     the session tree, the queue, watched fds and signals and the last
//     dispatches, refreshing itself every second;
//   - "json" (?format=json): the snapshot as JSON with lowercase field
//     names, plus the last dispatches when the kernel has a
//     TraceRecorder (?n=50 by default; ?queue=500 caps the queue listed);
//   - "trace.json" (?format=trace): the recorder's Trace Event Format
//     file, for Perfetto or chrome://tracing (404 without a recorder);
//   - "text" (?format=text): Snapshot.WriteText, verbose.
//
// The snapshot is taken on the kernel's goroutine between two events: a
// request waits for the kernel's next timeslice (at most 10 seconds, then
// 504, or until the client goes away) and gets 503 when the kernel has
// finished (Run returned).
// Taking it sorts the whole queue, which a kernel with 100k pending timers
// feels (a few milliseconds per request).
func PeekHandler(k *Kernel) http.Handler { return &peekHandler{k: k, wait: 10 * time.Second} }

type peekHandler struct {
	k    *Kernel
	wait time.Duration
}

// The JSON document. Field names are part of the page's and users'
// contract: change them only by adding.
type peekDoc struct {
	KernelID   string        `json:"kernel_id"`
	Running    bool          `json:"running"`
	Taken      time.Time     `json:"taken"`
	Stats      peekStats     `json:"stats"`
	Sessions   []peekSession `json:"sessions"`
	Queue      []peekQueued  `json:"queue"`
	QueueTotal int           `json:"queue_total"`
	FDs        []peekFD      `json:"fds"`
	Signals    []peekSignal  `json:"signals"`
	Children   []int         `json:"children"`
	Recording  bool          `json:"recording"`
	Recorded   uint64        `json:"recorded"`
	Dispatches []Dispatch    `json:"dispatches"`
}

type peekStats struct {
	Timeslices uint64 `json:"timeslices"`
	Dispatched uint64 `json:"dispatched"`
	Polls      uint64 `json:"polls"`
	WaitedNs   int64  `json:"waited_ns"`
}

type peekSession struct {
	ID         SessionID      `json:"id"`
	Aliases    []string       `json:"aliases"`
	Parent     SessionID      `json:"parent"`
	Children   []SessionID    `json:"children"`
	Refcount   int            `json:"refcount"`
	EventsTo   int            `json:"events_to"`
	EventsFrom int            `json:"events_from"`
	Handles    int            `json:"handles"`
	Timers     int            `json:"timers"`
	ExtraRefs  map[string]int `json:"extra_refs"`
	PIDs       int            `json:"pids"`
	Signals    []string       `json:"signals"`
	Handlers   []string       `json:"handlers"`
}

type peekQueued struct {
	ID      uint64    `json:"id"`
	Kind    string    `json:"kind"`
	Event   string    `json:"event"`
	Source  SessionID `json:"source"`
	Dest    SessionID `json:"dest"`
	Due     time.Time `json:"due"`
	DueInMs float64   `json:"due_in_ms"` // from the snapshot's time; negative when overdue
}

type peekFD struct {
	FD       int       `json:"fd"`
	Session  SessionID `json:"session"`
	Modes    []string  `json:"modes"`
	Paused   []string  `json:"paused"`
	Internal bool      `json:"internal"`
}

type peekSignal struct {
	Signal  string    `json:"signal"`
	Session SessionID `json:"session"`
	Event   string    `json:"event"`
}

// nonNil keeps empty lists as [] in the JSON, which is simpler to read.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func makePeekDoc(s Snapshot, st Stats, queueMax int) peekDoc {
	doc := peekDoc{
		KernelID: s.KernelID, Running: s.Running, Taken: s.Taken,
		Stats:    peekStats{Timeslices: st.Timeslices, Dispatched: st.Dispatched, Polls: st.Polls, WaitedNs: int64(st.Waited)},
		Sessions: make([]peekSession, 0, len(s.Sessions)), Queue: make([]peekQueued, 0, min(len(s.Queue), queueMax)),
		QueueTotal: len(s.Queue), FDs: make([]peekFD, 0, len(s.FDs)), Signals: make([]peekSignal, 0, len(s.Signals)),
		Children: nonNil(s.Children), Dispatches: []Dispatch{},
	}
	for _, ss := range s.Sessions {
		doc.Sessions = append(doc.Sessions, peekSession{
			ID: ss.ID, Aliases: nonNil(ss.Aliases), Parent: ss.Parent, Children: nonNil(ss.Children),
			Refcount: ss.Refcount, EventsTo: ss.EventsTo, EventsFrom: ss.EventsFrom, Handles: ss.Handles,
			Timers: ss.Timers, ExtraRefs: ss.ExtraRefs, PIDs: ss.PIDs, Signals: nonNil(ss.Signals),
			Handlers: nonNil(ss.Handlers),
		})
	}
	for i, q := range s.Queue {
		if i == queueMax {
			break
		}
		doc.Queue = append(doc.Queue, peekQueued{
			ID: q.ID, Kind: q.Kind, Event: q.Event, Source: q.Source, Dest: q.Dest, Due: q.Due,
			DueInMs: float64(q.Due.Sub(s.Taken)) / 1e6,
		})
	}
	for _, f := range s.FDs {
		doc.FDs = append(doc.FDs, peekFD{FD: f.FD, Session: f.Session, Modes: nonNil(f.Modes), Paused: nonNil(f.Paused), Internal: f.Internal})
	}
	for _, sw := range s.Signals {
		doc.Signals = append(doc.Signals, peekSignal(sw))
	}
	return doc
}

var (
	errNotRunning = errors.New("poe: the kernel is not running (Run returned)")
	errBusy       = errors.New("poe: the kernel did not get to the peek in time (a long handler?)")
)

// peekResult is what the kernel's goroutine hands over; the rest of the
// work is done on the request's.
type peekResult struct {
	snap       Snapshot
	stats      Stats
	recording  bool
	recorded   uint64
	dispatches []Dispatch
}

func (p *peekResult) doc(queueMax int) peekDoc {
	doc := makePeekDoc(p.snap, p.stats, queueMax)
	doc.Recording, doc.Recorded = p.recording, p.recorded
	if p.dispatches != nil {
		doc.Dispatches = p.dispatches
	}
	return doc
}

// peekOnKernel takes a snapshot (and, with a recorder, the last n
// dispatches) on the kernel's goroutine and waits for it with ctx.
func (h *peekHandler) peekOnKernel(ctx context.Context, n int) (*peekResult, error) {
	done := make(chan *peekResult, 1) // buffered: the kernel never blocks on a client gone
	fail := make(chan struct{})
	k := h.k
	ok := k.onKernel(func(ok bool) {
		if !ok {
			close(fail)
			return
		}
		res := &peekResult{snap: k.Peek(), stats: k.Stats()}
		if r := k.rec; r != nil {
			res.recording, res.recorded, res.dispatches = true, r.Total(), r.Dispatches(n)
		}
		done <- res
	})
	if !ok {
		return nil, errNotRunning
	}
	ctx, cancel := context.WithTimeoutCause(ctx, h.wait, errBusy)
	defer cancel()
	select {
	case res := <-done:
		return res, nil
	case <-fail:
		return nil, errNotRunning
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

func (h *peekHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	format := req.URL.Query().Get("format")
	if format == "" {
		switch req.URL.Path[strings.LastIndexByte(req.URL.Path, '/')+1:] {
		case "json":
			format = "json"
		case "trace.json":
			format = "trace"
		case "text":
			format = "text"
		default:
			format = "html"
		}
	}
	switch format {
	case "html":
		hd := w.Header()
		hd.Set("Content-Type", "text/html; charset=utf-8")
		// The page loads nothing but its own JSON.
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
		hd.Set("Cache-Control", "no-store")
		w.Write(peekPage)
	case "trace":
		r := h.k.rec
		if r == nil {
			http.Error(w, "no trace: the kernel has no Options.Recorder", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", `attachment; filename="poe-trace.json"`)
		if _, err := r.WriteTo(w); err != nil {
			h.k.log.Debug("poe: peek: writing the trace", "err", err)
		}
	case "json", "text":
		q := req.URL.Query()
		n := queryInt(q.Get("n"), 50)
		queueMax := queryInt(q.Get("queue"), 500)
		res, err := h.peekOnKernel(req.Context(), n)
		if err != nil {
			code := http.StatusServiceUnavailable // also when the client went away: nobody reads it
			if err == errBusy {
				code = http.StatusGatewayTimeout
			}
			http.Error(w, err.Error(), code)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if format == "text" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			res.snap.WriteText(w, true)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		if err := enc.Encode(res.doc(queueMax)); err != nil {
			h.k.log.Debug("poe: peek: writing the snapshot", "err", err)
		}
	default:
		http.Error(w, "unknown format "+strconv.Quote(format)+": html, json, trace or text", http.StatusBadRequest)
	}
}

func queryInt(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n
	}
	return def
}
