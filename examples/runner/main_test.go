package main

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/examples/internal/clitest"
)

// syncBuffer is the runner's output, read by the test while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runBounded runs cfg and fails the test if that takes 10 s.
func runBounded(t *testing.T, cfg config) (string, int) {
	t.Helper()
	out := &syncBuffer{}
	cfg.out = out
	type result struct {
		failed int
		err    error
	}
	done := make(chan result, 1)
	go func() { f, err := run(cfg); done <- result{f, err} }()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return out.String(), r.failed
	case <-time.After(10 * time.Second):
		t.Fatalf("runner still running after 10 s:\n%s", out)
	}
	return "", 0
}

// lines returns the output lines of job n, in order.
func lines(out string, n int) []string {
	var l []string
	for _, s := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(s, fmt.Sprintf("[%d] ", n)); ok {
			l = append(l, rest)
		}
	}
	return l
}

func has(t *testing.T, out string, n int, pattern string) {
	t.Helper()
	re := regexp.MustCompile("^" + pattern + "$")
	for _, l := range lines(out, n) {
		if re.MatchString(l) {
			return
		}
	}
	t.Errorf("job %d: no line matching %q in:\n%s", n, pattern, out)
}

func TestOutputAndStatus(t *testing.T) {
	out, failed := runBounded(t, config{parallel: 3, timeout: 5 * time.Second, grace: time.Second, cmds: []string{
		"echo hello; echo oops >&2; exit 3",
		"seq 1 2000",
		"printf 'no newline at the end'",
	}})
	has(t, out, 1, "out: hello")
	has(t, out, 1, "err: oops")
	has(t, out, 1, `exit 3 after .*`)
	// Every line is read before the job counts as finished.
	l := lines(out, 2)
	if len(l) != 2002 || l[1] != "out: 1" || l[2000] != "out: 2000" {
		t.Errorf("job 2: %d lines, %q ... %q", len(l), l[1], l[len(l)-2])
	}
	has(t, out, 2, `exit 0 after .*`)
	has(t, out, 3, `out: no newline at the end \(no newline\)`)
	if failed != 1 {
		t.Errorf("failed = %d, want 1", failed)
	}
}

func TestTimeoutKillsGroup(t *testing.T) {
	start := time.Now()
	out, failed := runBounded(t, config{parallel: 2, timeout: 300 * time.Millisecond, grace: 300 * time.Millisecond, cmds: []string{
		// The sleep is a grandchild holding the pipes: only a signal to
		// the process group ends the job.
		"echo started; sleep 30; echo never",
		// Ignores SIGTERM (and so do its sleeps): SIGKILL after the grace.
		"trap '' TERM; echo stubborn; while :; do sleep 0.05; done",
	}})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	has(t, out, 1, "out: started")
	has(t, out, 1, "timed out after 300ms, sending SIGTERM")
	has(t, out, 1, "killed by SIGTERM after .*")
	has(t, out, 2, "out: stubborn")
	has(t, out, 2, "still there after 300ms, sending SIGKILL")
	has(t, out, 2, "killed by SIGKILL after .*")
	if strings.Contains(out, "out: never") || failed != 2 {
		t.Errorf("failed %d:\n%s", failed, out)
	}
}

func TestOneAtATime(t *testing.T) {
	out, failed := runBounded(t, config{parallel: 1, timeout: 5 * time.Second, cmds: []string{
		"sleep 0.1; echo first", "echo second", "echo third",
	}})
	// With -j 1 each job starts after the previous one finished.
	var order []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		order = append(order, regexp.MustCompile(` .*`).ReplaceAllString(l, ""))
	}
	want := "[1] [1] [1] [2] [2] [2] [3] [3] [3]"
	if got := strings.Join(order, " "); got != want || failed != 0 {
		t.Errorf("order %s (want %s), failed %d:\n%s", got, want, failed, out)
	}
}

func TestInterrupt(t *testing.T) {
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		f, _ := run(config{parallel: 2, timeout: 20 * time.Second, grace: time.Second, out: out,
			cmds: []string{"sleep 20", "sleep 20", "echo not started"}})
		done <- f
	}()
	for deadline := time.Now().Add(5 * time.Second); strings.Count(out.String(), "started pid") < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("jobs did not start:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	select {
	case failed := <-done:
		s := out.String()
		if failed != 2 || strings.Contains(s, "not started") || strings.Count(s, "killed by SIGTERM") != 2 {
			t.Errorf("failed %d:\n%s", failed, s)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("not stopped by SIGINT:\n%s", out)
	}
}

// TestBadUsage runs the built command with an unknown flag: the complaint
// and the usage once, exit status 2.
func TestBadUsage(t *testing.T) {
	clitest.BadFlag(t, clitest.Build(t, "."))
}
