package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
)

// Echo servers compared by BenchmarkEchoPipelined, BenchmarkEchoLockstep
// and BenchmarkEchoIdle: our line echo server on the POE wheels (poe), a
// raw gnet engine echo server (gnet), an evio echo server (evio, added by
// echo_evio_test.go where evio builds) and a goroutine-per-connection net
// server (net). Every server listens on 127.0.0.1 and returns a stop
// function.
type echoServer func(tb testing.TB) (addr string, stop func())

type echoPeer struct {
	name  string
	start echoServer
}

var echoServers = []echoPeer{
	{"poe", startPOEEcho},
	{"gnet", startGnetEcho},
	{"net", startNetEcho},
}

func freePort(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func waitListening(tb testing.TB, addr string) {
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("server at %s never listened", addr)
}

// gnetBoot is the engine handle and start signal every gnet server here
// embeds.
type gnetBoot struct {
	gnet.BuiltinEventEngine
	eng gnet.Engine
	up  chan struct{}
}

func (g *gnetBoot) OnBoot(eng gnet.Engine) gnet.Action { g.eng = eng; close(g.up); return gnet.None }

// runGnet runs handler h (which embeds boot) on one event loop at a free
// address until the returned stop is called.
func runGnet(tb testing.TB, h gnet.EventHandler, boot *gnetBoot) (string, func()) {
	addr := freePort(tb)
	boot.up = make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- gnet.Run(h, "tcp://"+addr, gnet.WithMulticore(false), gnet.WithReusePort(false), gnet.WithLogLevel(logging.ErrorLevel), gnet.WithLogger(gnetQuiet{}))
	}()
	select {
	case <-boot.up:
	case err := <-done:
		tb.Fatal(err)
	}
	waitListening(tb, addr)
	return addr, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		boot.eng.Stop(ctx)
		<-done
	}
}

type gnetEcho struct{ gnetBoot }

func (g *gnetEcho) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf)
	return gnet.None
}

func startGnetEcho(tb testing.TB) (string, func()) {
	g := &gnetEcho{}
	return runGnet(tb, g, &g.gnetBoot)
}

// serveNet accepts on 127.0.0.1 and runs serve on each connection in a
// goroutine of its own, until the returned stop is called.
func serveNet(tb testing.TB, serve func(net.Conn)) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String(), func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}
}

