package servertcp_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/poe-go/poe/poe"
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

// count returns how many lines start with prefix.
func (l *evlog) count(prefix string) int {
	n := 0
	for _, s := range l.get() {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// runKernel runs k until it has no sessions, stopping it (and failing the
// test) after limit.
func runKernel(t *testing.T, k *poe.Kernel, limit time.Duration) {
	t.Helper()
	timer := time.AfterFunc(limit, func() {
		t.Errorf("timed out after %v", limit)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		k.Shutdown(ctx)
	})
	defer timer.Stop()
	if err := k.Run(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
