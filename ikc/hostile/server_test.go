package hostile

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc"
	"github.com/poe-go/poe/poe"
	"golang.org/x/sys/unix"
)

// Environment of the child server.
const (
	envServer  = "HOSTILE_CHILD"     // set: this process is the server
	envMonitor = "HOSTILE_MONITOR"   // set: an error monitor counts refusals
	envNoFile  = "HOSTILE_NOFILE"    // the child's RLIMIT_NOFILE
	envOpts    = "HOSTILE_OPTS"      // serverOptions' knobs (see options_test.go)
	envReport  = "HOSTILE_REPORT"    // set: print the table rows
	envMeasure = "HOSTILE_MEASURE"   // set: measure only, assert nothing
	envLog     = "HOSTILE_LOG_LEVEL" // the child's slog level (default INFO)
)

func TestMain(m *testing.M) {
	if os.Getenv(envServer) != "" {
		os.Exit(serveChild())
	}
	code := m.Run()
	if os.Getenv(envReport) != "" {
		printReport(os.Stdout)
	}
	os.Exit(code)
}

// demo is the child's application: examples/ikc-server's states, plus
// stats for the tests.
type demo struct {
	k      *poe.Kernel
	srv    *ikc.Server
	hits   int64
	errors int64
}

// serveChild runs the IKC server "Demo" on 127.0.0.1 until stdin closes.
func serveChild() int {
	if n, err := strconv.Atoi(os.Getenv(envNoFile)); err == nil {
		var lim unix.Rlimit
		setRlim(&lim.Cur, n)
		setRlim(&lim.Max, n)
		unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	}
	lvl := slog.LevelInfo
	if os.Getenv(envLog) != "" {
		lvl.UnmarshalText([]byte(os.Getenv(envLog)))
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	k := poe.NewKernel(nil)
	d := &demo{k: k}
	_, err := k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.AliasSet("demo")
			ro := responderOptions(ikc.ResponderOptions{Logger: log})
			if _, err := ikc.Spawn(e.Kernel, &ro); err != nil {
				fmt.Fprintln(os.Stderr, "responder:", err)
				os.Exit(2)
			}
			opts := serverOptions(ikc.ServerOptions{
				IP: "127.0.0.1", Port: ikc.EphemeralPort, Name: "Demo", Logger: log,
				Serializers: []string{"Storable", "YAML", "FreezeThaw"},
			})
			if v, ok := knob("negotiation"); ok {
				opts.NegotiationTimeout, _ = time.ParseDuration(v)
			}
			s, err := ikc.NewServer(e.Kernel, opts)
			if err != nil {
				fmt.Fprintln(os.Stderr, "server:", err)
				os.Exit(2)
			}
			d.srv = s
			if to, ok := tlsOptions(opts); ok {
				ts, err := ikc.NewServer(e.Kernel, to)
				if err != nil {
					fmt.Fprintln(os.Stderr, "TLS server:", err)
					os.Exit(2)
				}
				fmt.Printf("tls %d\n", ts.Port())
			}
			ikc.Publish(e.Kernel, e.Session, "echo", "hit", "count", "stats")
			if os.Getenv(envMonitor) != "" {
				ikc.Monitor(e.Kernel, "*", map[string]string{"error": "error"}, nil)
			}
			fmt.Printf("ready %d\n", s.Port())
			return nil
		},
		"echo":  func(e *poe.Event) any { return e.Arg(poe.ARG0) },
		"hit":   func(e *poe.Event) any { d.hits++; return nil },
		"count": func(e *poe.Event) any { return d.hits },
		"error": func(e *poe.Event) any { d.errors++; return nil },
		"stats": func(e *poe.Event) any { return d.stats() },
		"quit": func(e *poe.Event) any {
			ikc.Shutdown(e.Kernel)
			e.Kernel.AliasRemove("demo")
			return nil
		},
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	go func() {
		io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		k.PostFromGoroutine("demo", "quit")
	}()
	if err := k.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// stats is what the tests read from the child: the live heap after a
// collection, the application's counters, and the number of sessions.
func (d *demo) stats() map[string]any {
	m := map[string]any{
		"heap":     int64(liveHeap()),
		"hits":     d.hits,
		"errors":   d.errors,
		"sessions": int64(len(d.k.Peek().Sessions)),
	}
	extraStats(d.k, m)
	return m
}

// knob returns a setting of HOSTILE_OPTS ("name=value,name=value").
func knob(name string) (string, bool) {
	for _, kv := range strings.Split(os.Getenv(envOpts), ",") {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// setRlim sets an rlimit field: int64 on FreeBSD, uint64 elsewhere.
func setRlim[T ~int64 | ~uint64](p *T, v int) { *p = T(v) }
