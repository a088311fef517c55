package bench

// IKC benchmarks, the Go side of perl/ikc*.pl (Perl
// POE::Component::IKC 0.2402); bench/ikc_vs_perl.sh runs both and prints
// the table of README.md.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc"
	"github.com/poe-go/poe/ikc/clientlite"
	"github.com/poe-go/poe/poe"
)

// ikcWait bounds every wait of these benchmarks.
const ikcWait = 60 * time.Second

// ikcKernel is a kernel running on its own goroutine with a control
// session "ctl" (do, stop).
type ikcKernel struct {
	k    *poe.Kernel
	done chan error
}

func startIKCKernel(tb testing.TB, setup func(k *poe.Kernel)) *ikcKernel {
	tb.Helper()
	n := &ikcKernel{k: poe.NewKernel(nil), done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		_, err := n.k.Create(poe.Spec{Inline: H{
			"_start": func(e *poe.Event) any {
				e.Kernel.AliasSet("ctl")
				e.Kernel.RefcountIncrement(e.Session.ID(), "bench")
				setup(e.Kernel)
				return nil
			},
			"do": func(e *poe.Event) any { e.Arg(poe.ARG0).(func())(); return nil },
			"stop": func(e *poe.Event) any {
				ikc.Shutdown(e.Kernel)
				e.Kernel.Stop()
				return nil
			},
		}})
		close(ready)
		if err != nil {
			n.done <- err
			return
		}
		n.done <- n.k.Run()
	}()
	<-ready
	return n
}

// do runs fn on the kernel's goroutine and waits for it.
func (n *ikcKernel) do(tb testing.TB, fn func(k *poe.Kernel)) {
	ch := make(chan struct{})
	n.k.PostFromGoroutine("ctl", "do", func() { defer close(ch); fn(n.k) })
	select {
	case <-ch:
	case <-time.After(ikcWait):
		tb.Fatal("kernel did not run the function in time")
	}
}

func (n *ikcKernel) stop(tb testing.TB) {
	n.k.PostFromGoroutine("ctl", "stop")
	select {
	case err := <-n.done:
		if err != nil {
			tb.Error(err)
		}
	case <-time.After(ikcWait):
		tb.Error("kernel did not stop")
	}
}

// benchServer is the Go counterpart of ikc_server.pl: kernel "BenchSrv"
// with session "bench" publishing hit, count, echo and respond.
type benchServer struct {
	*ikcKernel
	port   int
	hits   atomic.Int64
	expect atomic.Int64
	reach  chan struct{} // gets a value when hits reaches expect
	unreg  chan string   // remote kernel IDs unregistered (non-blocking sends)
}

func startBenchServer(tb testing.TB) *benchServer {
	tb.Helper()
	s := &benchServer{reach: make(chan struct{}, 1), unreg: make(chan string, 1)}
	ports := make(chan int, 1)
	s.ikcKernel = startIKCKernel(tb, func(k *poe.Kernel) {
		srv, err := ikc.NewServer(k, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort, Name: "BenchSrv"})
		if err != nil {
			tb.Error(err)
			ports <- 0
			return
		}
		sess, err := k.Create(poe.Spec{Inline: H{
			"_start": func(e *poe.Event) any {
				e.Kernel.AliasSet("bench")
				return ikc.Monitor(e.Kernel, "*", map[string]string{"unregister": "unreg"}, nil)
			},
			"unreg": func(e *poe.Event) any {
				if e.Bool(poe.ARG2) {
					select {
					case s.unreg <- e.String(poe.ARG1):
					default:
					}
				}
				return nil
			},
			"hit": func(e *poe.Event) any {
				if s.hits.Add(1) == s.expect.Load() {
					s.reach <- struct{}{}
				}
				return nil
			},
			"count": func(e *poe.Event) any { return s.hits.Load() },
			"echo":  func(e *poe.Event) any { return e.Arg(poe.ARG0) },
			"respond": func(e *poe.Event) any {
				a := e.Slice(poe.ARG0)
				ikc.Post(e.Kernel, a[1], a[0])
				return nil
			},
		}})
		if err == nil {
			err = ikc.Publish(k, sess, "hit", "count", "echo", "respond")
		}
		if err != nil {
			tb.Error(err)
		}
		ports <- srv.Port()
	})
	s.port = <-ports
	if s.port == 0 {
		s.stop(tb)
		tb.FailNow()
	}
	return s
}

