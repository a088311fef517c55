package ikc

import (
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
)

func TestParseProcStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "4242 (my (odd) prog) R 1 4242 4242 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 3 0 12345 0 0"
	st, ok, err := parseProcStat([]byte(line))
	if err != nil || !ok {
		t.Fatalf("parse: %v %v", ok, err)
	}
	if st.state != 'R' || st.cpu != 3800*time.Millisecond {
		t.Errorf("got state %c cpu %v, want R 3.8s", st.state, st.cpu)
	}
	for _, bad := range []string{"", "4242 (x", "4242 (x) R 1 2", "4242 (x) RR 1 2 3 4 5 6 7 8 9 10 11 12 13"} {
		if _, _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParsePS(t *testing.T) {
	// procps (Linux) and BSD ps (macOS, the BSDs) formats.
	out := "  4242 S<l  01:02:03\n    77 Z     0:00.50\n 9 R+ 2-00:00:01\n 10 Ss 123:45.67\n"
	m, err := parsePS([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]procStat{
		4242: {'S', time.Hour + 2*time.Minute + 3*time.Second},
		77:   {'Z', 500 * time.Millisecond},
		9:    {'R', 48*time.Hour + time.Second},
		10:   {'S', 123*time.Minute + 45670*time.Millisecond},
	}
	if len(m) != len(want) {
		t.Fatalf("got %v, want %v", m, want)
	}
	for pid, w := range want {
		if g := m[pid]; g.state != w.state || (g.cpu-w.cpu).Abs() > time.Millisecond {
			t.Errorf("pid %d: got %c %v, want %c %v", pid, g.state, g.cpu, w.state, w.cpu)
		}
	}
	for _, bad := range []string{"x S 0:01", "12", "12 S 1:2:3:4", "12 S a:01", "12 S 1-", "12 S -1:00"} {
		if _, err := parsePS([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// psStats on real processes: a running one, a zombie, one that is gone.
func TestPSStats(t *testing.T) {
	if _, err := exec.LookPath("ps"); err != nil {
		t.Skip("no ps:", err)
	}
	sleeper := exec.Command("sleep", "30")
	quick := exec.Command("true")
	for _, c := range []*exec.Cmd{sleeper, quick} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait(); quick.Wait() }()
	const ghost = 1 << 22 // above pid_max's default: never a process
	pids := []int{sleeper.Process.Pid, quick.Process.Pid, ghost}
	deadline := time.Now().Add(5 * time.Second)
	for {
		m, err := psStats(pids)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m[ghost]; ok {
			t.Fatalf("ghost pid listed: %v", m)
		}
		s, z := m[sleeper.Process.Pid], m[quick.Process.Pid]
		if s.state != 0 && s.state != 'Z' && z.state == 'Z' {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sleeper %c, exited child %c (want running, Z): %v", s.state, z.state, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m, err := psStats([]int{ghost}); err != nil || len(m) != 0 {
		t.Errorf("only a ghost: %v, %v", m, err)
	}
}

// A worker the babysitter cannot find is "missing": a fake CHLD forgets
// it and a replacement is forked. Through /proc, and through ps(1) as
// where there is no /proc.
func TestBabysitMissingWorker(t *testing.T) {
	t.Run("default", testBabysitMissingWorker)
	t.Run("ps", func(t *testing.T) {
		if _, err := exec.LookPath("ps"); err != nil {
			t.Skip("no ps:", err)
		}
		lookupWorkersFn = psLookup
		t.Cleanup(func() { lookupWorkersFn = lookupWorkers })
		testBabysitMissingWorker(t)
	})
}

func testBabysitMissingWorker(t *testing.T) {
	c := scenario{Processes: 2, Connections: 1, BabysitMS: 50, Verbose: true}
	var logs syncBuffer
	n, s := preforkParent(t, c, slog.New(slog.NewTextHandler(&logs, nil)))
	real := waitWorkers(t, n, s, 1)[0]
	const ghost = 1 << 22 // above pid_max's default: never a process
	n.Do(func(*poe.Kernel) { s.children[ghost] = &worker{pid: ghost} })
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := nodeWorkers(n, s)
		if len(p) == 2 && p[0] != ghost && p[1] != ghost {
			break // the ghost was replaced by a second real worker
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers %v; log:\n%s", p, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "worker missing; faking a CHLD") || !strings.Contains(logs.String(), "worker is gone") {
		t.Errorf("log:\n%s", logs.String())
	}
	if !alive(real) {
		t.Error("the real worker was touched")
	}
	stopParent(t, n, s)
}
