package main

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/examples/internal/clitest"
	"github.com/poe-go/poe/internal/perltest"
)

type output struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// exchange is what both sides must have printed after one full round.
var exchange = []string{
	"go: PerlSide connected",
	"perl| connected to GoSide",
	"perl| got hello: hello from Go",  // Go posted
	"perl| double(21) asked",          // Go called ...
	"go: perl/double(21) returned 42", // ... and got the answer
	`go: perl says "hello from Perl"`, // Perl posted
	"go: add[1 2 3 4] = 10",           // Perl called ...
	"perl| add returned 10",           // ... and got the answer
	"perl| remote error: Session 'go' has not published state 'secret'",
	"perl| got hello: thanks for the greeting", // Go posted to SENDER
	"perl| bye",
	"go: PerlSide disconnected",
}

func check(t *testing.T, out string) {
	t.Helper()
	for _, want := range exchange {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

// TestPair: the Go program runs the embedded peer.pl itself.
func TestPair(t *testing.T) {
	perltest.Need(t, "install Debian's libpoe-perl to run the Go <-> Perl pair", "POE")
	out := &output{}
	done := make(chan error, 1)
	go func() { done <- serve(config{spawn: true, out: out}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no end in 20 s:\n%s", out)
	}
	check(t, out.String())
	if !strings.Contains(out.String(), "go: perl exited with status 0") {
		t.Errorf("perl's exit not reported:\n%s", out)
	}
}

// TestPerlFromOutside: the Go side waits for a peer; the test runs
// peer.pl from this directory, then stops the Go side with SIGTERM.
func TestPerlFromOutside(t *testing.T) {
	perltest.Need(t, "install Debian's libpoe-perl to run the Go <-> Perl pair", "POE")
	out := &output{}
	ready := make(chan int, 1)
	done := make(chan error, 1)
	go func() { done <- serve(config{out: out, ready: func(p int) { ready <- p }}) }()
	var port int
	select {
	case port = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(5 * time.Second):
		t.Fatal("not listening")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	perl, err := exec.CommandContext(ctx, "perl", "peer.pl", "--port", strconv.Itoa(port)).CombinedOutput()
	if err != nil {
		t.Fatalf("peer.pl: %v\n%s", err, perl)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(perl)), "\n") {
		out.Write([]byte("perl| " + l + "\n"))
	}
	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Go side did not stop on TERM")
	}
	check(t, out.String())
}

// TestSetupFailures runs the built command: a taken port is one line on
// stderr and exit status 1, before any Perl is started.
func TestSetupFailures(t *testing.T) {
	bin := clitest.Build(t, ".")
	taken := strconv.Itoa(clitest.TakenPort(t))
	clitest.Fails(t, 10*time.Second, 1, []string{"perl-pair: ", "127.0.0.1:" + taken, "address already in use"}, bin, "-port", taken)
	clitest.BadFlag(t, bin)
}