// startBenchClient starts a kernel with an IKC Client connected to the
// server and a session "driver" with the given handlers.
func startBenchClient(tb testing.TB, port int, name string, driver H) *ikcKernel {
	tb.Helper()
	up := make(chan string, 1)
	h := H{
		"_start": func(e *poe.Event) any {
			e.Kernel.AliasSet("driver")
			_, err := ikc.NewClient(e.Kernel, ikc.ClientOptions{
				Host: "127.0.0.1", Port: port, Name: name,
				OnConnect: func() { up <- "" },
				OnError:   func(op string, errno int, text string) { up <- op + ": " + text },
			})
			if err != nil {
				up <- err.Error()
			}
			return nil
		},
	}
	for ev, f := range driver {
		h[ev] = f
	}
	c := startIKCKernel(tb, func(k *poe.Kernel) {
		if _, err := k.Create(poe.Spec{Inline: h}); err != nil {
			up <- err.Error()
		}
	})
	select {
	case msg := <-up:
		if msg != "" {
			c.stop(tb)
			tb.Fatal(msg)
		}
	case <-time.After(ikcWait):
		tb.Fatal("client did not connect")
	}
	return c
}

// BenchmarkIKCPost: an IKC Client kernel posts b.N events to
// poe://BenchSrv/bench/hit of a Server kernel (both in this process, each
// on its own goroutine), 1,000 per driver event as ikc_client.pl does.
// events/s = b.N / (time until the server received the last one).
func BenchmarkIKCPost(b *testing.B) {
	b.ReportAllocs()
	srv := startBenchServer(b)
	defer srv.stop(b)
	srv.expect.Store(int64(b.N))
	n, posted := b.N, 0
	var sendErr error
	cli := startBenchClient(b, srv.port, "BenchPost", H{
		"more": func(e *poe.Event) any {
			stop := min(posted+1000, n)
			for ; posted < stop; posted++ {
				if _, err := ikc.Post(e.Kernel, "poe://BenchSrv/bench/hit", posted); err != nil && sendErr == nil {
					sendErr = err
				}
			}
			if posted < n {
				e.Kernel.Yield("more")
			}
			return nil
		},
	})
	defer cli.stop(b)
	b.ResetTimer()
	t0 := time.Now()
	cli.k.PostFromGoroutine("driver", "more")
	select {
	case <-srv.reach:
	case <-time.After(ikcWait):
		b.Fatalf("server got %d of %d", srv.hits.Load(), n)
	}
	dt := time.Since(t0)
	b.StopTimer()
	if sendErr != nil {
		b.Fatal(sendErr)
	}
	b.ReportMetric(float64(n)/dt.Seconds(), "events/s")
}

// BenchmarkIKCCall: sequential IKC calls with an rsvp
// (Call(poe://BenchSrv/bench/echo, "poe:reply", i)) from a Client kernel;
// one op = one round trip (ikc_client.pl call).
func BenchmarkIKCCall(b *testing.B) {
	b.ReportAllocs()
	srv := startBenchServer(b)
	defer srv.stop(b)
	n, i := b.N, 0
	lat := make([]time.Duration, 0, n)
	var ts time.Time
	done := make(chan error, 1)
	cli := startBenchClient(b, srv.port, "BenchCall", H{
		"go": func(e *poe.Event) any {
			ts = time.Now()
			if _, err := ikc.Call(e.Kernel, "poe://BenchSrv/bench/echo", "poe:reply", i); err != nil {
				done <- err
			}
			return nil
		},
		"reply": func(e *poe.Event) any {
			lat = append(lat, time.Since(ts))
			if e.Arg(poe.ARG0) != int64(i) {
				done <- fmt.Errorf("reply %#v to %d", e.Arg(poe.ARG0), i)
				return nil
			}
			if i++; i < n {
				e.Kernel.Yield("go")
			} else {
				done <- nil
			}
			return nil
		},
	})
	defer cli.stop(b)
	b.ResetTimer()
	t0 := time.Now()
	cli.k.PostFromGoroutine("driver", "go")
	select {
	case err := <-done:
		if err != nil {
			b.Fatal(err)
		}
	case <-time.After(ikcWait):
		b.Fatalf("%d of %d round trips", i, n)
	}
	dt := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(n)/dt.Seconds(), "roundtrips/s")
	reportLatency(b, lat)
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkIKCClientLite: sequential ClientLite PostRespond round trips to
// bench/respond, which answers with IKC post to the rsvp (ikc_lite.pl
// respond). One op = one round trip.
func BenchmarkIKCClientLite(b *testing.B) {
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
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	t0 := time.Now()
	for i := range b.N {
		ts := time.Now()
		r, err := l.PostRespond(ctx, "bench/respond", i)
		if err != nil || r != int64(i) {
			b.Fatalf("post_respond %d: %#v, %v", i, r, err)
		}
		lat = append(lat, time.Since(ts))
	}
	dt := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/dt.Seconds(), "roundtrips/s")
	reportLatency(b, lat)
}

