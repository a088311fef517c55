package main

import (
	"bufio"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/examples/internal/clitest"
)

func TestTCPChat(t *testing.T) {
	srv := clitest.Serve(t, func(ready func(string)) error { return serve("127.0.0.1", 0, ready) })
	addr := srv.Addr
	alice := clitest.DialLines(t, addr)
	alice.Expect("Welcome, guest")
	alice.Say("/nick alice")
	alice.Expect("is now alice")
	bob := clitest.DialLines(t, addr)
	bob.Expect("Welcome, guest")
	alice.Expect("joined from 127.0.0.1")
	bob.Say("/nick alice")
	bob.Expect("alice is taken")
	bob.Say("/nick bob")
	alice.Expect("is now bob")
	bob.Say("hello everyone")
	alice.Expect("<bob> hello everyone")
	bob.Expect("<bob> hello everyone") // the sender sees it too
	alice.Say("/who")
	alice.Expect("* here: alice, bob")
	carol := clitest.DialLines(t, addr)
	carol.Expect("Welcome")
	carol.Say("/quit")
	carol.Expect("Bye!")
	if _, err := carol.R.ReadString('\n'); err != io.EOF {
		t.Errorf("after /quit: %v, want end of file", err)
	}
	alice.Expect("left", "<")
	// SIGTERM: everyone is told, the connections and the server close,
	// and serve returns nil.
	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	for _, c := range []*clitest.Lines{alice, bob} {
		c.Expect("the server is going down")
		if rest, err := io.ReadAll(c.R); err != nil || len(rest) != 0 {
			t.Errorf("after shutdown: %q, %v", rest, err)
		}
	}
	srv.Wait("TERM")
}

// TestCommand runs the built program: a setup failure is one line on
// stderr and status 1, a bad address status 2; SIGINT ends a running
// server, with a goodbye to its users, and status 0.
func TestCommand(t *testing.T) {
	bin := clitest.Build(t, ".")
	taken := strconv.Itoa(clitest.TakenPort(t))
	clitest.Fails(t, 10*time.Second, 1, []string{"tcpchat: ", "bind 127.0.0.1:" + taken, "address already in use"}, bin, "-addr", "127.0.0.1:"+taken)
	clitest.Fails(t, 10*time.Second, 2, []string{"tcpchat: ", `port "x" is not a number`}, bin, "-addr", "127.0.0.1:x")
	clitest.BadFlag(t, bin)

	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stderr)
	var addr string
	for addr == "" && sc.Scan() {
		if _, a, ok := strings.Cut(sc.Text(), "addr="); ok && strings.Contains(sc.Text(), "listening") {
			addr = a
		}
	}
	if addr == "" || strings.HasSuffix(addr, ":0") {
		t.Fatalf("no bound address logged (%q)", addr)
	}
	go io.Copy(io.Discard, stderr)
	user := clitest.DialLines(t, addr)
	user.Expect("Welcome")
	cmd.Process.Signal(syscall.SIGINT)
	user.Expect("the server is going down")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGINT: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10 s of SIGINT")
	}
}
