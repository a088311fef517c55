package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// output collects what tail prints, for the test to wait on.
type output struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Split(strings.TrimSuffix(o.b.String(), "\n"), "\n")
}

// waitFor waits (at most 5 s) for a printed line equal to want.
func (o *output) waitFor(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		for _, l := range o.lines() {
			if l == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line %q in:\n%s", want, strings.Join(o.lines(), "\n"))
		}
	}
}

func appendTo(t *testing.T, name, text string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func TestFollowRotations(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendTo(t, log, "written before tail started\n")

	out := &output{}
	done := make(chan error, 1)
	go func() { done <- run(out, 20*time.Millisecond, false, log) }()
	out.waitFor(t, "==> "+log+" <==")

	appendTo(t, log, "one\n")
	appendTo(t, log, "two\nthr") // a partial line waits for its end
	out.waitFor(t, "two")
	appendTo(t, log, "ee\n")
	out.waitFor(t, "three")

	// Rotation by rename: the last line of the old file comes first.
	appendTo(t, log, "four\n")
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, log, "five\n")
	out.waitFor(t, "five")

	// Rotation by truncation (copytruncate).
	appendTo(t, log, "six\n")
	out.waitFor(t, "six")
	if err := os.Truncate(log, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, log, "seven\n")
	out.waitFor(t, "seven")

	// Deleted, then created again a little later.
	os.Remove(log)
	time.Sleep(60 * time.Millisecond)
	appendTo(t, log, "eight\n")
	out.waitFor(t, "eight")

	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("tail did not stop on TERM")
	}
	reopened := "==> " + log + ": reopened <=="
	want := []string{"==> " + log + " <==", "one", "two", "three", "four", reopened, "five", "six",
		reopened, "seven", reopened, "eight"}
	if got := out.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("printed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestTwoFilesFromStart(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	appendTo(t, a, "a1\n")
	// b does not exist yet: the wheel waits for it.
	out := &output{}
	done := make(chan error, 1)
	go func() { done <- run(out, 20*time.Millisecond, true, a, b) }()
	out.waitFor(t, a+": a1")
	appendTo(t, b, "b1\n")
	out.waitFor(t, b+": b1")
	appendTo(t, a, "a2\n")
	out.waitFor(t, a+": a2")
	syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("tail did not stop on INT")
	}
}
