package bench

// The seed's server under load: Go ClientLites doing eg/lite-1's
// post_respond("Service/event", {Hi => "There"}) against examples/pulse
// and, when IKC_PERL5LIB points at POE::Component::IKC, against the same
// server in Perl (pulse_server.pl), with 1 process and with 5 (4 workers).

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc/clientlite"
)

// pulseClients is how many ClientLites run at once.
const pulseClients = 4

var pulseBin struct {
	sync.Once
	path string
	err  error
}

// TestMain removes the pulse binary built for the benchmarks.
func TestMain(m *testing.M) {
	code := m.Run()
	if pulseBin.path != "" {
		os.RemoveAll(filepath.Dir(pulseBin.path))
	}
	os.Exit(code)
}

func buildPulse(b *testing.B) string {
	pulseBin.Do(func() {
		dir, err := os.MkdirTemp("", "pulse-bench")
		if err != nil {
			pulseBin.err = err
			return
		}
		pulseBin.path = filepath.Join(dir, "pulse")
		if out, err := exec.Command("go", "build", "-o", pulseBin.path, "../examples/pulse").CombinedOutput(); err != nil {
			pulseBin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if pulseBin.err != nil {
		b.Fatal(pulseBin.err)
	}
	return pulseBin.path
}

// startPulseServer runs the Go or the Perl server and waits until it
// answers.
func startPulseServer(b *testing.B, lang string, processes, connections int) (port int, stop func()) {
	_, ps, _ := net.SplitHostPort(freePort(b))
	port, _ = strconv.Atoi(ps)
	var cmd *exec.Cmd
	switch lang {
	case "go":
		cmd = exec.Command(buildPulse(b), "-ip", "127.0.0.1", "-port", strconv.Itoa(port), "-quiet",
			"-processes", strconv.Itoa(processes), "-connections", strconv.Itoa(connections))
	case "perl":
		lib := os.Getenv("IKC_PERL5LIB")
		if lib == "" {
			b.Skip("IKC_PERL5LIB not set: no Perl POE::Component::IKC to compare with")
		}
		cmd = exec.Command("perl", "-I"+lib, "pulse_server.pl", strconv.Itoa(port), strconv.Itoa(processes), strconv.Itoa(connections))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
		}
	}()
	stop = func() {
		// The whole group: Perl's parent leaves its children running.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := pulseHello(ctx, port, "Probe")
		cancel()
		if err == nil {
			return port, stop
		}
		if time.Now().After(deadline) {
			stop()
			b.Fatalf("%s pulse does not answer: %v", lang, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func pulseHello(ctx context.Context, port int, name string) (any, error) {
	l, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: port, Name: name})
	if err != nil {
		return nil, err
	}
	defer l.Disconnect()
	return l.PostRespond(ctx, "Service/event", map[string]any{"Hi": "There"})
}

// BenchmarkPulse: pulseClients ClientLites, each on its own connection,
// share b.N post_respond round trips to Service/event. One op = one
// round trip; requests/s and the latency percentiles are reported.
// Sub-benchmark connect: each request on a new connection (eg/lite-1 run
// again and again), which makes 5-process servers recycle workers
// (connections 3).
func BenchmarkPulse(b *testing.B) {
	for _, lang := range []string{"go", "perl"} {
		for _, procs := range []int{1, 5} {
			for _, mode := range []string{"persistent", "connect"} {
				b.Run(fmt.Sprintf("%s/processes=%d/%s", lang, procs, mode), func(b *testing.B) {
					benchPulse(b, lang, procs, mode == "connect")
				})
			}
		}
	}
}

func benchPulse(b *testing.B, lang string, procs int, connect bool) {
	b.ReportAllocs()
	conns := 1000000 // persistent: a worker keeps its connections
	if connect {
		conns = 3
	}
	port, stop := startPulseServer(b, lang, procs, conns)
	defer stop()
	want := map[string]any{"hello": "There"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	lats := make([][]time.Duration, pulseClients)
	errs := make(chan error, pulseClients)
	var wg sync.WaitGroup
	var retries atomic.Int64
	b.ResetTimer()
	t0 := time.Now()
	for c := 0; c < pulseClients; c++ {
		n := b.N / pulseClients
		if c < b.N%pulseClients {
			n++
		}
		wg.Add(1)
		go func(c, n int) {
			defer wg.Done()
			name := fmt.Sprintf("Bench%dClient", c)
			var l *clientlite.Client
			lat := make([]time.Duration, 0, n)
			for i := 0; i < n; i++ {
				ts := time.Now()
				var got any
				var err error
				if connect {
					got, err = pulseHello(ctx, port, name)
					// Perl 0.2402 workers drop connections they accepted
					// as they retire; count and retry (a few times).
					for try := 0; err != nil && try < 5; try++ {
						retries.Add(1)
						got, err = pulseHello(ctx, port, name)
					}
				} else {
					if l == nil {
						if l, err = clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: port, Name: name}); err != nil {
							errs <- err
							return
						}
						defer l.Disconnect()
					}
					got, err = l.PostRespond(ctx, "Service/event", map[string]any{"Hi": "There"})
				}
				if err != nil || !reflect.DeepEqual(got, want) {
					errs <- fmt.Errorf("client %d request %d: %#v, %v", c, i, got, err)
					return
				}
				lat = append(lat, time.Since(ts))
			}
			lats[c] = lat
		}(c, n)
	}
	wg.Wait()
	dt := time.Since(t0)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	b.ReportMetric(float64(b.N)/dt.Seconds(), "requests/s")
	if connect {
		b.ReportMetric(float64(retries.Load()), "retries")
	}
	if len(all) > 0 {
		reportLatency(b, all)
	}
}
