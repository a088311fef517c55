package bench

// The Lite against net/rpc: the same echo, the same 32-byte payload, one
// connection shared by 1 or 64 goroutines. lite_vs_rpc.sh runs them
// interleaved and prints the table of README.md.

import (
	"context"
	"fmt"
	"net"
	"net/rpc"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/poe-go/poe/ikc/clientlite"
)

// echoPayload is the 32-byte argument of every echo.
var echoPayload = strings.Repeat("0123456789abcdef", 2)

// EchoRPC is the net/rpc service: Echo returns its argument.
type EchoRPC struct{}

// Echo sets reply to arg.
func (EchoRPC) Echo(arg string, reply *string) error {
	*reply = arg
	return nil
}

// startRPCServer serves EchoRPC on 127.0.0.1 and returns its address.
func startRPCServer(tb testing.TB) string {
	tb.Helper()
	srv := rpc.NewServer()
	if err := srv.Register(EchoRPC{}); err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	conns := make(chan net.Conn, 16)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			wg.Go(func() { srv.ServeConn(c) })
		}
	})
	tb.Cleanup(func() {
		ln.Close()
		for {
			select {
			case c := <-conns:
				c.Close()
				continue
			default:
			}
			break
		}
		wg.Wait()
	})
	return ln.Addr().String()
}

// echoLoad runs b.N echoes through echo from g goroutines.
func echoLoad(b *testing.B, g int, echo func() error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	b.ResetTimer()
	cpu0 := cpuTime()
	for range g {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := echo(); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	cpu := cpuTime() - cpu0
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	// CPU per call, client and server together: what a busy machine
	// changes least.
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
}

// BenchmarkEchoRPC: echo round trips of a 32-byte string over one
// connection, with 1 and 64 goroutines: net/rpc (gob, its own server)
// and the Lite (Call to bench/echo of a Go ikc.Server kernel). One op =
// one call.
func BenchmarkEchoRPC(b *testing.B) {
	for _, g := range []int{1, 64} {
		name := "g1"
		if g > 1 {
			name = "g64"
		}
		b.Run("netrpc/"+name, func(b *testing.B) {
			b.ReportAllocs()
			c, err := rpc.Dial("tcp", startRPCServer(b))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			echoLoad(b, g, func() error {
				var r string
				if err := c.Call("EchoRPC.Echo", echoPayload, &r); err != nil {
					return err
				}
				if r != echoPayload {
					return errWrongEcho
				}
				return nil
			})
		})
		b.Run("lite/"+name, func(b *testing.B) {
			b.ReportAllocs()
			srv := startBenchServer(b)
			defer srv.stop(b)
			ctx, cancel := context.WithTimeout(context.Background(), ikcWait)
			defer cancel()
			l, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: srv.port, Name: "BenchLite"})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Disconnect()
			echoLoad(b, g, func() error {
				r, err := l.Call(ctx, "bench/echo", echoPayload)
				if err != nil {
					return err
				}
				if r != echoPayload {
					return errWrongEcho
				}
				return nil
			})
		})
	}
}

// TestEchoRPCPeers checks both echo peers of BenchmarkEchoRPC answer
// every call with its own argument, from several goroutines at once.
func TestEchoRPCPeers(t *testing.T) {
	c, err := rpc.Dial("tcp", startRPCServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := startBenchServer(t)
	defer srv.stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), ikcWait)
	defer cancel()
	l, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: srv.port, Name: "BenchLite"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Disconnect()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				arg := fmt.Sprintf("%s-%d-%d", echoPayload, g, i)
				var r string
				if err := c.Call("EchoRPC.Echo", arg, &r); err != nil || r != arg {
					t.Errorf("net/rpc echo of %q: %q, %v", arg, r, err)
					return
				}
				v, err := l.Call(ctx, "bench/echo", arg)
				if err != nil || v != arg {
					t.Errorf("Lite echo of %q: %v, %v", arg, v, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

type benchError string

func (e benchError) Error() string { return string(e) }

const errWrongEcho = benchError("wrong echo")
