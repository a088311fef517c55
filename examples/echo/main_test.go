package main

import (
	"bufio"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestEcho(t *testing.T) {
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
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop on TERM")
	}
}
