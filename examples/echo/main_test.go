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

func TestEcho(t *testing.T) {
	srv := clitest.Serve(t, func(ready func(string)) error { return serve("127.0.0.1", 0, ready) })
	addr := srv.Addr
	// Three clients at once, several lines each, CR LF and LF endings.
	for c := 0; c < 3; c++ {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(conn)
		for i := 0; i < 5; i++ {
			line := fmt.Sprintf("client %d line %d", c, i)
			end := "\r\n"
			if i%2 == 1 {
				end = "\n"
			}
			fmt.Fprint(conn, line+end)
			got, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if got != line+"\r\n" {
				t.Fatalf("echo %q, want %q", got, line+"\r\n")
			}
		}
		conn.Close()
	}
	// SIGTERM stops the server gracefully: Run returns nil.
	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	srv.Wait("TERM")
}

// TestSetupFailures runs the built command: a setup failure is one line
// on stderr and exit status 1 (2 for bad usage), at once.
func TestSetupFailures(t *testing.T) {
	bin := clitest.Build(t, ".")
	taken := strconv.Itoa(clitest.TakenPort(t))
	limit := 10 * time.Second
	clitest.Fails(t, limit, 1, []string{"echo: ", "bind 127.0.0.1:" + taken, "address already in use"}, bin, "-addr", "127.0.0.1:"+taken)
	clitest.Fails(t, limit, 1, []string{"echo: ", "port 99999 out of range"}, bin, "-addr", "127.0.0.1:99999")
	clitest.Fails(t, limit, 1, []string{"echo: ", "resolve nosuch.invalid"}, bin, "-addr", "nosuch.invalid:0")
	clitest.Fails(t, limit, 2, []string{"echo: ", `port "x" is not a number`}, bin, "-addr", "127.0.0.1:x")
	clitest.BadFlag(t, bin)
	// Success logs the address really bound, not the one asked for.
	line := clitest.Start(t, "listening", bin, "-addr", "127.0.0.1:0")
	if strings.Contains(line, "127.0.0.1:0") || !strings.Contains(line, "addr=127.0.0.1:") {
		t.Errorf("logged %q, want the bound port", line)
	}
}
