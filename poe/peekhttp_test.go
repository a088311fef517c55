package poe

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// peekKernel is a running kernel with something to show: a ticker with two
// aliased children (one watching a pipe), a logger with a timer an hour
// away, a signal watcher, and a recorder.
type peekKernel struct {
	k    *Kernel
	rec  *TraceRecorder
	done chan error
	pipe *os.File
}

func startPeekKernel(t *testing.T, record bool) *peekKernel {
	t.Helper()
	p := &peekKernel{done: make(chan error, 1)}
	var opts Options
	if record {
		p.rec = NewTraceRecorder(256)
		opts.Recorder = p.rec
	}
	p.k = NewKernel(&opts)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.pipe = r
	t.Cleanup(func() { r.Close(); w.Close() })
	worker := func(name string, watch bool) Spec {
		return Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				e.Kernel.AliasSet(name)
				if watch {
					if err := e.Kernel.SelectRead(r, "readable"); err != nil {
						t.Error(err)
					}
				}
				e.Kernel.Delay("heartbeat", time.Hour)
				return nil
			},
			"readable": func(e *Event) any {
				var b [64]byte
				r.Read(b[:])
				return nil
			},
			"heartbeat": func(e *Event) any { return nil },
		}}
	}
	ticks := 0
	_, err = p.k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			e.Kernel.AliasSet("ticker")
			e.Kernel.Sig("USR1", "usr1")
			e.Kernel.Delay("tick", 50*time.Millisecond)
			e.Kernel.Create(worker("worker-1", true))
			e.Kernel.Create(worker("worker-2", false))
			return nil
		},
		"tick": func(e *Event) any {
			ticks++
			e.Kernel.Post("logger", "log", "tick", ticks)
			e.Kernel.Call("logger", "count")
			if ticks%4 == 0 {
				w.Write([]byte("x")) // worker-1 gets an I/O event
			}
			e.Kernel.Delay("tick", 50*time.Millisecond)
			return nil
		},
		"usr1":     func(e *Event) any { return nil },
		"shutdown": func(e *Event) any { e.Kernel.Stop(); return nil },
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			e.Kernel.AliasSet("logger")
			e.Kernel.Delay("flush", time.Hour)
			return nil
		},
		"log":   func(e *Event) any { return nil },
		"count": func(e *Event) any { return nil },
		"flush": func(e *Event) any { return nil },
	}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.k.Run() }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop ends the kernel and waits for Run to return (once).
func (p *peekKernel) stop(t *testing.T) {
	if p.done == nil {
		return
	}
	p.k.PostFromGoroutine("ticker", "shutdown")
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the kernel did not stop")
	}
	p.done = nil
}

// The document as a client reads it, by its JSON names.
type peekClientDoc struct {
	KernelID string `json:"kernel_id"`
	Running  bool   `json:"running"`
	Sessions []struct {
		ID       uint64   `json:"id"`
		Aliases  []string `json:"aliases"`
		Parent   uint64   `json:"parent"`
		Children []uint64 `json:"children"`
		Refcount int      `json:"refcount"`
		Handles  int      `json:"handles"`
		Timers   int      `json:"timers"`
		Signals  []string `json:"signals"`
	} `json:"sessions"`
	Queue      []clientQueued `json:"queue"`
	QueueTotal int            `json:"queue_total"`
	FDs        []struct {
		FD      int      `json:"fd"`
		Session uint64   `json:"session"`
		Modes   []string `json:"modes"`
	} `json:"fds"`
	Signals []struct {
		Signal  string `json:"signal"`
		Session uint64 `json:"session"`
		Event   string `json:"event"`
	} `json:"signals"`
	Recording  bool             `json:"recording"`
	Recorded   uint64           `json:"recorded"`
	Dispatches []clientDispatch `json:"dispatches"`
}

type clientQueued struct {
	Kind    string  `json:"kind"`
	Event   string  `json:"event"`
	Source  uint64  `json:"source"`
	Dest    uint64  `json:"dest"`
	DueInMs float64 `json:"due_in_ms"`
}

type clientDispatch struct {
	Kind        string `json:"kind"`
	Event       string `json:"event"`
	SessionName string `json:"session_name"`
	HandlerNs   *int64 `json:"handler_ns"`
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func getDoc(t *testing.T, url string) peekClientDoc {
	t.Helper()
	resp, body := get(t, url)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %s %q: %s", url, resp.Status, resp.Header.Get("Content-Type"), body)
	}
	var doc peekClientDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	// Every key is lowercase.
	var raw map[string]any
	json.Unmarshal(body, &raw)
	for key := range raw {
		if strings.ToLower(key) != key {
			t.Errorf("key %q", key)
		}
	}
	return doc
}

