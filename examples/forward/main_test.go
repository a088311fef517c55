package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/examples/internal/clitest"
)

// logbook collects the forwarder's log lines for the test to wait on.
type logbook struct {
	mu    sync.Mutex
	lines []string
	more  chan struct{}
}

func newLogbook() *logbook { return &logbook{more: make(chan struct{}, 1)} }

func (b *logbook) logf(format string, args ...any) {
	b.mu.Lock()
	b.lines = append(b.lines, fmt.Sprintf(format, args...))
	b.mu.Unlock()
	select {
	case b.more <- struct{}{}:
	default:
	}
}

// count returns how many lines contain s.
func (b *logbook) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, l := range b.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// wait waits (at most 5 s) until n lines contain s.
func (b *logbook) wait(t *testing.T, s string, n int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for b.count(s) < n {
		select {
		case <-b.more:
		case <-deadline:
			b.mu.Lock()
			defer b.mu.Unlock()
			t.Fatalf("no %d log lines with %q in:\n%s", n, s, strings.Join(b.lines, "\n"))
		}
	}
}

// target is an in-test server: each connection waits for gate (if set),
// then runs handle.
func target(t *testing.T, gate chan struct{}, handle func(c *net.TCPConn)) int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if gate != nil {
					<-gate
				}
				handle(c.(*net.TCPConn))
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// echo copies the connection back to itself and half-closes at its end.
func echo(c *net.TCPConn) {
	io.Copy(c, c)
	c.CloseWrite()
}

// start runs a forwarder to targetPort.
func start(t *testing.T, targetPort int, log *logbook) *clitest.Server {
	t.Helper()
	return clitest.Serve(t, func(ready func(string)) error {
		return serve(&config{
			listenHost: "127.0.0.1", targetHost: "127.0.0.1", targetPort: targetPort,
			highMark: 64 << 10, lowMark: 16 << 10,
			logf: log.logf, ready: ready,
		})
	})
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// stop sends SIGTERM (the forwarder's shutdown) and waits for serve.
func stop(t *testing.T, srv *clitest.Server) {
	t.Helper()
	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	srv.Wait("TERM")
}

func TestHalfClose(t *testing.T) {
	log := newLogbook()
	srv := start(t, target(t, nil, echo), log)
	c := dial(t, srv.Addr)
	r := bufio.NewReader(c)
	fmt.Fprint(c, "hello\n")
	if got, err := r.ReadString('\n'); err != nil || got != "hello\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	fmt.Fprint(c, "one\ntwo\n")
	// The client stops writing but still reads: what was in flight comes
	// back, then the target's end of file.
	c.CloseWrite()
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != "one\ntwo\n" {
		t.Fatalf("after half-close: %q, %v", rest, err)
	}
	log.wait(t, "client sent end of file", 1)
	log.wait(t, "target sent end of file", 1)
	log.wait(t, "closed", 1)

	// A link still open at shutdown is closed too.
	c = dial(t, srv.Addr)
	r = bufio.NewReader(c)
	fmt.Fprint(c, "ping\n")
	if got, err := r.ReadString('\n'); err != nil || got != "ping\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	stop(t, srv)
	if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
		t.Fatalf("open link after shutdown: %q, %v", rest, err)
	}
}

func TestBackpressure(t *testing.T) {
	log := newLogbook()
	gate := make(chan struct{})
	srv := start(t, target(t, gate, echo), log)
	c := dial(t, srv.Addr)
	// 8 MiB is far more than the socket buffers plus the 64 KiB high mark
	// while the target does not read: the forwarder must stop reading
	// from the client.
	data := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16)
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		c.CloseWrite()
		wrote <- err
	}()
	log.wait(t, "pause client", 1)
	close(gate)
	h := sha256.New()
	n, err := io.Copy(h, c)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("read back %d of %d octets: %v", n, len(data), err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("data changed on the way")
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	log.wait(t, "resume client", 1)
	log.wait(t, "closed", 1)
	stop(t, srv)
}

func TestTargetClosesFirst(t *testing.T) {
	log := newLogbook()
	srv := start(t, target(t, nil, func(c *net.TCPConn) {
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprint(c, "bye "+line)
	}), log)
	c := dial(t, srv.Addr)
	fmt.Fprint(c, "x\n")
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "bye x\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	log.wait(t, "target sent end of file", 1)
	// The client closes its end in turn; then the link is gone.
	c.Close()
	log.wait(t, "closed", 1)
	stop(t, srv)
}

func TestTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	log := newLogbook()
	srv := start(t, port, log)
	c := dial(t, srv.Addr)
	if got, err := io.ReadAll(c); err != nil || len(got) != 0 {
		t.Fatalf("got %q, %v", got, err)
	}
	log.wait(t, "connect to the target failed", 1)
	log.wait(t, "closed", 1)
	stop(t, srv)
}

// TestSetupFailures runs the built command: a setup failure is one line
// on stderr and exit status 1 (2 for bad usage), at once.
func TestSetupFailures(t *testing.T) {
	bin := clitest.Build(t, ".")
	taken := strconv.Itoa(clitest.TakenPort(t))
	limit := 15 * time.Second
	clitest.Fails(t, limit, 1, []string{"forward: ", "bind 127.0.0.1:" + taken, "address already in use"}, bin, "-listen", "127.0.0.1:"+taken)
	clitest.Fails(t, limit, 1, []string{"forward: ", "port 99999 out of range"}, bin, "-listen", "127.0.0.1:99999")
	clitest.Fails(t, limit, 1, []string{"forward: ", "resolve nosuch.invalid"}, bin, "-listen", "nosuch.invalid:0")
	clitest.Fails(t, limit, 1, []string{"forward: target nosuch.invalid does not resolve"}, bin, "-listen", "127.0.0.1:0", "-to", "nosuch.invalid:80")
	clitest.Fails(t, limit, 2, []string{"forward: ", `port "x" is not a number`}, bin, "-to", "127.0.0.1:x")
	clitest.BadFlag(t, bin)
	line := clitest.Start(t, "forwarding", bin, "-listen", "127.0.0.1:0")
	if strings.Contains(line, "127.0.0.1:0 ") {
		t.Errorf("logged %q, want the bound port", line)
	}
}