// BenchmarkIKCConnect: sequential connect + negotiate + close, with a
// ClientLite (clientlite.Dial, Disconnect) and with a Client kernel (NewClient,
// on_connect, channel shutdown), in both dialects (ikc_client.pl and
// ikc_lite.pl connect). One op = one connection.
//
// The IKC0 cases run twice: with the process's GOMAXPROCS, and with
// GOMAXPROCS=1 (suffix _procs1), where the client and the server kernel
// share one thread as each Perl process has one. Each hand-off between
// them is then a goroutine switch rather than a wake-up of the other
// vCPU, which on a small virtual machine costs tens of microseconds
// (docs/design.md, "Wake-up latency").
func BenchmarkIKCConnect(b *testing.B) {
	for _, proto := range []string{"IKC0", "IKC"} {
		procs := []int{0}
		if proto == "IKC0" {
			procs = append(procs, 1)
		}
		for _, p := range procs {
			suffix := ""
			if p > 0 {
				suffix = fmt.Sprintf("_procs%d", p)
			}
			b.Run("lite_"+strings.ToLower(proto)+suffix, func(b *testing.B) {
				defer withProcs(p)()
				benchConnectLite(b, proto)
			})
			b.Run("client_"+strings.ToLower(proto)+suffix, func(b *testing.B) {
				defer withProcs(p)()
				benchConnectClient(b, proto)
			})
		}
	}
}

// withProcs sets GOMAXPROCS to n (0: leaves it) and returns the undo.
func withProcs(n int) func() {
	if n <= 0 {
		return func() {}
	}
	old := runtime.GOMAXPROCS(n)
	return func() { runtime.GOMAXPROCS(old) }
}

func benchConnectLite(b *testing.B, proto string) {
	b.ReportAllocs()
	srv := startBenchServer(b)
	defer srv.stop(b)
	ctx, cancel := context.WithTimeout(context.Background(), ikcWait)
	defer cancel()
	b.ResetTimer()
	t0 := time.Now()
	for i := range b.N {
		l, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: srv.port,
			Name: "BenchLiteConn-" + strconv.Itoa(i), Protocol: proto})
		if err != nil {
			b.Fatal(err)
		}
		l.Disconnect()
	}
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "conns/s")
}

