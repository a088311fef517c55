package servertcp_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/component/servertcp"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"github.com/poe-go/poe/wheel/filter"
)

// serve runs a kernel with a server made by mk on its own goroutine; it
// returns the server's port (or address) once it listens, and a function
// that waits for Run to return.
func serve(t *testing.T, mk func(k *poe.Kernel) (*servertcp.Server, error)) (string, func() error) {
	t.Helper()
	k := poe.NewKernel(nil)
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		s, err := mk(k)
		if err != nil {
			addr <- ""
			done <- err
			return
		}
		addr <- s.LocalAddr()
		done <- k.Run()
	}()
	a := <-addr
	if a == "" {
		t.Fatal(<-done)
	}
	wait := func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Error("kernel did not stop")
			k.Shutdown(t.Context())
			return <-done
		}
	}
	return a, wait
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// TestEchoDefaults: the default filter is a Line filter per connection
// (input CR LF or LF, output CR LF), ClientConnected can greet, RemoteIP and
// RemotePort are the peer's, and "shutdown" to the listener by its alias
// lets the open connection finish.
func TestEchoDefaults(t *testing.T) {
	addr, wait := serve(t, func(k *poe.Kernel) (*servertcp.Server, error) {
		return servertcp.New(k, servertcp.Options{
			Address: "127.0.0.1", Alias: "echo",
			ClientConnected: func(e *poe.Event) any {
				c := servertcp.ConnOf(e)
				c.Client.Put(fmt.Sprintf("hello %s", c.RemoteIP))
				return nil
			},
			ClientInput: func(e *poe.Event) any {
				c := servertcp.ConnOf(e)
				switch in := e.String(poe.ARG0); in {
				case "port":
					c.Client.Put(fmt.Sprint(c.RemotePort))
				case "stop":
					e.Kernel.Post("echo", "shutdown")
					c.Client.Put("stopping")
				case "quit":
					c.Client.Put("bye")
					e.Kernel.Yield("shutdown")
				default:
					c.Client.Put("echo: " + in)
				}
				return nil
			},
		})
	})
	conn, r := dial(t, addr)
	expect := func(want string) {
		t.Helper()
		got, err := r.ReadString('\n')
		if err != nil || got != want+"\r\n" {
			t.Fatalf("read %q, %v; want %q", got, err, want+"\r\n")
		}
	}
	expect("hello 127.0.0.1")
	fmt.Fprint(conn, "one\r\ntwo\n")
	expect("echo: one")
	expect("echo: two")
	fmt.Fprint(conn, "port\n")
	_, port, _ := net.SplitHostPort(conn.LocalAddr().String())
	expect(port)
	fmt.Fprint(conn, "stop\n")
	expect("stopping")
	// No longer listening, but this connection still works.
	if c2, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c2.Close()
		t.Error("server still accepts after shutdown")
	}
	fmt.Fprint(conn, "after\nquit\n")
	expect("echo: after")
	expect("bye")
	if _, err := r.ReadString('\n'); err != io.EOF {
		t.Errorf("after quit: %v, want EOF", err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

// TestShutdownFlushesOutput: "shutdown" with output still buffered closes
// the connection only once it is written (ClientFlushed, then
// ClientDisconnected), and input after it is ignored.
func TestShutdownFlushesOutput(t *testing.T) {
	const lines = 20000
	log := &evlog{}
	addr, wait := serve(t, func(k *poe.Kernel) (*servertcp.Server, error) {
		return servertcp.New(k, servertcp.Options{
			Address: "127.0.0.1",
			ClientInput: func(e *poe.Event) any {
				c := servertcp.ConnOf(e)
				if e.String(poe.ARG0) != "go" {
					log.L("input after shutdown: %s", e.String(poe.ARG0))
					return nil
				}
				for i := 0; i < lines; i++ {
					c.Client.Put(strings.Repeat("x", 60))
				}
				// Called, so that the next line of the same read comes after it.
				e.Kernel.Call(e.Session, "shutdown")
				e.Kernel.Post(c.Server.Session(), "shutdown")
				return nil
			},
			ClientFlushed: func(e *poe.Event) any { log.L("flushed"); return nil },
			ClientDisconnected: func(e *poe.Event) any {
				log.L("disconnected shutting_down=%v", servertcp.ConnOf(e).ShuttingDown)
				return nil
			},
		})
	})
	conn, r := dial(t, addr)
	fmt.Fprint(conn, "go\nignored\n")
	n := 0
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(line) != 62 {
			t.Fatalf("line %d: %q", n, line)
		}
		n++
	}
	if n != lines {
		t.Errorf("got %d lines before end of file, want %d", n, lines)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	log.want(t, []string{"flushed", "disconnected shutting_down=true"})
}

// TestClientShutdownOnError: by default an error (here the client's end of
// file) shuts the connection down at once, dropping what ClientError put;
// with NoClientShutdownOnError the session stays, and its output still
// reaches a half-closed client.
func TestClientShutdownOnError(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
			addr, wait := serve(t, func(k *poe.Kernel) (*servertcp.Server, error) {
				return servertcp.New(k, servertcp.Options{
					Address: "127.0.0.1", Alias: "srv",
					NoClientShutdownOnError: keep,
					ClientInput:             func(e *poe.Event) any { return nil },
					ClientError: func(e *poe.Event) any {
						c := servertcp.ConnOf(e)
						c.Client.Put(fmt.Sprintf("error %s %d got_an_error=%v", e.String(0), e.Int(1), c.GotAnError))
						if keep {
							e.Kernel.Yield("shutdown")
						}
						e.Kernel.Post("srv", "shutdown")
						return nil
					},
				})
			})
			conn, r := dial(t, addr)
			conn.(*net.TCPConn).CloseWrite()
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if keep {
				want = "error read 0 got_an_error=false\r\n"
			}
			if string(got) != want {
				t.Errorf("client read %q, want %q", got, want)
			}
			if err := wait(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDefaultClientError: the default ClientError logs errors other than
// end of file and ECONNRESET, and the connection then shuts down.
func TestDefaultClientError(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	addr, wait := serve(t, func(k *poe.Kernel) (*servertcp.Server, error) {
		return servertcp.New(k, servertcp.Options{
			Address: "127.0.0.1", Alias: "srv", Logger: logger,
			ClientInput: func(e *poe.Event) any {
				// A write error the wheel reports as ErrorEvent.
				e.Kernel.Call(e.Session, "tcp_server_got_error", "write", int(syscall.EPIPE), "Broken pipe", 0)
				return nil
			},
			ClientDisconnected: func(e *poe.Event) any { e.Kernel.Post("srv", "shutdown"); return nil },
		})
	})
	conn, r := dial(t, addr)
	fmt.Fprint(conn, "x\n")
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "operation=write") || !strings.Contains(out, "errno=32") || strings.Contains(out, "operation=read") {
		t.Errorf("log %q: want the write error only", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestSetupFailureReturned: a port in use is New's error, a
// *wheel.SocketError matching EADDRINUSE, and no session is left (Run
// returns at once, Started and Stopped never run).
func TestSetupFailureReturned(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	k := poe.NewKernel(nil)
	called := false
	s, err := servertcp.New(k, servertcp.Options{
		Address: "127.0.0.1", Port: port, Alias: "taken",
		Started:     func(*poe.Event) any { called = true; return nil },
		Stopped:     func(*poe.Event) any { called = true; return nil },
		ClientInput: func(*poe.Event) any { return nil },
	})
	var se *wheel.SocketError
	if s != nil || !errors.As(err, &se) || !errors.Is(err, syscall.EADDRINUSE) || se.Op != "bind" {
		t.Fatalf("New = %v, %v; want a bind SocketError matching EADDRINUSE", s, err)
	}
	if k.AliasResolve("taken") != nil {
		t.Error("the alias is still set")
	}
	runKernel(t, k, 5*time.Second)
	if called {
		t.Error("Started or Stopped ran for a server that never listened")
	}
}

// TestOptionErrors: what POE croaks for is New's error, wrapping
// ErrOptions.
func TestOptionErrors(t *testing.T) {
	in := func(*poe.Event) any { return nil }
	line := filter.MustLine(filter.LineOptions{})
	for name, o := range map[string]servertcp.Options{
		"neither Acceptor nor ClientInput": {},
		"both":                             {Acceptor: in, ClientInput: in},
		"Client option with Acceptor":      {Acceptor: in, ClientConnected: in},
		"InlineStates with Acceptor":       {Acceptor: in, InlineStates: map[string]poe.Handler{"x": in}},
		"input filter alone":               {ClientInput: in, ClientInputFilter: line},
		"output filter alone":              {ClientInput: in, ClientOutputFilter: line},
		"marks partly":                     {ClientInput: in, HighMark: 10, LowMark: 5, ClientHigh: in},
		"marks reversed":                   {ClientInput: in, HighMark: 5, LowMark: 10, ClientHigh: in, ClientLow: in},
		"InlineStates _start":              {ClientInput: in, InlineStates: map[string]poe.Handler{"_start": in}},
		"InlineStates shutdown":            {ClientInput: in, InlineStates: map[string]poe.Handler{"shutdown": in}},
		"InlineStates tcp_server_got_input": {ClientInput: in,
			InlineStates: map[string]poe.Handler{"tcp_server_got_input": in}},
		"PackageStates _stop": {ClientInput: in,
			PackageStates: []poe.States{poe.Package("p", map[string]poe.Handler{"_stop": in})}},
		"nil inline handler": {ClientInput: in, InlineStates: map[string]poe.Handler{"x": nil}},
	} {
		k := poe.NewKernel(nil)
		o.Address = "127.0.0.1"
		if s, err := servertcp.New(k, o); s != nil || !errors.Is(err, servertcp.ErrOptions) {
			t.Errorf("%s: New = %v, %v; want ErrOptions", name, s, err)
		}
	}
}

// TestConcurrencyNoConnections: NoConnections (Perl's Concurrency => 0)
// accepts nothing until set_concurrency; set_concurrency(-1) then accepts
// everyone (POE 1.370 lets one connection in first, and never resumes for
// -1). The listener counts its connections.
func TestConcurrencyNoConnections(t *testing.T) {
	k := poe.NewKernel(nil)
	log := &evlog{}
	s, err := servertcp.New(k, servertcp.Options{
		Address: "127.0.0.1", Alias: "srv", Concurrency: servertcp.NoConnections,
		ClientConnected: func(e *poe.Event) any {
			log.L("connected, %d open", servertcp.ConnOf(e).Server.Connections())
			return nil
		},
		ClientInput: func(e *poe.Event) any {
			servertcp.ConnOf(e).Client.Put("ok")
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Concurrency() != 0 {
		t.Errorf("Concurrency() = %d, want POE's 0", s.Concurrency())
	}
	addr := s.LocalAddr()
	results := make(chan string, 3)
	for i := 0; i < 3; i++ {
		go func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				results <- err.Error()
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprint(c, "hi\n")
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				results <- err.Error()
				return
			}
			results <- strings.TrimSpace(line)
		}()
	}
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any { e.Kernel.Delay("open", 300*time.Millisecond); return nil },
		"open": func(e *poe.Event) any {
			log.L("opening after %d connections", s.Connections())
			s.SetConcurrency(-1)
			e.Kernel.Delay("close", 500*time.Millisecond)
			return nil
		},
		"close": func(e *poe.Event) any { s.Shutdown(); return nil },
	}})
	runKernel(t, k, 10*time.Second)
	for i := 0; i < 3; i++ {
		if r := <-results; r != "ok" {
			t.Errorf("client got %q", r)
		}
	}
	got := log.get()
	if len(got) != 4 || got[0] != "opening after 0 connections" {
		t.Errorf("log %q: want no connection before set_concurrency, then three", got)
	}
}

// TestPreConnectRefuses: ClientPreConnect returning nil refuses the
// connection (the component closes it) and the listener's count goes back
// down; returning the socket lets it through.
func TestPreConnectRefuses(t *testing.T) {
	n := 0
	var srv *servertcp.Server
	addr, wait := serve(t, func(k *poe.Kernel) (*servertcp.Server, error) {
		var err error
		srv, err = servertcp.New(k, servertcp.Options{
			Address: "127.0.0.1", Alias: "srv", Concurrency: 1,
			ClientPreConnect: func(e *poe.Event) any {
				n++
				if n == 1 {
					return nil
				}
				return e.Arg(poe.ARG0)
			},
			ClientConnected: func(e *poe.Event) any {
				servertcp.ConnOf(e).Client.Put(fmt.Sprintf("welcome, %d open", servertcp.ConnOf(e).Server.Connections()))
				e.Kernel.Post("srv", "shutdown")
				e.Kernel.Yield("shutdown")
				return nil
			},
			ClientInput: func(e *poe.Event) any { return nil },
		})
		return srv, err
	})
	_, r := dial(t, addr)
	if b, err := io.ReadAll(r); err != nil || len(b) != 0 {
		t.Fatalf("refused connection read %q, %v; want end of file", b, err)
	}
	// With Concurrency 1 this is accepted only if the refused one was counted out.
	_, r2 := dial(t, addr)
	if line, err := r2.ReadString('\n'); err != nil || line != "welcome, 1 open\r\n" {
		t.Fatalf("second connection read %q, %v", line, err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

// TestUnixDomain is POE's t/90_regression/ferrari-server-unix.t (a Unix
// socket server shut down before the kernel runs, without a warning), plus
// a connection: RemoteIP is "LOCAL".
func TestUnixDomain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sock")
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	k := poe.NewKernel(&poe.Options{Logger: logger})
	if _, err := servertcp.New(k, servertcp.Options{
		Address: path, Domain: wheel.DomainUnix, Alias: "testserver", Logger: logger,
		ClientInput: func(*poe.Event) any { return nil },
	}); err != nil {
		t.Fatal(err)
	}
	k.Post("testserver", "shutdown")
	runKernel(t, k, 5*time.Second)
	if logs.String() != "" {
		t.Errorf("warnings: %s", logs.String())
	}
	os.Remove(path)

	addr, wait := serve(t, func(k *poe.Kernel) (*servertcp.Server, error) {
		return servertcp.New(k, servertcp.Options{
			Address: path, Domain: wheel.DomainUnix, Alias: "srv",
			ClientConnected: func(e *poe.Event) any {
				c := servertcp.ConnOf(e)
				c.Client.Put(c.RemoteIP)
				e.Kernel.Yield("shutdown")
				e.Kernel.Post("srv", "shutdown")
				return nil
			},
			ClientInput: func(*poe.Event) any { return nil },
		})
	})
	if addr != path {
		t.Errorf("LocalAddr() = %q, want %q", addr, path)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(c); string(b) != "LOCAL\r\n" {
		t.Errorf("read %q, want LOCAL", b)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

// TestFiltersPerDirection: ClientInputFilter and ClientOutputFilter are
// cloned for each connection, one per direction.
func TestFiltersPerDirection(t *testing.T) {
	addr, wait := serve(t, func(k *poe.Kernel) (*servertcp.Server, error) {
		return servertcp.New(k, servertcp.Options{
			Address: "127.0.0.1", Alias: "srv",
			ClientInputFilter:  filter.MustLine(filter.LineOptions{Literal: "|"}),
			ClientOutputFilter: filter.MustLine(filter.LineOptions{Literal: ";"}),
			ClientInput: func(e *poe.Event) any {
				servertcp.ConnOf(e).Client.Put(strings.ToUpper(e.String(poe.ARG0)))
				if e.String(poe.ARG0) == "end" {
					e.Kernel.Yield("shutdown")
					e.Kernel.Post("srv", "shutdown")
				}
				return nil
			},
		})
	})
	a, _ := dial(t, addr)
	b, rb := dial(t, addr)
	fmt.Fprint(a, "par") // half a record on the first connection
	fmt.Fprint(b, "one|two|end|")
	got, err := io.ReadAll(rb)
	if err != nil || string(got) != "ONE;TWO;END;" {
		t.Errorf("read %q, %v", got, err)
	}
	a.Close()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

// TestMarks: HighMark, LowMark, ClientHigh and ClientLow reach the
// connection's wheel.
func TestMarks(t *testing.T) {
	log := &evlog{}
	addr, wait := serve(t, func(k *poe.Kernel) (*servertcp.Server, error) {
		return servertcp.New(k, servertcp.Options{
			Address: "127.0.0.1", Alias: "srv",
			HighMark: 1 << 16, LowMark: 1 << 10,
			ClientHigh: func(e *poe.Event) any { log.L("high"); return nil },
			ClientLow:  func(e *poe.Event) any { log.L("low"); return nil },
			ClientInput: func(e *poe.Event) any {
				c := servertcp.ConnOf(e)
				for i := 0; i < 4096; i++ {
					c.Client.Put(strings.Repeat("y", 100))
				}
				e.Kernel.Yield("shutdown")
				e.Kernel.Post("srv", "shutdown")
				return nil
			},
		})
	})
	conn, r := dial(t, addr)
	fmt.Fprint(conn, "go\n")
	time.Sleep(100 * time.Millisecond) // let the buffer fill past HighMark
	b, err := io.ReadAll(r)
	if err != nil || len(b) != 4096*102 {
		t.Fatalf("read %d bytes, %v", len(b), err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if log.count("low") != 1 {
		t.Errorf("marks log %q, want low once", log.get())
	}
}

// TestInet6: Domain DomainInet6 listens on an IPv6 address; RemoteIP is
// the peer's in IPv6 text.
func TestInet6(t *testing.T) {
	if l, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		l.Close()
	}
	addr, wait := serve(t, func(k *poe.Kernel) (*servertcp.Server, error) {
		return servertcp.New(k, servertcp.Options{
			Address: "::1", Domain: wheel.DomainInet6, Alias: "srv",
			ClientConnected: func(e *poe.Event) any {
				c := servertcp.ConnOf(e)
				c.Client.Put(fmt.Sprintf("%s %d %d", c.RemoteIP, c.RemotePort, len(c.RemoteAddr)))
				e.Kernel.Yield("shutdown")
				e.Kernel.Post("srv", "shutdown")
				return nil
			},
			ClientInput: func(*poe.Event) any { return nil },
		})
	})
	c, r := dial(t, addr)
	_, port, _ := net.SplitHostPort(c.LocalAddr().String())
	if line, _ := r.ReadString('\n'); line != "::1 "+port+" 16\r\n" {
		t.Errorf("read %q", line)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}