func TestPeekHandlerJSON(t *testing.T) {
	p := startPeekKernel(t, true)
	mux := http.NewServeMux()
	mux.Handle("/poe/", PeekHandler(p.k))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	doc := getDoc(t, srv.URL+"/poe/json")
	if doc.KernelID != p.k.ID() || !doc.Running {
		t.Errorf("kernel %q running %v", doc.KernelID, doc.Running)
	}
	byAlias := map[string]uint64{}
	for _, s := range doc.Sessions {
		for _, a := range s.Aliases {
			byAlias[a] = s.ID
		}
	}
	for _, a := range []string{"ticker", "worker-1", "worker-2", "logger"} {
		if byAlias[a] == 0 {
			t.Fatalf("no session aliased %q in %+v", a, doc.Sessions)
		}
	}
	for _, s := range doc.Sessions {
		switch s.ID {
		case byAlias["ticker"]:
			if !slices.Equal(s.Children, []uint64{byAlias["worker-1"], byAlias["worker-2"]}) || !slices.Equal(s.Signals, []string{"USR1"}) {
				t.Errorf("ticker: %+v", s)
			}
		case byAlias["worker-1"]:
			if s.Parent != byAlias["ticker"] || s.Handles != 1 || s.Timers != 1 || s.Refcount < 1 {
				t.Errorf("worker-1: %+v", s)
			}
		case byAlias["logger"]:
			if s.Parent != 0 || s.Timers != 1 {
				t.Errorf("logger: %+v", s)
			}
		}
	}
	found := false
	for _, q := range doc.Queue {
		if q.Event == "flush" {
			found = true
			if q.Kind != "alarm" || q.Dest != byAlias["logger"] || q.Source != byAlias["logger"] || q.DueInMs < 59*60*1000 {
				t.Errorf("flush: %+v", q)
			}
		}
	}
	if !found || doc.QueueTotal != len(doc.Queue) {
		t.Errorf("queue %d/%d without flush: %+v", len(doc.Queue), doc.QueueTotal, doc.Queue)
	}
	if len(doc.Signals) != 1 || doc.Signals[0].Signal != "USR1" || doc.Signals[0].Event != "usr1" || doc.Signals[0].Session != byAlias["ticker"] {
		t.Errorf("signals: %+v", doc.Signals)
	}
	fdOK := false
	for _, f := range doc.FDs {
		if f.FD == int(p.pipe.Fd()) && f.Session == byAlias["worker-1"] && slices.Equal(f.Modes, []string{"read"}) {
			fdOK = true
		}
	}
	if !fdOK {
		t.Errorf("fds: %+v (pipe %d)", doc.FDs, p.pipe.Fd())
	}
	if !doc.Recording || doc.Recorded == 0 || len(doc.Dispatches) == 0 {
		t.Fatalf("recording %v, %d recorded, %d listed", doc.Recording, doc.Recorded, len(doc.Dispatches))
	}
	starts := 0
	for _, d := range doc.Dispatches {
		if d.Event == "_start" && d.Kind == "mgmt" {
			starts++
		}
		if d.HandlerNs == nil || *d.HandlerNs < 0 || d.SessionName == "" {
			t.Errorf("dispatch %+v", d)
		}
	}
	if starts != 4 {
		t.Errorf("%d _start dispatches in %+v", starts, doc.Dispatches)
	}

	// The ticker's ticks show up in later snapshots; ?n limits the list.
	deadline := time.Now().Add(5 * time.Second)
	for {
		doc = getDoc(t, srv.URL+"/poe/?format=json&n=3")
		if len(doc.Dispatches) > 3 {
			t.Fatalf("n=3 listed %d", len(doc.Dispatches))
		}
		if slices.ContainsFunc(doc.Dispatches, func(d clientDispatch) bool {
			return d.Event == "tick" && d.Kind == "alarm" && strings.Contains(d.SessionName, "ticker")
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no tick in %+v", doc.Dispatches)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if doc = getDoc(t, srv.URL+"/poe/json?queue=1"); len(doc.Queue) != 1 || doc.QueueTotal < 4 {
		t.Errorf("queue=1: %d of %d", len(doc.Queue), doc.QueueTotal)
	}

	resp, body := get(t, srv.URL+"/poe/text")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "(ticker)") || !strings.Contains(string(body), `"flush"`) {
		t.Errorf("text: %s %s", resp.Status, body)
	}
	resp, body = get(t, srv.URL+"/poe/trace.json")
	var tf traceFile
	if resp.StatusCode != 200 || json.Unmarshal(body, &tf) != nil || len(tf.TraceEvents) == 0 {
		t.Errorf("trace.json: %s %.200s", resp.Status, body)
	}
	resp, body = get(t, srv.URL+"/poe/")
	page := string(body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(page, `id="session-tree"`) || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("page: %s %v", resp.Status, resp.Header)
	}
	for _, external := range []string{"http://", "https://", "<link", " src=", "@import", "url("} {
		if strings.Contains(page, external) {
			t.Errorf("the page refers to something outside it: %q", external)
		}
	}
	if resp, err := http.Post(srv.URL+"/poe/json", "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %v %v", resp, err)
	}
	if resp, _ := get(t, srv.URL+"/poe/?format=xml"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("format=xml: %s", resp.Status)
	}

	p.stop(t)
	if resp, body := get(t, srv.URL+"/poe/json"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after Run returned: %s %s", resp.Status, body)
	}
}

