package clienttcp_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/poe-go/poe/component/clienttcp"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"github.com/poe-go/poe/wheel/filter"
	"golang.org/x/sys/unix"
)

type evlog struct {
	mu    sync.Mutex
	lines []string
}

func (l *evlog) L(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *evlog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func (l *evlog) want(t *testing.T, want []string) {
	t.Helper()
	if d := cmp.Diff(want, l.get()); d != "" {
		t.Errorf("event log (-want +got):\n%s", d)
	}
}

func runKernel(t *testing.T, k *poe.Kernel, limit time.Duration) {
	t.Helper()
	timer := time.AfterFunc(limit, func() {
		t.Errorf("timed out after %v", limit)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		k.Shutdown(ctx)
	})
	defer timer.Stop()
	if err := k.Run(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// lineServer accepts connections and runs serve on each, on goroutines; it
// is closed when the test ends.
func lineServer(t *testing.T, serve func(n int, c net.Conn, r *bufio.Reader)) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for n := 1; ; n++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(n, c, bufio.NewReader(c))
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// TestOptionErrors is the constructor part of poe-test-loops' comp_tcp.pm:
// RemoteAddress, RemotePort and ServerInput are required, and the four
// mark options go together.
func TestOptionErrors(t *testing.T) {
	in := func(*poe.Event) any { return nil }
	base := clienttcp.Options{
		RemoteAddress: "127.0.0.1", RemotePort: 31401,
		Connected: in, ConnectError: in, Disconnected: in, ServerInput: in, ServerError: in, ServerFlushed: in,
	}
	marks := base
	marks.HighMark, marks.LowMark, marks.ServerHigh, marks.ServerLow = 256, 64, in, in
	cases := map[string]func(o *clienttcp.Options){
		"RemoteAddress":                  func(o *clienttcp.Options) { o.RemoteAddress = "" },
		"RemotePort":                     func(o *clienttcp.Options) { o.RemotePort = 0 },
		"ServerInput":                    func(o *clienttcp.Options) { o.ServerInput = nil },
		"LowMark, ServerHigh, ServerLow": func(o *clienttcp.Options) { *o = marks; o.LowMark, o.ServerHigh, o.ServerLow = 0, nil, nil },
		"HighMark, ServerHigh, ServerLow": func(o *clienttcp.Options) {
			*o = marks
			o.HighMark, o.ServerHigh, o.ServerLow = 0, nil, nil
		},
		"HighMark, LowMark, ServerLow":  func(o *clienttcp.Options) { *o = marks; o.HighMark, o.LowMark, o.ServerLow = 0, 0, nil },
		"HighMark, LowMark, ServerHigh": func(o *clienttcp.Options) { *o = marks; o.HighMark, o.LowMark, o.ServerHigh = 0, 0, nil },
		"nil inline handler":            func(o *clienttcp.Options) { o.InlineStates = map[string]poe.Handler{"x": nil} },
	}
	for name, change := range cases {
		o := base
		change(&o)
		k := poe.NewKernel(nil)
		if c, err := clienttcp.New(k, o); c != nil || !errors.Is(err, clienttcp.ErrOptions) {
			t.Errorf("without %s: New = %v, %v; want ErrOptions", name, c, err)
		}
	}
	// Both sets are fine.
	for _, o := range []clienttcp.Options{base, marks} {
		k := poe.NewKernel(nil)
		if _, err := clienttcp.New(k, o); err != nil {
			t.Errorf("New: %v", err)
		}
	}
}

// TestConversation: Started gets Args, Connected the socket and the peer,
// ServerInput the lines, "shutdown" after a put waits for the flush, then
// Disconnected; the session ends and the alias goes with it.
func TestConversation(t *testing.T) {
	got := make(chan string, 10)
	port := lineServer(t, func(_ int, c net.Conn, r *bufio.Reader) {
		fmt.Fprint(c, "hello\r\n")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				got <- "server: " + err.Error()
				return
			}
			got <- "server: " + strings.TrimSpace(line)
		}
	})
	log := &evlog{}
	k := poe.NewKernel(nil)
	_, err := clienttcp.New(k, clienttcp.Options{
		RemoteAddress: "127.0.0.1", RemotePort: port, Alias: "cli", Args: []any{"a", 2},
		Started: func(e *poe.Event) any {
			log.L("started %v connected=%v", e.Args, clienttcp.From(e).Connected)
			return nil
		},
		Connected: func(e *poe.Event) any {
			c := clienttcp.From(e)
			_, isFD := e.Arg(poe.ARG0).(int)
			log.L("connected fd=%v peer=%v:%d connected=%v", isFD, net.IP(e.Arg(poe.ARG1).([]byte)), e.Int(poe.ARG2), c.Connected)
			return nil
		},
		ServerInput: func(e *poe.Event) any {
			log.L("input %s", e.String(poe.ARG0))
			c := clienttcp.From(e)
			c.Server.Put("one", "two")
			e.Kernel.Yield("shutdown")
			return nil
		},
		ServerFlushed: func(e *poe.Event) any { log.L("flushed"); return nil },
		Disconnected: func(e *poe.Event) any {
			c := clienttcp.From(e)
			log.L("disconnected shutdown=%v server=%v", c.ShuttingDown, c.Server != nil)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if k.AliasResolve("cli") == nil {
		t.Error("alias not set by _start")
	}
	runKernel(t, k, 10*time.Second)
	log.want(t, []string{
		"started [a 2] connected=false",
		fmt.Sprintf("connected fd=true peer=127.0.0.1:%d connected=true", port),
		"input hello",
		"flushed",
		"disconnected shutdown=true server=false",
	})
	for _, want := range []string{"server: one", "server: two", "server: EOF"} {
		if g := <-got; g != want {
			t.Errorf("server saw %q, want %q", g, want)
		}
	}
}

// TestConnectRefused: a refused connection is ConnectError ("connect",
// ECONNREFUSED); without a reconnect the session then ends.
func TestConnectRefused(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	log := &evlog{}
	k := poe.NewKernel(nil)
	clienttcp.New(k, clienttcp.Options{
		RemoteAddress: "127.0.0.1", RemotePort: port,
		ServerInput: func(*poe.Event) any { return nil },
		Connected:   func(*poe.Event) any { log.L("connected"); return nil },
		ConnectError: func(e *poe.Event) any {
			log.L("%s %d %s connected=%v", e.String(0), e.Int(1), e.String(2), clienttcp.From(e).Connected)
			return nil
		},
	})
	runKernel(t, k, 10*time.Second)
	log.want(t, []string{fmt.Sprintf("connect %d Connection refused connected=false", syscall.ECONNREFUSED)})
}

// TestSetupFailureIsConnectError: what fails before connecting (here a Unix
// socket path that does not exist) reaches ConnectError too, as in POE.
func TestSetupFailureIsConnectError(t *testing.T) {
	log := &evlog{}
	k := poe.NewKernel(nil)
	if _, err := clienttcp.New(k, clienttcp.Options{
		RemoteAddress: filepath.Join(t.TempDir(), "nosuch"), Domain: wheel.DomainUnix,
		ServerInput: func(*poe.Event) any { return nil },
		ConnectError: func(e *poe.Event) any {
			log.L("%s %d", e.String(0), e.Int(1))
			return nil
		},
	}); err != nil {
		t.Fatal(err)
	}
	runKernel(t, k, 10*time.Second)
	log.want(t, []string{fmt.Sprintf("connect %d", syscall.ENOENT)})
}

// TestReconnect: Disconnected asks for a delayed "reconnect"; the second
// connection works, its alias set again; after ServerError the client
// shuts down (ShutdownOnError) even when ServerError does nothing.
func TestReconnect(t *testing.T) {
	port := lineServer(t, func(n int, c net.Conn, r *bufio.Reader) {
		fmt.Fprintf(c, "you are %d\n", n)
		if n == 1 {
			return // hang up: the client sees end of file
		}
		r.ReadString('\n')
	})
	log := &evlog{}
	k := poe.NewKernel(nil)
	connections := 0
	clienttcp.New(k, clienttcp.Options{
		RemoteAddress: "127.0.0.1", RemotePort: port, Alias: "cli",
		Filter: filter.MustLine(filter.LineOptions{Literal: "\n"}),
		Connected: func(e *poe.Event) any {
			connections++
			log.L("connected %d", connections)
			return nil
		},
		ServerInput: func(e *poe.Event) any {
			log.L("input %s", e.String(poe.ARG0))
			if connections == 2 {
				clienttcp.From(e).Server.Put("thanks")
				e.Kernel.Post("cli", "shutdown")
			}
			return nil
		},
		ServerError: func(e *poe.Event) any {
			log.L("server error %s %d", e.String(0), e.Int(1))
			return nil
		},
		Disconnected: func(e *poe.Event) any {
			log.L("disconnected")
			if connections == 1 {
				e.Kernel.Delay("reconnect", 50*time.Millisecond)
			}
			return nil
		},
	})
	runKernel(t, k, 10*time.Second)
	log.want(t, []string{
		"connected 1",
		"input you are 1",
		"server error read 0",
		"disconnected",
		"connected 2",
		"input you are 2",
		"disconnected",
	})
}

// TestConnectEvent: "connect" with a new address and port drops the
// current connection (without Disconnected, as POE) and connects there.
func TestConnectEvent(t *testing.T) {
	portA := lineServer(t, func(_ int, c net.Conn, r *bufio.Reader) { fmt.Fprint(c, "A\n"); r.ReadString('\n') })
	portB := lineServer(t, func(_ int, c net.Conn, r *bufio.Reader) { fmt.Fprint(c, "B\n"); r.ReadString('\n') })
	log := &evlog{}
	k := poe.NewKernel(nil)
	var cl *clienttcp.Client
	cl, _ = clienttcp.New(k, clienttcp.Options{
		RemoteAddress: "127.0.0.1", RemotePort: portA,
		ServerInput: func(e *poe.Event) any {
			log.L("input %s from %s", e.String(poe.ARG0), map[int]string{portA: "A", portB: "B"}[cl.RemotePort()])
			if e.String(poe.ARG0) == "A" {
				cl.Connect("127.0.0.1", portB)
			} else {
				e.Kernel.Yield("shutdown")
			}
			return nil
		},
		Disconnected: func(e *poe.Event) any { log.L("disconnected"); return nil },
	})
	runKernel(t, k, 10*time.Second)
	log.want(t, []string{"input A from A", "input B from B", "disconnected"})
}

// TestShutdownWhileConnecting: "shutdown" before the connection is made
// stops connecting; nothing else is called and the session ends.
func TestShutdownWhileConnecting(t *testing.T) {
	port := stalledPort(t)
	log := &evlog{}
	k := poe.NewKernel(nil)
	clienttcp.New(k, clienttcp.Options{
		RemoteAddress: "127.0.0.1", RemotePort: port,
		Started: func(e *poe.Event) any {
			e.Kernel.Delay("shutdown", 100*time.Millisecond)
			return nil
		},
		ServerInput:  func(*poe.Event) any { log.L("input"); return nil },
		Connected:    func(*poe.Event) any { log.L("connected"); return nil },
		ConnectError: func(*poe.Event) any { log.L("connect error"); return nil },
		Disconnected: func(*poe.Event) any { log.L("disconnected"); return nil },
	})
	start := time.Now()
	runKernel(t, k, 10*time.Second)
	log.want(t, nil)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestConnectTimeout: ConnectTimeout turns a stalled connect into
// ConnectError ("connect", ETIMEDOUT, "Connection timed out").
func TestConnectTimeout(t *testing.T) {
	port := stalledPort(t)
	log := &evlog{}
	k := poe.NewKernel(nil)
	clienttcp.New(k, clienttcp.Options{
		RemoteAddress: "127.0.0.1", RemotePort: port, ConnectTimeout: 200 * time.Millisecond,
		ServerInput: func(*poe.Event) any { return nil },
		Connected:   func(*poe.Event) any { log.L("connected"); return nil },
		ConnectError: func(e *poe.Event) any {
			log.L("%s %d %s", e.String(0), e.Int(1), e.String(2))
			return nil
		},
	})
	start := time.Now()
	runKernel(t, k, 10*time.Second)
	log.want(t, []string{fmt.Sprintf("connect %d Connection timed out", syscall.ETIMEDOUT)})
	if d := time.Since(start); d < 150*time.Millisecond || d > 5*time.Second {
		t.Errorf("gave up after %v, want about 200ms", d)
	}
}

// stalledPort returns a loopback port whose connects hang: a listener that
// never accepts, its backlog filled (Linux then drops the SYNs).
func stalledPort(t *testing.T) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	port := sa.(*unix.SockaddrInet4).Port
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return port // this one stalled: so will the client's
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("could not fill a listen backlog to stall a connect")
	return 0
}
