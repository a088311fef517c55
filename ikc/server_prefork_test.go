package ikc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc/clientlite"
	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/poe"
)

// The prefork tests run real worker processes: a worker is this test
// binary re-executed, and TestMain sends it to scenarioMain instead of
// the tests, as a user's main would build its sessions again.

const scenarioEnv = "IKC_TEST_SCENARIO"

// scenario is what a prefork test's main builds (passed to workers, and
// to a parent run as a subprocess, as JSON in scenarioEnv).
type scenario struct {
	Processes   int
	Connections int
	BabysitMS   int
	RogueMS     int
	Unix        string
	IgnoreINT   bool // workers watch INT and never get to handle it
	PollParent  bool // workers poll getppid, as without pidfd or kqueue
	Verbose     bool
}

func (c scenario) options(log *slog.Logger) ServerOptions {
	o := ServerOptions{
		Name: "Pulse", Processes: c.Processes, Connections: c.Connections,
		Babysit: time.Duration(c.BabysitMS) * time.Millisecond, RogueLimit: time.Duration(c.RogueMS) * time.Millisecond,
		Verbose: c.Verbose, Logger: log, ShutdownTimeout: 5 * time.Second,
	}
	if c.Unix != "" {
		o.Unix = c.Unix
	} else {
		o.IP, o.Port = "127.0.0.1", EphemeralPort
	}
	return o
}

func TestMain(m *testing.M) {
	if sc := os.Getenv(scenarioEnv); sc != "" {
		os.Exit(scenarioMain(sc))
	}
	os.Exit(m.Run())
}

