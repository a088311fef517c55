package clientlite

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/ikc/protocol"
)

// TestLiteNotIKC: a handshake with a line echo server, or one that
// answers garbage, fails at once with the server named, in both dialects.
func TestLiteNotIKC(t *testing.T) {
	for _, srv := range []struct {
		name   string
		reply  func(string) string
		answer string // prefix of the quoted answer
	}{{"echo", ikctest.EchoLine, "SETUP KERNEL=lite"}, {"http", ikctest.HTTPLine, "HTTP/1.0 400 Bad Request"}} {
		port := ikctest.LineServer(t, srv.reply)
		for _, proto := range []string{"IKC0", "IKC"} {
			t.Run(srv.name+"/"+proto, func(t *testing.T) {
				start := time.Now()
				_, err := Dial(context.Background(), Options{Host: "127.0.0.1", Port: port, Name: "lite", Protocol: proto, Timeout: 5 * time.Second})
				if d := time.Since(start); d > time.Second {
					t.Errorf("took %v", d)
				}
				answer := srv.answer
				if proto == "IKC" && srv.name == "echo" {
					answer = "HELLO"
				}
				want := "ikc: 127.0.0.1:" + strconv.Itoa(port) + " is not an IKC server (it answered \"" + answer
				if !errors.Is(err, protocol.ErrNotIKC) || !errors.Is(err, ErrHandshake) || err == nil || !strings.HasPrefix(err.Error(), want) {
					t.Errorf("got %v, want %s...", err, want)
				}
			})
		}
	}
}

// TestLiteErrorTexts: a Unix socket is named by its path, an unresolvable
// host with the resolver's answer, a refused port once.
func TestLiteErrorTexts(t *testing.T) {
	ctx := context.Background()
	sock := filepath.Join(t.TempDir(), "no_such_dir", "d.sock")
	_, err := Dial(ctx, Options{Unix: sock, Timeout: 2 * time.Second})
	if want := "ikc: connecting to unix:" + sock + ": no such file or directory"; err == nil || err.Error() != want || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("unix: %v, want %s", err, want)
	}

	_, err = Dial(ctx, Options{Host: "nosuch.invalid", Port: 1, Timeout: 5 * time.Second})
	var dns *net.DNSError
	if !errors.As(err, &dns) || err.Error() != "ikc: connecting to nosuch.invalid:1: cannot resolve nosuch.invalid: "+dns.Err {
		t.Errorf("unresolvable: %v", err)
	}

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	_, err = Dial(ctx, Options{Host: "127.0.0.1", Port: port, Timeout: 2 * time.Second})
	if want := fmt.Sprintf("ikc: connecting to 127.0.0.1:%d: connection refused", port); err == nil || err.Error() != want || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("refused: %v, want %s", err, want)
	}
}

// TestReportedTarget: the request an error report names, in the 0.2402
// and the 0.1904 texts (ikc-protocol.md §10.1).
func TestReportedTarget(t *testing.T) {
	for text, want := range map[string]string{
		"Session 'test' has not published state 'x'.  Request poe://K/test/x sent by poe://L/IKCLite":                 "test/x",
		"Session 'test' has not published state 'x'.  Request poe://K/test/x":                                         "test/x",
		"Unknown session 'ghost' at f.pm line 3..  Request poe://K/ghost/y":                                           "ghost/y",
		"Session 'test' has not published state 'x' [poe://127.0.0.1:1/test/x] sent by [poe://L/IKCLite]":             "test/x",
		"Session 'nosuch' is not available for remote kernels:\n    IKC=>[ping]\n    test=>[a, b] [poe://K/nosuch/s]": "nosuch/s",
		"Session '' is not available for remote kernels.  Request poe:":                                               "",
		"something else": "",
	} {
		if got := reportedTarget(text); got != want {
			t.Errorf("reportedTarget(%q) = %q, want %q", text, got, want)
		}
	}
}
