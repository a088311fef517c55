package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poe-go/poe/examples/internal/clitest"
)

// TestMain keeps the in-process runs' progress logs out of the test output.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testConfig(port int) config {
	return config{host: "127.0.0.1", port: port, hello: "hi", delay: 20 * time.Millisecond,
		maxDelay: 100 * time.Millisecond, timeout: 5 * time.Second}
}

// TestReconnectsAfterDrop: the server hangs up after one line; the client
// reconnects, says hello again, and ends after its third line.
func TestReconnectsAfterDrop(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	hellos := make(chan string, 4)
	go func() {
		for n := 1; ; n++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			hellos <- strings.TrimSpace(line)
			if n == 1 {
				fmt.Fprint(c, "one\r\n")
				c.Close()
				continue
			}
			fmt.Fprint(c, "two\r\nthree\r\n")
			go func() { time.Sleep(5 * time.Second); c.Close() }()
		}
	}()
	var out syncBuf
	cfg := testConfig(l.Addr().(*net.TCPAddr).Port)
	cfg.lines = 3
	if err := run(cfg, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "one\ntwo\nthree\n" {
		t.Errorf("printed %q", out.String())
	}
	for i := 0; i < 2; i++ {
		if h := <-hellos; h != "hi" {
			t.Errorf("hello %d: %q", i, h)
		}
	}
}

// TestWaitsForServer: connections are refused until the server starts;
// the client keeps trying and gets through.
func TestWaitsForServer(t *testing.T) {
	port := clitest.FreePort(t)
	go func() {
		time.Sleep(200 * time.Millisecond)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Error(err)
			return
		}
		defer l.Close()
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprint(c, "at last\r\n")
		time.Sleep(time.Second)
	}()
	var out syncBuf
	cfg := testConfig(port)
	cfg.lines = 1
	start := time.Now()
	if err := run(cfg, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "at last\n" || time.Since(start) < 200*time.Millisecond {
		t.Errorf("printed %q after %v", out.String(), time.Since(start))
	}
}

// TestCommand runs the built program: giving up is status 1 with one line
// on stderr; bad flags are status 2.
func TestCommand(t *testing.T) {
	bin := clitest.Build(t, ".")
	port := strconv.Itoa(clitest.FreePort(t))
	// The reconnections are logged; the failure is the last line.
	r := clitest.Run(t, 10*time.Second, bin, "-to", "127.0.0.1:"+port, "-retries", "3", "-delay", "10ms")
	lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	last := lines[len(lines)-1]
	if r.Code != 1 || last != "reconnect: giving up after 3 failures in a row: connect: Connection refused" {
		t.Errorf("exit %d, last line %q", r.Code, last)
	}
	if n := strings.Count(r.Stderr, "reconnecting"); n != 2 {
		t.Errorf("%d reconnection messages, want 2:\n%s", n, r.Stderr)
	}
	clitest.Fails(t, 10*time.Second, 2, []string{"reconnect: ", `bad port "x"`}, bin, "-to", "127.0.0.1:x")
	clitest.Fails(t, 10*time.Second, 2, []string{"reconnect: ", "-delay"}, bin, "-delay", "0s")
	clitest.BadFlag(t, bin)
}
