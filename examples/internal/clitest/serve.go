package clitest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// Server is an example's server running in the test process.
type Server struct {
	t    testing.TB
	Addr string // the address it listens on
	done chan error
}

// Serve runs serve, an example's serve function, on a goroutine of its
// own; serve calls ready with its address once it listens. It fails the
// test if serve returns or has not listened within 5 s.
func Serve(t testing.TB, serve func(ready func(addr string)) error) *Server {
	t.Helper()
	ready := make(chan string, 1)
	s := &Server{t: t, done: make(chan error, 1)}
	go func() { s.done <- serve(func(a string) { ready <- a }) }()
	select {
	case s.Addr = <-ready:
	case err := <-s.done:
		t.Fatalf("serve: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("server did not start")
	}
	return s
}

// Wait fails the test unless serve returns nil within 5 s; how says what
// should have stopped it ("TERM").
func (s *Server) Wait(how string) {
	s.t.Helper()
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		s.t.Fatalf("server did not stop on %s", how)
	}
}

// Lines is a line-protocol client of a test server.
type Lines struct {
	t    testing.TB
	Conn net.Conn
	R    *bufio.Reader
}

// DialLines connects to addr, with a 10 s deadline; the connection closes
// when the test ends.
func DialLines(t testing.TB, addr string) *Lines {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &Lines{t, c, bufio.NewReader(c)}
}

// Say sends s as a CR LF line.
func (c *Lines) Say(s string) { fmt.Fprint(c.Conn, s+"\r\n") }

// Expect reads lines until one contains want, and fails on one that
// contains any of unwanted first.
func (c *Lines) Expect(want string, unwanted ...string) {
	c.t.Helper()
	for {
		line, err := c.R.ReadString('\n')
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