func TestPeekHandlerWithoutRecorder(t *testing.T) {
	p := startPeekKernel(t, false)
	srv := httptest.NewServer(PeekHandler(p.k))
	defer srv.Close()
	doc := getDoc(t, srv.URL+"/json")
	if doc.Recording || doc.Dispatches == nil || len(doc.Dispatches) != 0 || len(doc.Sessions) != 4 {
		t.Errorf("recording %v, dispatches %v, %d sessions", doc.Recording, doc.Dispatches, len(doc.Sessions))
	}
	if resp, _ := get(t, srv.URL+"/trace.json"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("trace.json without a recorder: %s", resp.Status)
	}
}

// A request waits for a busy kernel only as long as its client does, and
// one waiting when the kernel finishes gets 503 at once.
func TestPeekHandlerWaits(t *testing.T) {
	k := NewKernel(nil)
	entered, release := make(chan struct{}), make(chan struct{})
	k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any { e.Kernel.Yield("busy"); return nil },
		"busy": func(e *Event) any {
			close(entered)
			<-release
			return nil
		},
	}})
	done := make(chan error, 1)
	go func() { done <- k.Run() }()
	<-entered
	h := PeekHandler(k)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	w := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/json", nil).WithContext(ctx))
	if w.Code != http.StatusServiceUnavailable || time.Since(start) > 5*time.Second {
		t.Errorf("busy kernel, client gone: %d after %v", w.Code, time.Since(start))
	}
	w = httptest.NewRecorder()
	(&peekHandler{k: k, wait: 20 * time.Millisecond}).ServeHTTP(w, httptest.NewRequest("GET", "/json", nil))
	if w.Code != http.StatusGatewayTimeout {
		t.Errorf("busy kernel past the handler's wait: %d %s", w.Code, w.Body)
	}

	waiting := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/json", nil))
		waiting <- w.Code
	}()
	for k.bridge.pending.Load() < 3 { // the three requests queued their peeks
		time.Sleep(time.Millisecond)
	}
	close(release) // the session ends, and the kernel with it
	select {
	case code := <-waiting:
		if code != http.StatusServiceUnavailable {
			t.Errorf("kernel finished while waiting: %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the request still waits after the kernel finished")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Before Run, a peek waits for the first timeslice.
func TestPeekHandlerBeforeRun(t *testing.T) {
	k := NewKernel(nil)
	k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			e.Kernel.AliasSet("early")
			e.Kernel.Delay("later", 100*time.Millisecond)
			return nil
		},
		"later": func(e *Event) any { e.Kernel.AliasRemove("early"); return nil },
	}})
	srv := httptest.NewServer(PeekHandler(k))
	defer srv.Close()
	got := make(chan peekClientDoc, 1)
	go func() { got <- getDoc(t, srv.URL+"/json") }()
	time.Sleep(20 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- k.Run() }()
	doc := <-got
	later := slices.IndexFunc(doc.Queue, func(q clientQueued) bool {
		return q.Event == "later" && q.Kind == "alarm"
	})
	if len(doc.Sessions) != 1 || !slices.Equal(doc.Sessions[0].Aliases, []string{"early"}) || later < 0 {
		t.Errorf("%+v", doc)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
