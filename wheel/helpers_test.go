package wheel_test

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/filter"
	"golang.org/x/sys/unix"
)

// evlog collects a test's event log.
type evlog struct {
	mu    sync.Mutex
	lines []string
}

func (l *evlog) L(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *evlog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func (l *evlog) want(t *testing.T, want []string) {
	t.Helper()
	if d := cmp.Diff(want, l.get()); d != "" {
		t.Errorf("event log (-want +got):\n%s", d)
	}
}

// run creates one session with handlers and runs a fresh kernel until it
// ends, failing the test after limit.
func run(t *testing.T, limit time.Duration, h map[string]poe.Handler) *poe.Kernel {
	t.Helper()
	k := poe.NewKernel(nil)
	h["__timeout"] = func(e *poe.Event) any {
		t.Errorf("timed out after %v", limit)
		e.Kernel.Stop()
		return nil
	}
	s, err := k.Create(poe.Spec{Inline: h})
	if err != nil {
		t.Fatal(err)
	}
	var sid poe.SessionID
	if s != nil {
		sid = s.ID()
	}
	timer := time.AfterFunc(limit, func() { k.PostFromGoroutine(sid, "__timeout") })
	defer timer.Stop()
	if err := k.Run(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return k
}

// heap returns the session's default map heap.
func heap(e *poe.Event) map[string]any { return e.Heap.(map[string]any) }

// socketpair returns a connected non-blocking Unix stream pair; both ends
// are closed at cleanup unless the test closed them (double close of a
// reused number is avoided by the -1 convention).
func socketpair(t *testing.T) [2]int {
	t.Helper()
	fds, err := socketpairNB()
	if err != nil {
		t.Fatal(err)
	}
	return fds
}

func pipe(t *testing.T) (int, int) {
	t.Helper()
	var p [2]int
	if err := pipe2(p[:]); err != nil {
		t.Fatal(err)
	}
	return p[0], p[1]
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := fdList()
	if err != nil {
		t.Skip(err)
	}
	return len(fds)
}

// checkFDs fails the test if it leaked descriptors.
func checkFDs(t *testing.T) {
	t.Helper()
	before := openFDs(t)
	t.Cleanup(func() {
		// Kernels release their reactor's descriptors when collected;
		// let that happen.
		for i := 0; i < 50; i++ {
			runtime.GC()
			if openFDs(t) <= before {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Errorf("descriptors leaked: %d open before, %d after", before, openFDs(t))
	})
}

func ip4(b any) string {
	p, ok := b.([]byte)
	if !ok {
		return fmt.Sprintf("%v", b)
	}
	return net.IP(p).String()
}

func writeAll(t *testing.T, fd int, s string) {
	t.Helper()
	for len(s) > 0 {
		n, err := unix.Write(fd, []byte(s))
		if err == unix.EAGAIN {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		s = s[n:]
	}
}

func quote(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

func lineF(lit string) filter.Filter { return filter.MustLine(filter.LineOptions{Literal: lit}) }
func streamF() filter.Filter         { return filter.NewStream(filter.StreamOptions{}) }

// fdDirList lists the descriptors named in dir (/proc/self/fd, /dev/fd)
// but the one that reads it.
func fdDirList(dir string) ([]int, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	own := int(d.Fd())
	fds := make([]int, 0, len(ents))
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd != own {
			fds = append(fds, fd)
		}
	}
	return fds, nil
}

// selfExe is the test binary's path, to start it again.
func selfExe(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// setRlim sets an rlimit field, whatever its integer type on this system.
func setRlim[T ~int64 | ~uint64](p *T, v int) { *p = T(v) }
