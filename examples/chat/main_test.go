package main

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/examples/internal/clitest"
)

func TestChat(t *testing.T) {
	srv := clitest.Serve(t, func(ready func(string)) error { return serve("127.0.0.1", 0, ready) })
	addr := srv.Addr
	alice := clitest.DialLines(t, addr)
	alice.Expect("welcome")
	alice.Say("/nick alice")
	alice.Expect("is now alice")
	bob := clitest.DialLines(t, addr)
	bob.Expect("welcome")
	alice.Expect("joined")
	bob.Say("/nick bob")
	alice.Expect("is now bob")
	bob.Say("hello everyone")
	alice.Expect("<bob> hello everyone")
	bob.Expect("<bob> hello everyone")
	alice.Say("/msg bob psst")
	bob.Expect("*alice* psst")
	alice.Say("/msg nobody hi")
	alice.Expect("no such user: nobody")
	bob.Say("/who")
	bob.Expect("here: alice, bob")
	bob.Say("/quit")
	alice.Expect("* bob left")

	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	alice.Expect("server shutting down")
	srv.Wait("TERM")
}

// TestSetupFailures runs the built command: a setup failure is one line
// on stderr and exit status 1 (2 for bad usage), at once.
func TestSetupFailures(t *testing.T) {
	bin := clitest.Build(t, ".")
	taken := strconv.Itoa(clitest.TakenPort(t))
	limit := 10 * time.Second
	clitest.Fails(t, limit, 1, []string{"chat: ", "bind 127.0.0.1:" + taken, "address already in use"}, bin, "-addr", "127.0.0.1:"+taken)
	clitest.Fails(t, limit, 1, []string{"chat: ", "port 99999 out of range"}, bin, "-addr", "127.0.0.1:99999")
	clitest.Fails(t, limit, 1, []string{"chat: ", "resolve nosuch.invalid"}, bin, "-addr", "nosuch.invalid:0")
	clitest.Fails(t, limit, 2, []string{"chat: ", `port "x" is not a number`}, bin, "-addr", "127.0.0.1:x")
	clitest.BadFlag(t, bin)
	line := clitest.Start(t, "listening", bin, "-addr", "127.0.0.1:0")
	if strings.Contains(line, "127.0.0.1:0") || !strings.Contains(line, "addr=127.0.0.1:") {
		t.Errorf("logged %q, want the bound port", line)
	}
}
