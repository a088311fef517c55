package ikc

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/poe"
)

// TestClientErrorsOnce: the POE client reports a server that does not
// speak IKC promptly, names Unix sockets by their path and unresolvable
// hosts by the resolver's answer, and keeps the final error for Err. With
// no OnError it logs one ERROR line naming the server.
func TestClientErrorsOnce(t *testing.T) {
	echoPort := ikctest.LineServer(t, ikctest.EchoLine)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	sock := filepath.Join(t.TempDir(), "none.sock")
	cases := []struct {
		name    string
		opts    ClientOptions
		onError string // what OnError gets
		err     string // Err()
		errno   syscall.Errno
	}{
		{"echo server", ClientOptions{Host: "127.0.0.1", Port: echoPort},
			"negotiate 0 ikc: 127.0.0.1:" + strconv.Itoa(echoPort) + " is not an IKC server (it answered \"SETUP KERNEL=",
			"ikc: 127.0.0.1:" + strconv.Itoa(echoPort) + " is not an IKC server", 0},
		{"refused", ClientOptions{Host: "127.0.0.1", Port: refused},
			"connect 111 Connection refused", "ikc: connect 127.0.0.1:" + strconv.Itoa(refused) + ": connection refused", syscall.ECONNREFUSED},
		{"unix path", ClientOptions{Unix: sock},
			"connect 2 No such file or directory", "ikc: connect " + sock + ": no such file or directory", syscall.ENOENT},
		{"unresolvable", ClientOptions{Host: "nosuch.invalid", Port: 1},
			"getaddrinfo 99 resolve nosuch.invalid: ", "ikc: resolve nosuch.invalid: ", syscall.EADDRNOTAVAIL},
	}
	for i, c := range cases {
		for _, withOnError := range []bool{true, false} {
			t.Run(fmt.Sprint(c.name, " OnError=", withOnError), func(t *testing.T) {
				var logBuf bytes.Buffer
				var mu sync.Mutex
				logger := slog.New(slog.NewTextHandler(&ikctest.LockedWriter{W: &logBuf, Mu: &mu}, nil))
				got := make(chan string, 4)
				var cl *Client
				start := time.Now()
				n := ikctest.StartNode(t, func(k *poe.Kernel) {
					ikctest.Session(k, "", map[string]poe.Handler{"_start": func(e *poe.Event) any {
						o := c.opts
						o.Name = fmt.Sprintf("errs%d", i)
						o.Logger = logger
						if withOnError {
							o.OnError = func(op string, errno int, text string) { got <- fmt.Sprint(op, " ", errno, " ", text) }
						}
						var err error
						if cl, err = NewClient(e.Kernel, o); err != nil {
							t.Error(err)
						}
						return nil
					}})
				})
				var clientErr error
				for deadline := time.Now().Add(5 * time.Second); clientErr == nil && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					n.Do(func(k *poe.Kernel) { clientErr = cl.Err() })
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("took %v", d)
				}
				if clientErr == nil || !strings.HasPrefix(clientErr.Error(), c.err) || (c.errno != 0 && !errors.Is(clientErr, c.errno)) {
					t.Errorf("Err() = %v, want %s... (%v)", clientErr, c.err, c.errno)
				}
				mu.Lock()
				logged := logBuf.String()
				mu.Unlock()
				if withOnError {
					select {
					case s := <-got:
						if !strings.HasPrefix(s, c.onError) {
							t.Errorf("OnError(%s), want %s...", s, c.onError)
						}
					default:
						t.Error("OnError not called")
					}
					if len(got) > 0 {
						t.Errorf("OnError called again: %s", <-got)
					}
					return
				}
				lines := strings.Count(logged, "level=ERROR")
				where := "server=127.0.0.1:"
				if c.opts.Unix != "" {
					where = "server=unix:" + sock
				} else if c.opts.Host != "127.0.0.1" {
					where = "server=" + c.opts.Host
				}
				if lines != 1 || !strings.Contains(logged, where) || strings.Contains(logged, "_") && c.opts.Unix != "" && !strings.Contains(sock, "_") {
					t.Errorf("log:\n%s\nwant one ERROR line with %s", logged, where)
				}
			})
		}
	}
}

// TestServerListenErrorOnce: a listen error is returned, not logged as
// well (without OnError).
func TestServerListenErrorOnce(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var logBuf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&ikctest.LockedWriter{W: &logBuf, Mu: &mu}, nil))
	n := ikctest.StartNode(t, nil)
	n.Do(func(k *poe.Kernel) {
		_, err = NewServer(k, ServerOptions{IP: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Name: "Taken", Logger: logger})
	})
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("NewServer: %v, want EADDRINUSE", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if logBuf.Len() != 0 {
		t.Errorf("also logged:\n%s", logBuf.String())
	}
}
