package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/examples/internal/clitest"
)

type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &client{t, c, bufio.NewReader(c)}
}

func (c *client) say(s string) { fmt.Fprint(c.conn, s+"\r\n") }

// expect reads lines until one contains want, and fails on one that
// contains any of unwanted first.
func (c *client) expect(want string, unwanted ...string) {
	c.t.Helper()
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("waiting for %q: %v", want, err)
		}
		for _, u := range unwanted {
			if strings.Contains(line, u) {
				c.t.Fatalf("got %q while waiting for %q", line, want)
			}
		}
		if strings.Contains(line, want) {
			return
		}
	}
}

func TestTCPChat(t *testing.T) {
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve("127.0.0.1", 0, func(a string) { ready <- a }) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(5 * time.Second):
		t.Fatal("server did not start")
	}
	alice := dial(t, addr)
	alice.expect("Welcome, guest")
	alice.say("/nick alice")
	alice.expect("is now alice")
	bob := dial(t, addr)
	bob.expect("Welcome, guest")
	alice.expect("joined from 127.0.0.1")
	bob.say("/nick alice")
	bob.expect("alice is taken")
	bob.say("/nick bob")
	alice.expect("is now bob")
	bob.say("hello everyone")
	alice.expect("<bob> hello everyone")
	bob.expect("<bob> hello everyone") // the sender sees it too
	alice.say("/who")
	alice.expect("* here: alice, bob")
	carol := dial(t, addr)
	carol.expect("Welcome")
	carol.say("/quit")
	carol.expect("Bye!")
	if _, err := carol.r.ReadString('\n'); err != io.EOF {
		t.Errorf("after /quit: %v, want end of file", err)
	}
	alice.expect("left", "<")
	// SIGTERM: everyone is told, the connections and the server close,
	// and serve returns nil.
	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	for _, c := range []*client{alice, bob} {
		c.expect("the server is going down")
		if rest, err := io.ReadAll(c.r); err != nil || len(rest) != 0 {
			t.Errorf("after shutdown: %q, %v", rest, err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop on TERM")
	}
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
	user := dial(t, addr)
	user.expect("Welcome")
	cmd.Process.Signal(syscall.SIGINT)
	user.expect("the server is going down")
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