// scenarioMain is a prefork program's main: a parent when run by a test,
// a worker when run by the parent.
func scenarioMain(js string) int {
	var c scenario
	if err := json.Unmarshal([]byte(js), &c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	lvl := slog.LevelWarn
	if c.Verbose {
		lvl = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	if c.PollParent {
		watchParentFn = func(int) (int, error) { return -1, syscall.ENOSYS }
	}
	k := poe.NewKernel(&poe.Options{Logger: log})
	s, err := NewServer(k, c.options(log))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	told := ""
	_, err = k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.AliasSet("Service")
			Publish(e.Kernel, e.Session, "pid", "busy", "told")
			e.Kernel.Sig("__child", "__child")
			e.Kernel.Sig("__parent", "__parent")
			if IsWorker() && c.IgnoreINT {
				e.Kernel.Sig("INT", "int")
			}
			return nil
		},
		"pid": func(e *poe.Event) any { return os.Getpid() },
		// told answers which of __parent / __child this process got.
		"__child":  func(e *poe.Event) any { told = "child"; return nil },
		"__parent": func(e *poe.Event) any { told = "parent"; return nil },
		"told":     func(e *poe.Event) any { return told },
		"busy": func(e *poe.Event) any {
			for i := 0; ; i++ { // burn CPU until the babysitter kills us
				spin.Store(int64(i))
			}
		},
		"int": func(e *poe.Event) any { e.Kernel.SigHandled(); return nil },
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if !IsWorker() {
		fmt.Printf("ready %d\n", s.Port())
	}
	if err := k.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// preforkParent runs a prefork parent in this process; workers run c.
func preforkParent(t *testing.T, c scenario, log *slog.Logger) (*ikctest.Node, *Server) {
	t.Helper()
	js, _ := json.Marshal(c)
	t.Setenv(scenarioEnv, string(js))
	// Race-enabled workers would sleep 1 s at exit.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	var s *Server
	n := ikctest.StartNode(t, func(k *poe.Kernel) {
		var err error
		if s, err = NewServer(k, c.options(log)); err != nil {
			t.Error(err)
		}
	})
	if s == nil {
		t.FailNow()
	}
	// Workers copy the environment at start; the parent itself keeps
	// the marker until the test ends, which is harmless here.
	return n, s
}

// workers returns the parent's current worker PIDs.
func nodeWorkers(n *ikctest.Node, s *Server) []int {
	var pids []int
	n.Do(func(*poe.Kernel) { pids = s.Workers() })
	return pids
}

// waitWorkers waits until the parent has want workers.
func waitWorkers(t *testing.T, n *ikctest.Node, s *Server, want int) []int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		p := nodeWorkers(n, s)
		if len(p) == want {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("parent has %d workers, want %d", len(p), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopParent asks the parent to shut down as on TERM and waits for its
// Run to return by itself.
func stopParent(t *testing.T, n *ikctest.Node, s *Server) {
	t.Helper()
	n.Do(func(k *poe.Kernel) {
		k.Post(s.Session(), "sig_TERM", "TERM")
		ikctest.ReleaseKernel(k)
	})
	if !n.Exited() {
		t.Fatal("the parent did not stop after TERM")
	}
}

// askPID connects a new ClientLite and calls Service/pid.
func askPID(ctx context.Context, port int, unix string) (int, error) {
	// Each client needs its own name: a worker may serve several at once.
	name := fmt.Sprintf("Lite%dClient", liteSeq.Add(1))
	l, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: port, Unix: unix, Name: name, Timeout: 10 * time.Second})
	if err != nil {
		return 0, err
	}
	defer l.Disconnect()
	v, err := l.Call(ctx, "poe://Pulse/Service/pid")
	if err != nil {
		return 0, err
	}
	pid, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("pid answered %#v", v)
	}
	return int(pid), nil
}

var liteSeq atomic.Int64

// spin is where the busy state's loop stores, so that it is not an empty
// loop.
var spin atomic.Int64

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestPreforkWorkersServe(t *testing.T) {
	c := scenario{Processes: 3, Connections: 2}
	n, s := preforkParent(t, c, nil)
	first := waitWorkers(t, n, s, 2)
	served := map[int]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const requests = 8
	for i := 0; i < requests; i++ {
		pid, err := askPID(ctx, s.Port(), "")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		served[pid]++
	}
	for pid, n := range served {
		if pid == os.Getpid() {
			t.Error("the parent served a connection")
		}
		if n > c.Connections {
			t.Errorf("worker %d served %d connections, limit %d", pid, n, c.Connections)
		}
	}
	if len(served) < requests/c.Connections {
		t.Errorf("%d requests served by only %d workers: %v", requests, len(served), served)
	}
	last := waitWorkers(t, n, s, 2)
	stopParent(t, n, s)
	for _, pid := range append(first, last...) {
		if alive(pid) {
			t.Errorf("worker %d still alive after the parent stopped", pid)
		}
	}
}

func TestPreforkKilledWorkersReplaced(t *testing.T) {
	c := scenario{Processes: 4, Connections: 3}
	n, s := preforkParent(t, c, nil)
	waitWorkers(t, n, s, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var done, retried int
	var failures []error
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := askPID(ctx, s.Port(), "")
				mu.Lock()
				if err != nil {
					retried++
					mu.Unlock()
					_, err = askPID(ctx, s.Port(), "")
					mu.Lock()
				}
				if err != nil {
					failures = append(failures, err)
				}
				done++
				mu.Unlock()
			}
		}()
	}
	// Kills at random moments and victims, but spaced so that a retry
	// (tens of ms) cannot meet a second kill.
	killed := 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		time.Sleep(300*time.Millisecond + rand.N(200*time.Millisecond))
		if p := nodeWorkers(n, s); len(p) > 0 {
			if syscall.Kill(p[rand.IntN(len(p))], syscall.SIGKILL) == nil {
				killed++
			}
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d requests, %d retried, %d workers killed", done, retried, killed)
	for _, err := range failures {
		t.Errorf("request failed after one retry: %v", err)
	}
	if killed < 5 || done < 10 {
		t.Errorf("too little happened: %d kills, %d requests", killed, done)
	}
	waitWorkers(t, n, s, 3)
	if _, err := askPID(ctx, s.Port(), ""); err != nil {
		t.Errorf("after the kills: %v", err)
	}
	stopParent(t, n, s)
}

