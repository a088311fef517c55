package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/examples/internal/clitest"
)

func TestTicker(t *testing.T) {
	var out strings.Builder
	start := time.Now()
	if err := run(&out, 3, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("three 10ms ticks took only %v", d)
	}
	want := "session 1 started, alias \"ticker\"\ntick 1\ntick 2\ntick 3\nsession stopped\n"
	if out.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestTickerInterrupted(t *testing.T) {
	var out strings.Builder
	go func() {
		time.Sleep(120 * time.Millisecond)
		syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	}()
	if err := run(&out, 1000, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.Contains(got, "got SIGINT after ") || !strings.HasSuffix(got, "session stopped\n") {
		t.Fatalf("output:\n%s", got)
	}
	if strings.Contains(got, "tick 10\n") {
		t.Fatalf("kept ticking after INT:\n%s", got)
	}
}

// TestBadUsage runs the built command with an unknown flag: the complaint
// and the usage once, exit status 2.
func TestBadUsage(t *testing.T) {
	clitest.BadFlag(t, clitest.Build(t, "."))
}
