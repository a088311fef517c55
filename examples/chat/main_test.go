package main

import (
	"bufio"
	"fmt"
	"net"
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
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &client{t, c, bufio.NewReader(c)}
}

func (c *client) say(s string) { fmt.Fprint(c.conn, s+"\r\n") }

// expect reads lines until one contains want.
func (c *client) expect(want string) {
	c.t.Helper()
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("waiting for %q: %v", want, err)
		}
		if strings.Contains(line, want) {
			return
		}
	}
}

func TestChat(t *testing.T) {
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
	alice.expect("welcome")
	alice.say("/nick alice")
	alice.expect("is now alice")
	bob := dial(t, addr)
	bob.expect("welcome")
	alice.expect("joined")
	bob.say("/nick bob")
	alice.expect("is now bob")
	bob.say("hello everyone")
	alice.expect("<bob> hello everyone")
	bob.expect("<bob> hello everyone")
	alice.say("/msg bob psst")
	bob.expect("*alice* psst")
	alice.say("/msg nobody hi")
	alice.expect("no such user: nobody")
	bob.say("/who")
	bob.expect("here: alice, bob")
	bob.say("/quit")
	alice.expect("* bob left")

	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	alice.expect("server shutting down")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop on TERM")
	}
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
