package poe

// Helpers of the kernel's conformance tests (conformance_*_test.go),
// prefixed sq to stay clear of other test files.

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sqLog collects the lines handlers log.
type sqLog struct{ lines []string }

func (l *sqLog) add(format string, a ...any) { l.lines = append(l.lines, fmt.Sprintf(format, a...)) }

// sqWant compares a log with the expected lines.
func sqWant(t *testing.T, want, got []string) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("event log mismatch (-want +got):\n%s", diff)
	}
}

// sqName names a session as the experiments print it: its ID, or K for the
// kernel.
func sqName(s *Session) string {
	if s == nil {
		return "nil"
	}
	if s.IsKernel() {
		return "K"
	}
	return strconv.FormatUint(uint64(s.ID()), 10)
}

// sqErrno renders an error the way the Perl experiments print errno.
func sqErrno(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ESRCH):
		return "ESRCH"
	case errors.Is(err, EPERM):
		return "EPERM"
	case errors.Is(err, EINVAL):
		return "EINVAL"
	case errors.Is(err, EEXIST):
		return "EEXIST"
	case errors.Is(err, ENOSYS):
		return "ENOSYS"
	}
	return err.Error()
}

// sqArgs renders an argument list: sessions as S<id>, nil as nil, slices
// recursively.
func sqArgs(args []any) string {
	parts := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case nil:
			parts[i] = "nil"
		case *Session:
			parts[i] = "S" + sqName(v)
		case []any:
			parts[i] = "[" + sqArgs(v) + "]"
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(parts, " ")
}

// sqCreate creates a session and fails the test if that fails.
func sqCreate(t *testing.T, k *Kernel, spec Spec) *Session {
	t.Helper()
	s, err := k.Create(spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return s
}

// sqRun runs the kernel on another goroutine and fails the test if Run
// does not return within limit. It returns how long Run took and its error.
func sqRun(t *testing.T, k *Kernel, limit time.Duration) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	err := runAsync(t, k, limit)()
	return time.Since(start), err
}

// sqLogger returns a logger writing text records into a buffer.
type sqLogBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *sqLogBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *sqLogBuf) Lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.buf.String()), "\n")
}

func sqLogger() (*slog.Logger, *sqLogBuf) {
	b := &sqLogBuf{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// sqFindLine returns the first line containing every needle, or "".
func sqFindLine(lines []string, needles ...string) string {
next:
	for _, l := range lines {
		for _, n := range needles {
			if !strings.Contains(l, n) {
				continue next
			}
		}
		return l
	}
	return ""
}

// sqCounter is the object of object_states cases (e25's Counter).
type sqCounter struct {
	n   int
	log *sqLog
}

func (c *sqCounter) Start(e *Event) any {
	c.log.add("Counter _start obj=%T heap=%T args=%s", e.Object, e.Heap, sqArgs(e.Args))
	e.Kernel.Yield("inc")
	return "_start"
}

func (c *sqCounter) IncMethod(e *Event) any {
	c.n++
	c.log.add("inc via method, n=%d, state=%s, object is counter=%v", c.n, e.State, e.Object == any(c))
	return nil
}

func (c *sqCounter) Stop(e *Event) any {
	c.log.add("Counter _stop")
	return "_stop"
}

// WrongSignature is not a handler: object states naming it must fail.
func (c *sqCounter) WrongSignature(n int) {}

// sqRefcount returns a session's refcount as Kernel.Peek reports it.
func sqRefcount(t *testing.T, k *Kernel, id SessionID) int {
	t.Helper()
	for _, s := range k.Peek().Sessions {
		if s.ID == id {
			return s.Refcount
		}
	}
	t.Fatalf("session %d not in Peek", id)
	return 0
}

// sqNear reports whether two times are within d of each other.
func sqNear(a, b time.Time, d time.Duration) bool {
	diff := a.Sub(b)
	return diff < d && diff > -d
}
