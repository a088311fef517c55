// Package clitest builds an example command and runs it, or runs an
// example's server in the test process and talks lines to it, for the
// examples' tests of exit statuses and error messages.
package clitest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Build compiles the package pkg ("." for the test's own) into a
// directory removed when the test ends, and returns the executable.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	abs, err := filepath.Abs(pkg)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(abs))
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// Result is how a run ended.
type Result struct {
	Code           int // exit status; -1 when killed at the deadline
	Stdout, Stderr string
	Took           time.Duration
}

// Run runs bin with args (stdin empty) and kills it after limit.
func Run(t testing.TB, limit time.Duration, bin string, args ...string) Result {
	t.Helper()
	return RunInput(t, limit, "", bin, args...)
}

// RunInput is Run with stdin.
func RunInput(t testing.TB, limit time.Duration, stdin, bin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String(), Took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.Code = -1
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return r
}

// Fails runs bin and checks that it exits with code within limit, with
// exactly one line on stderr that contains every one of want.
func Fails(t testing.TB, limit time.Duration, code int, want []string, bin string, args ...string) Result {
	t.Helper()
	return FailsInput(t, limit, code, want, "", bin, args...)
}

// FailsInput is Fails with stdin.
func FailsInput(t testing.TB, limit time.Duration, code int, want []string, stdin, bin string, args ...string) Result {
	t.Helper()
	r := RunInput(t, limit, stdin, bin, args...)
	lines := strings.Split(strings.TrimSuffix(r.Stderr, "\n"), "\n")
	ok := r.Code == code && len(lines) == 1 && lines[0] != ""
	for _, w := range want {
		ok = ok && strings.Contains(r.Stderr, w)
	}
	if !ok {
		t.Errorf("%s %s: exit %d (want %d) after %v, stderr:\n%s\nwant one line with %q",
			filepath.Base(bin), strings.Join(args, " "), r.Code, code, r.Took.Round(time.Millisecond), r.Stderr, want)
	}
	return r
}

// BadFlag checks that an unknown flag exits 2 with the flag package's
// complaint and the usage, each printed once.
func BadFlag(t testing.TB, bin string) {
	t.Helper()
	r := Run(t, 10*time.Second, bin, "-no-such-flag")
	complaint := strings.Count(r.Stderr, "flag provided but not defined")
	usage := 0
	for _, l := range strings.Split(strings.ToLower(r.Stderr), "\n") {
		if strings.HasPrefix(l, "usage") || strings.Contains(l, ": usage:") {
			usage++
		}
	}
	if r.Code != 2 || complaint != 1 || usage != 1 {
		t.Errorf("%s -no-such-flag: exit %d, stderr:\n%s\nwant exit 2, the complaint and the usage once",
			filepath.Base(bin), r.Code, r.Stderr)
	}
}

// TakenPort returns a 127.0.0.1 port something listens on until the test
// ends.
func TakenPort(t testing.TB) int {
	t.Helper()
	return listen(t, true)
}

// FreePort returns a 127.0.0.1 port nobody listens on (it was free a
// moment ago).
func FreePort(t testing.TB) int {
	t.Helper()
	return listen(t, false)
}

// Start runs bin with args and waits (at most 20 s) for a line on its
// stderr that contains want, which it returns; the process is killed when
// the test ends.
func Start(t testing.TB, want, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	lines := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		found := false
		for sc.Scan() {
			if !found && strings.Contains(sc.Text(), want) {
				found = true
				lines <- sc.Text()
			}
		}
		cmd.Wait()
	}()
	select {
	case l := <-lines:
		return l
	case <-done:
		t.Fatalf("%s exited without a line with %q", filepath.Base(bin), want)
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no line with %q in 20 s", filepath.Base(bin), want)
	}
	return ""
}