// syncBuffer is a log sink shared by the kernel and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestPreforkRogueEscalation(t *testing.T) {
	t.Run("default", testRogueEscalation)
	// CPU times from ps(1), as where there is no /proc (whole seconds
	// from procps: the rogue spins a second before it is seen).
	t.Run("ps", func(t *testing.T) {
		if _, err := exec.LookPath("ps"); err != nil {
			t.Skip("no ps:", err)
		}
		lookupWorkersFn = psLookup
		t.Cleanup(func() { lookupWorkersFn = lookupWorkers })
		testRogueEscalation(t)
	})
}

func testRogueEscalation(t *testing.T) {
	c := scenario{Processes: 2, Connections: 1, BabysitMS: 100, RogueMS: 300, IgnoreINT: true, Verbose: true}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	n, s := preforkParent(t, c, log)
	rogue := waitWorkers(t, n, s, 1)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: s.Port()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Disconnect()
	if err := l.Post(ctx, "poe://Pulse/Service/busy"); err != nil {
		t.Fatal(err)
	}
	// The rogue is killed, reaped and replaced by a worker that serves.
	deadline := time.Now().Add(20 * time.Second)
	for alive(rogue) || len(nodeWorkers(n, s)) != 1 || nodeWorkers(n, s)[0] == rogue {
		if time.Now().After(deadline) {
			t.Fatalf("rogue %d not replaced; log:\n%s", rogue, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	pid, err := askPID(ctx, s.Port(), "")
	if err != nil || pid == rogue {
		t.Errorf("after the rogue: pid %d, %v", pid, err)
	}
	stopParent(t, n, s)
	var steps []string
	w := "worker=" + strconv.Itoa(rogue)
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, w) {
			continue
		}
		switch {
		case strings.Contains(line, "gone rogue"):
			steps = append(steps, "rogue")
		case strings.Contains(line, "signal="):
			steps = append(steps, line[strings.Index(line, "signal=")+7:])
		case strings.Contains(line, "worker exited"):
			steps = append(steps, "exited "+line[strings.Index(line, "status=")+7:])
		}
	}
	want := "rogue SIGINT SIGTERM SIGKILL exited 9"
	if got := strings.Join(steps, " "); got != want {
		t.Errorf("escalation %q, want %q; log:\n%s", got, want, logs.String())
	}
}

// fdCount counts this process's open descriptors.
func fdCount(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

func TestPreforkNoFDLeak(t *testing.T) {
	c := scenario{Processes: 3, Connections: 1}
	n, s := preforkParent(t, c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	recycle := func(times int) {
		for i := 0; i < times; i++ {
			if _, err := askPID(ctx, s.Port(), ""); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		waitWorkers(t, n, s, 2)
	}
	recycle(5)
	before := fdCount(t)
	recycle(100)
	// A channel's socket closes after its session ends; let the last
	// ones settle.
	var after int
	for i := 0; i < 50; i++ {
		if after = fdCount(t); after <= before {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if after > before {
		t.Errorf("descriptors: %d before 100 recycles, %d after", before, after)
	}
	stopParent(t, n, s)
}

// hasProc: the tests read /proc where there is one, else ask ps(1).
var hasProc = func() bool { _, err := os.Stat("/proc/self/stat"); return err == nil }()

// children lists the processes whose parent is pid.
func children(pid int) []int {
	var out []int
	if !hasProc {
		b, _ := exec.Command("ps", "-A", "-o", "pid=", "-o", "ppid=").Output()
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[1] == strconv.Itoa(pid) {
				p, _ := strconv.Atoi(f[0])
				out = append(out, p)
			}
		}
		return out
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if f := strings.Fields(string(b[i+1:])); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// subprocessParent runs scenario c as a prefork parent in a child
// process, waits until it is listening and has two workers, and kills
// whatever is left of them when the test ends.
func subprocessParent(t *testing.T, c scenario) (*exec.Cmd, []int) {
	t.Helper()
	js, _ := json.Marshal(c)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), scenarioEnv+"="+string(js), "GORACE=atexit_sleep_ms=0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var workers []int
	t.Cleanup(func() {
		for _, p := range append(workers, cmd.Process.Pid) {
			syscall.Kill(p, syscall.SIGKILL)
		}
	})
	if line, err := bufio.NewReader(out).ReadString('\n'); !strings.HasPrefix(line, "ready") {
		t.Fatalf("parent said %q, %v", line, err)
	}
	for deadline := time.Now().Add(20 * time.Second); len(workers) < 2; time.Sleep(20 * time.Millisecond) {
		workers = children(cmd.Process.Pid)
		if time.Now().After(deadline) {
			t.Fatalf("workers of the parent: %v", workers)
		}
	}
	return cmd, workers
}

func TestPreforkTermLeavesNothing(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "pulse.sock")
	cmd, workers := subprocessParent(t, scenario{Processes: 3, Connections: 5, Unix: sock})
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pid, err := askPID(ctx, 0, sock)
	if err != nil {
		t.Fatal(err)
	}
	if pid == cmd.Process.Pid {
		t.Error("the parent served")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("parent after TERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("parent still running 20 s after TERM")
	}
	for _, p := range workers {
		if alive(p) {
			t.Errorf("worker %d outlived the parent", p)
		}
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket %s left behind (%v)", sock, err)
	}
}

func TestPreforkSignalsAndPeek(t *testing.T) {
	c := scenario{Processes: 2, Connections: 1}
	js, _ := json.Marshal(c)
	t.Setenv(scenarioEnv, string(js))
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	var peek syncBuffer
	var s *Server
	told := make(chan string, 1)
	n := ikctest.StartNode(t, func(k *poe.Kernel) {
		o := c.options(nil)
		o.PeekOutput = &peek
		var err error
		if s, err = NewServer(k, o); err != nil {
			t.Error(err)
			return
		}
		k.Create(poe.Spec{Inline: map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				e.Kernel.AliasSet("watcher")
				return e.Kernel.Sig("__parent", "told")
			},
			"told": func(e *poe.Event) any { told <- e.String(poe.ARG0)[2:]; return nil },
		}})
	})
	if s == nil {
		t.FailNow()
	}
	select {
	case w := <-told:
		if w != "parent" {
			t.Errorf("parent told %q", w)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no __parent signal in the parent")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: s.Port(), Name: "Teller"})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := l.Call(ctx, "poe://Pulse/Service/told"); err != nil || v != "child" {
		t.Errorf("worker told %#v, %v; want child", v, err)
	}
	l.Disconnect()
	for _, sig := range []string{"USR1", "USR2"} {
		n.Do(func(k *poe.Kernel) { k.Call(s.Session(), "sig_"+sig, sig) })
	}
	out := peek.String()
	if !strings.Contains(out, "kernel peek (USR1)") || !strings.Contains(out, "kernel peek (USR2)") || !strings.Contains(out, "watcher") {
		t.Errorf("peek output:\n%s", out)
	}
	waitWorkers(t, n, s, 1)
	stopParent(t, n, s)
}

func TestServerAddressInUse(t *testing.T) {
	n := ikctest.StartNode(t, nil)
	n.Do(func(k *poe.Kernel) {
		a, err := NewServer(k, ServerOptions{IP: "127.0.0.1", Port: EphemeralPort, Name: "A"})
		if err != nil {
			t.Error(err)
			return
		}
		var reported []string
		_, err = NewServer(k, ServerOptions{IP: "127.0.0.1", Port: a.Port(), Name: "B",
			OnError: func(op string, errno int, text string) { reported = append(reported, fmt.Sprint(op, errno)) }})
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("second server on port %d: %v, want EADDRINUSE", a.Port(), err)
		}
		if want := fmt.Sprint("listen", int(syscall.EADDRINUSE)); len(reported) != 1 || reported[0] != want {
			t.Errorf("OnError got %v, want [%s]", reported, want)
		}
		a.Close()
	})
}

// A parent that is KILLed cannot tell its workers; they notice through a
// pidfd (kqueue) of the parent, or by polling their parent's pid where
// there is neither, and shut down instead of serving on as orphans.
func TestPreforkOrphanedWorkersExit(t *testing.T) {
	t.Run("watch", func(t *testing.T) { testOrphans(t, false) })
	t.Run("poll", func(t *testing.T) { testOrphans(t, true) })
}

func testOrphans(t *testing.T, poll bool) {
	cmd, workers := subprocessParent(t, scenario{Processes: 3, Connections: 1000, PollParent: poll})
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range workers {
		for alive(p) && !zombie(p) {
			if time.Now().After(deadline) {
				t.Fatalf("worker %d still running 10 s after its parent was killed", p)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// zombie reports whether pid has exited but not been reaped (orphans are
// reaped by init or a subreaper, which may take a moment).
func zombie(pid int) bool {
	if !hasProc {
		m, err := psStats([]int{pid})
		st, ok := m[pid]
		return err == nil && (!ok || st.state == 'Z')
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	st, ok, err := parseProcStat(b)
	return err == nil && ok && st.state == 'Z'
}

// A fork that fails with EAGAIN is retried a second later; one that fails
// otherwise is reported to OnError and ends the server.
func TestPreforkForkFailures(t *testing.T) {
	t.Run("EAGAIN", func(t *testing.T) {
		c := scenario{Processes: 2, Connections: 1, Verbose: true}
		js, _ := json.Marshal(c)
		t.Setenv(scenarioEnv, string(js))
		t.Setenv("GORACE", "atexit_sleep_ms=0")
		var logs syncBuffer
		var s *Server
		var calls []time.Time
		n := ikctest.StartNode(t, func(k *poe.Kernel) {
			var err error
			if s, err = NewServer(k, c.options(slog.New(slog.NewTextHandler(&logs, nil)))); err != nil {
				t.Error(err)
				return
			}
			failures := 0
			real := s.spawn
			s.spawn = func() (int, error) {
				calls = append(calls, time.Now())
				if failures < 2 {
					failures++
					return 0, syscall.EAGAIN
				}
				return real()
			}
		})
		if s == nil {
			t.FailNow()
		}
		waitWorkers(t, n, s, 1)
		n.Do(func(*poe.Kernel) {
			if len(calls) != 3 {
				t.Errorf("%d spawns, want 3", len(calls))
				return
			}
			for i := 1; i < 3; i++ {
				if gap := calls[i].Sub(calls[i-1]); gap < 900*time.Millisecond {
					t.Errorf("retry %d came after %v, want about 1 s", i, gap)
				}
			}
		})
		if got := strings.Count(logs.String(), "fork failed, retrying in 1 s"); got != 2 {
			t.Errorf("%d retries logged, want 2; log:\n%s", got, logs.String())
		}
		stopParent(t, n, s)
	})
	t.Run("ENOENT", func(t *testing.T) {
		c := scenario{Processes: 2, Connections: 1}
		var reported []string
		n := ikctest.StartNode(t, func(k *poe.Kernel) {
			o := c.options(nil)
			o.OnError = func(op string, errno int, text string) { reported = append(reported, fmt.Sprint(op, " ", errno)) }
			s, err := NewServer(k, o)
			if err != nil {
				t.Error(err)
				return
			}
			s.spawn = func() (int, error) { return 0, syscall.ENOENT }
			ikctest.ReleaseKernel(k)
		})
		if !n.Exited() {
			t.Fatal("the server did not end after a fatal fork error")
		}
		if want := fmt.Sprint("fork ", int(syscall.ENOENT)); len(reported) != 1 || reported[0] != want {
			t.Errorf("OnError got %v, want [%s]", reported, want)
		}
	})
}
