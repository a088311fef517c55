package clientlite

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc"
)

// trickleProxy forwards 127.0.0.1 connections to port; once slow is set,
// the server's bytes go to the client one at a time, every millisecond.
func trickleProxy(t *testing.T, port int, slow *atomic.Bool) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				c.Close()
				return
			}
			t.Cleanup(func() { c.Close(); s.Close() })
			go func() { io.Copy(s, c); s.Close() }()
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := s.Read(buf)
					for i := 0; i < n; {
						step := n - i
						if slow.Load() {
							step = 1
							time.Sleep(time.Millisecond)
						}
						if _, err := c.Write(buf[i : i+step]); err != nil {
							return
						}
						i += step
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestClientLiteReaderHandsOverMidFrame: the call reading the connection
// times out while another call's answer is half read; the other call
// takes over the read and gets its whole answer, and the connection goes
// on working.
func TestClientLiteReaderHandsOverMidFrame(t *testing.T) {
	_, port, rec := liteServer(t, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort})
	var slow atomic.Bool
	pport := trickleProxy(t, port, &slow)
	ctx := liteCtx(t)
	l, err := Dial(ctx, Options{Host: "127.0.0.1", Port: pport, Name: "LiteClient"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Disconnect()
	rec.WaitFor(t, "reg")
	slow.Store(true)
	// The first call waits first, so it reads; its answer never comes
	// and it gives up while the second call's answer (some 150 octets,
	// one per millisecond) trickles in.
	actx, cancel := context.WithTimeout(ctx, 80*time.Millisecond)
	defer cancel()
	aerr := make(chan error, 1)
	go func() { _, err := l.Call(actx, "test/nothing"); aerr <- err }()
	time.Sleep(30 * time.Millisecond)
	arg := strings.Repeat("x", 64)
	v, err := l.Call(ctx, "test/echo", arg)
	if err != nil || v != arg {
		t.Fatalf("call answered while the reader gave up: %#v, %v", v, err)
	}
	if err := <-aerr; !errors.Is(err, ErrNoResponse) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the reader's own call: %v, want ErrNoResponse (deadline)", err)
	}
	slow.Store(false)
	if v, err := l.Call(ctx, "test/echo", "again"); err != nil || v != "again" {
		t.Errorf("after the hand-over: %#v, %v", v, err)
	}
}

// TestClientLiteDrainsWhileWriteBlocks: posts whose answers nobody waits
// for (test/post1 posts back to IKCLite/resp1) fill the connection both
// ways; with no call reading, a blocked write gets the connection read,
// so the server goes on reading and every post goes out.
func TestClientLiteDrainsWhileWriteBlocks(t *testing.T) {
	_, port, rec := liteServer(t, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort})
	ctx := liteCtx(t)
	l, err := Dial(ctx, Options{Host: "127.0.0.1", Port: port, Name: "LiteClient", Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Disconnect()
	rec.WaitFor(t, "reg")
	big := strings.Repeat("p", 256<<10)
	start := time.Now()
	for i := range 120 {
		if err := l.Post(ctx, "test/post1", big); err != nil {
			t.Fatalf("post %d after %v: %v", i, time.Since(start), err)
		}
	}
	if v, err := l.Responded(ctx, "resp1"); err != nil || v == nil {
		t.Errorf("Responded after the posts: %v, %v", v != nil, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the posts took %v", d)
	}
}

// TestClientLiteCancelledReadersNoWrongAnswer: goroutines share a Client
// and every third call has a deadline of a few hundred microseconds, so
// the call reading the connection often gives up mid-read and hands the
// read on. Every answer that comes is the one to its own call; the other
// calls end with ErrNoResponse.
func TestClientLiteCancelledReadersNoWrongAnswer(t *testing.T) {
	_, l, ctx, _ := liteConnected(t)
	const goroutines, calls = 16, 60
	var answered, timedOut, wrong atomic.Int64
	done := make(chan struct{})
	for g := range goroutines {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range calls {
				arg := strconv.Itoa(g*1000 + i)
				cctx, cancel := ctx, context.CancelFunc(func() {})
				if i%3 == 0 {
					cctx, cancel = context.WithTimeout(ctx, time.Duration(100+50*(i%7))*time.Microsecond)
				}
				v, err := l.Call(cctx, "test/echo", arg)
				cancel()
				switch {
				case err == nil && v == arg:
					answered.Add(1)
				case err != nil && errors.Is(err, ErrNoResponse) && i%3 == 0:
					timedOut.Add(1)
				default:
					wrong.Add(1)
					t.Errorf("call %s: %#v, %v", arg, v, err)
				}
			}
		}()
	}
	for range goroutines {
		<-done
	}
	t.Logf("%d answered, %d timed out", answered.Load(), timedOut.Load())
	if wrong.Load() > 0 || answered.Load() < goroutines*calls*2/3 {
		t.Errorf("%d answered, %d timed out, %d wrong", answered.Load(), timedOut.Load(), wrong.Load())
	}
	if v, err := l.Call(ctx, "test/echo", "after"); err != nil || v != "after" {
		t.Errorf("after the run: %#v, %v", v, err)
	}
}
