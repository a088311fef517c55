package ratelog

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects log output from the caller and the timer.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.TrimSpace(l.b.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func newTest(interval time.Duration, level slog.Level) (*Logger, *lockedBuffer) {
	var buf lockedBuffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	return New(slog.New(h), interval), &buf
}

func TestFolds(t *testing.T) {
	l, buf := newTest(50*time.Millisecond, slog.LevelInfo)
	for i := range 1000 {
		l.Log(slog.LevelWarn, "ikc: refused a request", "check", "Flood", fmt.Sprint("text ", i))
	}
	l.Log(slog.LevelWarn, "ikc: refused a request", "resolve", "Flood", "other kind")
	l.Log(slog.LevelWarn, "ikc: refused a request", "check", "Calm", "other peer")
	if got := buf.lines(); len(got) != 3 {
		t.Fatalf("%d lines before the interval ended, want 3 (one per kind and peer):\n%s", len(got), strings.Join(got, "\n"))
	}
	if l.Suppressed() != 999 {
		t.Errorf("suppressed %d, want 999", l.Suppressed())
	}
	time.Sleep(120 * time.Millisecond)
	got := buf.lines()
	if len(got) != 4 {
		t.Fatalf("%d lines after the interval, want 4:\n%s", len(got), strings.Join(got, "\n"))
	}
	want := `level=WARN msg="ikc: refused a request (repeated)" kind=check peer=Flood count=999 interval=50ms last="text 999"`
	if got[3] != want {
		t.Errorf("summary\n%s\nwant\n%s", got[3], want)
	}
	// A key that keeps repeating gets one summary per interval, no line of
	// its own.
	for range 10 {
		l.Log(slog.LevelWarn, "ikc: refused a request", "check", "Flood", "again")
	}
	time.Sleep(120 * time.Millisecond)
	if got := buf.lines(); len(got) != 5 || !strings.Contains(got[4], "count=10") {
		t.Fatalf("lines after the second interval:\n%s", strings.Join(got, "\n"))
	}
	// Quiet for two intervals: forgotten, the next record has its line.
	time.Sleep(150 * time.Millisecond)
	l.Log(slog.LevelWarn, "ikc: refused a request", "check", "Flood", "back")
	if got := buf.lines(); len(got) != 6 || !strings.Contains(got[5], `error=back`) {
		t.Fatalf("a key quiet for two intervals is not written again:\n%s", strings.Join(got, "\n"))
	}
	l.Close()
}

func TestDisabledLevelCostsNothing(t *testing.T) {
	l, buf := newTest(time.Hour, slog.LevelInfo)
	for range 100 {
		l.Log(slog.LevelDebug, "ikc: frame for another kernel", "foreign", "Peer", "x")
	}
	l.Close()
	if len(buf.lines()) != 0 || len(l.entries) != 0 {
		t.Fatalf("debug records below the level kept or written: %v", buf.lines())
	}
}

func TestManyPeersBounded(t *testing.T) {
	l, buf := newTest(time.Hour, slog.LevelInfo)
	for i := range MaxKeys + 500 {
		l.Log(slog.LevelWarn, "ikc: connection failed", "read", fmt.Sprint("peer", i), "x")
	}
	if len(l.entries) > MaxKeys+1 {
		t.Fatalf("%d keys tracked, bound %d", len(l.entries), MaxKeys+1)
	}
	l.Close()
	got := buf.lines()
	if len(got) != MaxKeys+2 || !strings.Contains(got[len(got)-1], Others) || !strings.Contains(got[len(got)-1], "count=499") {
		t.Fatalf("%d lines, want %d, last %q", len(got), MaxKeys+2, got[len(got)-1])
	}
}
