package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/examples/internal/clitest"
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
	go func() { done <- run(out, os.Stderr, options{poll: 20 * time.Millisecond}, log) }()
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
	// b does not exist yet: with wait, it is reported once and waited
	// for.
	out, errOut := &output{}, &output{}
	done := make(chan error, 1)
	go func() {
		done <- run(out, errOut, options{poll: 20 * time.Millisecond, fromStart: true, wait: true}, a, b)
	}()
	out.waitFor(t, a+": a1")
	errOut.waitFor(t, "tail: open "+b+": no such file or directory (waiting for it)")
	time.Sleep(100 * time.Millisecond) // polls that find it missing again
	appendTo(t, b, "b1\n")
	out.waitFor(t, "==> "+b+" <==")
	out.waitFor(t, b+": b1")
	if got := errOut.lines(); len(got) != 1 {
		t.Errorf("stderr: %q, want one line", got)
	}
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

// TestSetupFailures runs the built command: a missing file (without
// -wait), a directory, a path that cannot be opened: one line on stderr,
// exit status 1, nothing on stdout.
func TestSetupFailures(t *testing.T) {
	bin := clitest.Build(t, ".")
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.log")
	regular := filepath.Join(dir, "regular.log")
	appendTo(t, regular, "x\n")
	limit := 10 * time.Second
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{missing}, "tail: open " + missing + ": no such file or directory"},
		{[]string{dir}, "tail: open " + dir + ": is a directory"},
		{[]string{filepath.Join(regular, "x")}, "tail: open " + filepath.Join(regular, "x") + ": not a directory"},
		{[]string{regular, missing}, "tail: open " + missing + ": no such file or directory"},
	} {
		r := clitest.Fails(t, limit, 1, []string{c.want}, bin, append([]string{"-poll", "10ms"}, c.args...)...)
		if r.Stderr != c.want+"\n" || (len(c.args) == 1 && r.Stdout != "") {
			t.Errorf("tail %q: stdout %q, stderr %q; want stderr %q", c.args, r.Stdout, r.Stderr, c.want)
		}
	}
	clitest.Fails(t, limit, 2, []string{"usage: tail"}, bin)
	clitest.BadFlag(t, bin)
}

// TestWaitProcess: with -wait the built command reports a missing file
// once and prints it once it appears.
func TestWaitProcess(t *testing.T) {
	bin := clitest.Build(t, ".")
	file := filepath.Join(t.TempDir(), "later.log")
	cmd := exec.Command(bin, "-wait", "-poll", "10ms", file)
	var stdout, stderr output
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("exit after TERM: %v", err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Error("no exit after TERM")
		}
	}()
	stderr.waitFor(t, "tail: open "+file+": no such file or directory (waiting for it)")
	time.Sleep(100 * time.Millisecond)
	appendTo(t, file, "appeared\n")
	stdout.waitFor(t, "appeared")
	if got := stderr.lines(); len(got) != 1 {
		t.Errorf("stderr: %q, want one line", got)
	}
}