// The Client kernel's loop is driven from inside the kernel, as
// ikc_client.pl connect does: a driver session dials, the client's
// on_connect posts "up" to it, and "up" shuts the channel down and dials
// again. A Client kernel announces its kernel ID on every connection and
// the Go server refuses a second registration of an ID while the first is
// registered (docs/ikc-protocol.md §16 #2; Perl's accepts it); the server reads the old
// connection's end before the new one's negotiation, so each dial finds
// the ID free, and a refusal would fail the benchmark.
func benchConnectClient(b *testing.B, proto string) {
	b.ReportAllocs()
	srv := startBenchServer(b)
	defer srv.stop(b)
	cli := startIKCKernel(b, func(*poe.Kernel) {})
	defer cli.stop(b)
	done := make(chan error, 1)
	var t0 time.Time
	n := b.N
	cli.do(b, func(k *poe.Kernel) {
		k.Create(poe.Spec{Inline: H{
			"_start": func(e *poe.Event) any {
				e.Kernel.AliasSet("driver")
				t0 = time.Now()
				e.Kernel.Yield("dial")
				return nil
			},
			"dial": func(e *poe.Event) any {
				i := e.Int(poe.ARG0)
				var c *ikc.Client
				var err error
				c, err = ikc.NewClient(k, ikc.ClientOptions{
					Host: "127.0.0.1", Port: srv.port, Protocol: proto,
					Name:      "BenchConn-" + strconv.Itoa(i),
					OnConnect: func() { k.Post("driver", "up", c.Channel(), i) },
					OnError: func(op string, errno int, text string) {
						done <- fmt.Errorf("connection %d: %s: %s", i, op, text)
					},
				})
				if err != nil {
					done <- err
				}
				return nil
			},
			"up": func(e *poe.Event) any {
				e.Kernel.Call(e.Arg(poe.ARG0), "shutdown")
				if i := e.Int(poe.ARG1) + 1; i < n {
					e.Kernel.Yield("dial", i)
				} else {
					e.Kernel.AliasRemove("driver")
					done <- nil
				}
				return nil
			},
		}})
	})
	b.ResetTimer()
	select {
	case err := <-done:
		if err != nil {
			b.Fatal(err)
		}
	case <-time.After(ikcWait + time.Duration(n)*time.Millisecond):
		b.Fatal("connections not done in time")
	}
	b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "conns/s")
}

// buildIKCServer compiles examples/ikc-server into dir.
func buildIKCServer(dir string) (string, error) {
	bin := filepath.Join(dir, "ikc-server")
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/ikc-server").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ikc-server: %v\n%s", err, out)
	}
	return bin, nil
}

// BenchmarkIKCIdle: the resident memory of examples/ikc-server (a Go IKC
// server in its own process, kernel Demo) after one ClientLite call
// (idle-KiB, VmRSS; compare with the Perl server's VmHWM), then the growth
// per idle ClientLite connection over 1,000 connections (B/conn) and the
// peak (peak-KiB, VmHWM).
func BenchmarkIKCIdle(b *testing.B) {
	const conns = 1000
	bin, err := buildIKCServer(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		idle, perConn, peak := ikcIdle(b, bin, conns)
		b.ReportMetric(idle/1024, "idle-KiB")
		b.ReportMetric(perConn, "B/conn")
		b.ReportMetric(peak/1024, "peak-KiB")
	}
}

func ikcIdle(b *testing.B, bin string, conns int) (idle, perConn, peak float64) {
	cmd := exec.Command(bin, "-port", "0")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	ports := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				n, _ := strconv.Atoi(p)
				ports <- n
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var port int
	select {
	case port = <-ports:
	case <-time.After(ikcWait):
		b.Fatal("ikc-server printed no ready line")
	}
	ctx, cancel := context.WithTimeout(context.Background(), ikcWait)
	defer cancel()
	dial := func(i int) *clientlite.Client {
		l, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: port, Name: "Idle-" + strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Call(ctx, "demo/add", []int{1, 2}); err != nil {
			b.Fatal(err)
		}
		return l
	}
	warm := dial(-1)
	time.Sleep(200 * time.Millisecond)
	before := rssBytes(b, cmd.Process.Pid)
	ls := make([]*clientlite.Client, 0, conns)
	for i := range conns {
		ls = append(ls, dial(i))
	}
	time.Sleep(200 * time.Millisecond)
	after := rssBytes(b, cmd.Process.Pid)
	hwm := procStatus(b, cmd.Process.Pid, "VmHWM:")
	for _, l := range ls {
		l.Disconnect()
	}
	warm.Disconnect()
	return float64(before), float64(after-before) / float64(conns), float64(hwm)
}

// procStatus reads a kB field of /proc/PID/status, in bytes.
func procStatus(tb testing.TB, pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		if runtime.GOOS != "linux" {
			tb.Skip("the memory of another process is read from /proc/PID/status: unavailable on", runtime.GOOS)
		}
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	tb.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