func startNetEcho(tb testing.TB) (string, func()) {
	return serveNet(tb, func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
}

const echoLine = "0123456789abcdef\r\n" // ~17 bytes, like the Perl benchmark's

// pipelined drives conns connections, each writing lines lines as fast as
// the socket takes them while a reader counts the echoes; it returns the
// wall time until every echo came back.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

func pipelined(tb testing.TB, addr string, conns, lines int) time.Duration {
	payload := bytes.Repeat([]byte(echoLine), lines)
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			tb.Fatal(err)
		}
		defer c.Close()
		cs[i] = c
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*conns)
	start := time.Now()
	for _, c := range cs {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := c.Write(payload); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			// Read buffers are reused across rounds, so that the load
			// generator's garbage does not drive the GC that every
			// server pays for.
			bp := readBufs.Get().(*[]byte)
			defer readBufs.Put(bp)
			buf := *bp
			seen := 0
			for seen < lines {
				n, err := c.Read(buf)
				seen += bytes.Count(buf[:n], []byte{'\n'})
				if err != nil {
					errs <- fmt.Errorf("after %d lines: %w", seen, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	return d
}

// BenchmarkEchoPipelined: 50 connections each pipelining 2,000 lines
// (echo_tcp_lines in perl/). One op = one round of 100k
// lines; the lines/s metric is what compares across servers.
func BenchmarkEchoPipelined(b *testing.B) {
	const conns, lines = 50, 2000
	for _, s := range append(echoServers[:len(echoServers):len(echoServers)], echoRungs...) {
		b.Run(s.name, func(b *testing.B) {
			addr, stop := s.start(b)
			defer stop()
			pipelined(b, addr, 5, 200) // warm up
			b.ReportAllocs()
			b.ResetTimer()
			var total time.Duration
			for i := 0; i < b.N; i++ {
				total += pipelined(b, addr, conns, lines)
			}
			b.ReportMetric(float64(conns*lines*b.N)/total.Seconds(), "lines/s")
		})
	}
}

// BenchmarkEchoLockstep: one connection, one line in flight
// (echo_tcp_rtt_*): 200 warm-up round trips, then b.N measured ones.
// Reports p50/p99 round-trip times.
func BenchmarkEchoLockstep(b *testing.B) {
	for _, s := range echoServers {
		b.Run(s.name, func(b *testing.B) {
			addr, stop := s.start(b)
			defer stop()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			r := bufio.NewReader(c)
			trip := func() time.Duration {
				t0 := time.Now()
				if _, err := io.WriteString(c, echoLine); err != nil {
					b.Fatal(err)
				}
				if _, err := r.ReadSlice('\n'); err != nil {
					b.Fatal(err)
				}
				return time.Since(t0)
			}
			for i := 0; i < 200; i++ {
				trip()
			}
			rtts := make([]time.Duration, b.N)
			b.ResetTimer()
			for i := range rtts {
				rtts[i] = trip()
			}
			b.StopTimer()
			slices.Sort(rtts)
			b.ReportMetric(float64(rtts[len(rtts)/2].Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(rtts[len(rtts)*99/100].Nanoseconds())/1e3, "p99-µs")
		})
	}
}

// BenchmarkEchoIdle: 1,000 idle connections to a server running in its own
// process; reports the growth of that process's resident memory per
// connection (echo_tcp_server_rss).
func BenchmarkEchoIdle(b *testing.B) {
	const conns = 1000
	for _, s := range echoServers {
		b.Run(s.name, func(b *testing.B) {
			if s.name == "poe" && !poeEchoReady {
				b.Skip("poe echo server: wheels not built yet")
			}
			for i := 0; i < b.N; i++ {
				perConn, base := idleRSS(b, s.name, conns)
				b.ReportMetric(perConn, "B/conn")
				b.ReportMetric(base/1024, "base-KiB")
			}
		})
	}
}

// TestEchoServerProcess is the child side of BenchmarkEchoIdle: it runs
// only when ECHO_SERVER names a server, prints its address and serves
// until its standard input closes.
func TestEchoServerProcess(t *testing.T) {
	name := os.Getenv("ECHO_SERVER")
	if name == "" {
		t.Skip("child process of BenchmarkEchoIdle")
	}
	for _, s := range echoServers {
		if s.name == name {
			addr, stop := s.start(t)
			fmt.Printf("ADDR %s\n", addr)
			io.Copy(io.Discard, os.Stdin)
			stop()
			return
		}
	}
	t.Fatalf("no server %q", name)
}

func idleRSS(tb testing.TB, name string, conns int) (perConn, base float64) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestEchoServerProcess$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), "ECHO_SERVER="+name)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	addr := ""
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		tb.Fatal("child printed no address")
	}
	go io.Copy(io.Discard, stdout)
	roundTrip := func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, echoLine)
		buf := make([]byte, len(echoLine))
		if _, err := io.ReadFull(c, buf); err != nil {
			tb.Fatal(err)
		}
	}
	warm, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	roundTrip(warm)
	time.Sleep(100 * time.Millisecond)
	before := rssBytes(tb, cmd.Process.Pid)
	cs := make([]net.Conn, 0, conns)
	for i := 0; i < conns; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			tb.Fatal(err)
		}
		cs = append(cs, c)
		roundTrip(c) // the server has accepted it and set it up
	}
	time.Sleep(200 * time.Millisecond)
	after := rssBytes(tb, cmd.Process.Pid)
	for _, c := range cs {
		c.Close()
	}
	warm.Close()
	return float64(after-before) / float64(conns), float64(before)
}

func rssBytes(tb testing.TB, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		if runtime.GOOS != "linux" {
			tb.Skip("the memory of another process is read from /proc/PID/status: unavailable on", runtime.GOOS)
		}
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}
