package ikc

import (
	"log/slog"
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

// A worker the babysitter cannot find in /proc is "missing": a fake CHLD
// forgets it and a replacement is forked.
func TestBabysitMissingWorker(t *testing.T) {
	c := scenario{Processes: 2, Connections: 1, BabysitMS: 50, Verbose: true}
	var logs syncBuffer
	n, s := preforkParent(t, c, slog.New(slog.NewTextHandler(&logs, nil)))
	real := waitWorkers(t, n, s, 1)[0]
	const ghost = 1 << 22 // above pid_max's default: never a process
	n.do(func(*poe.Kernel) { s.children[ghost] = &worker{pid: ghost} })
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := n.workers(s)
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
