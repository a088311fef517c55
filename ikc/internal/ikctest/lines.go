package ikctest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// LineServer listens on 127.0.0.1 and answers every line a connection
// sends with reply(line); it returns the port.
func LineServer(t *testing.T, reply func(line string) string) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(Timeout))
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					fmt.Fprint(c, reply(strings.TrimRight(sc.Text(), "\r"))+"\r\n")
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// EchoLine answers a line with itself.
func EchoLine(line string) string { return line }

// HTTPLine answers what an HTTP server says to a line it cannot read.
func HTTPLine(string) string { return "HTTP/1.0 400 Bad Request" }
