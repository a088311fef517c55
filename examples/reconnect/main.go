// Command reconnect is a client that stays connected, on
// POE::Component::Client::TCP (component/clienttcp): it prints what the
// server sends, and when the connection fails or drops it reconnects after
// a delay that doubles up to a limit, as POE programs do with a delayed
// "reconnect" from their ConnectError and Disconnected callbacks. It gives
// up after -retries failures in a row (status 1), or ends after -lines
// lines (status 0).
//
//	go run ./examples/reconnect -to 127.0.0.1:12345 -hello hi
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/poe-go/poe/component/clienttcp"
	"github.com/poe-go/poe/poe"
)

// config is what the flags say.
type config struct {
	host     string
	port     int
	hello    string        // sent on each connection ("" for nothing)
	delay    time.Duration // first reconnection delay
	maxDelay time.Duration
	retries  int // failures in a row before giving up; 0: never
	lines    int // lines to receive before ending; 0: no limit
	timeout  time.Duration
}

// state is the client's Data.
type state struct {
	cfg      config
	out      io.Writer
	failures int
	wait     time.Duration
	received int
	err      error
}

// retry schedules a reconnection, or gives up.
func (s *state) retry(e *poe.Event, why string) {
	s.failures++
	if s.cfg.retries > 0 && s.failures >= s.cfg.retries {
		s.err = fmt.Errorf("giving up after %d failures in a row: %s", s.failures, why)
		e.Kernel.Yield("shutdown")
		return
	}
	slog.Info("reconnecting", "in", s.wait, "after", why)
	e.Kernel.Delay("reconnect", s.wait)
	s.wait = min(2*s.wait, s.cfg.maxDelay)
}

func run(cfg config, out io.Writer) error {
	k := poe.NewKernel(nil)
	s := &state{cfg: cfg, out: out, wait: cfg.delay}
	_, err := clienttcp.New(k, clienttcp.Options{
		RemoteAddress: cfg.host, RemotePort: cfg.port, ConnectTimeout: cfg.timeout,
		Data: s,
		Connected: func(e *poe.Event) any {
			c := clienttcp.From(e)
			slog.Info("connected", "to", net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)))
			s.failures, s.wait = 0, cfg.delay
			if cfg.hello != "" {
				c.Server.Put(cfg.hello)
			}
			return nil
		},
		ConnectError: func(e *poe.Event) any {
			s.retry(e, fmt.Sprintf("%s: %s", e.String(poe.ARG0), e.String(poe.ARG2)))
			return nil
		},
		ServerInput: func(e *poe.Event) any {
			fmt.Fprintln(s.out, e.String(poe.ARG0))
			s.received++
			if cfg.lines > 0 && s.received >= cfg.lines {
				s.failures = -1 // done: no reconnection
				e.Kernel.Yield("shutdown")
			}
			return nil
		},
		ServerError: func(e *poe.Event) any {
			if e.Int(poe.ARG1) != 0 {
				slog.Warn("connection error", "operation", e.String(poe.ARG0), "error", e.String(poe.ARG2))
			}
			return nil // the component shuts the connection down
		},
		Disconnected: func(e *poe.Event) any {
			if s.failures < 0 || s.err != nil {
				return nil
			}
			s.retry(e, "disconnected")
			return nil
		},
	})
	if err != nil {
		return err
	}
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.Sig("INT", "stop")
			e.Kernel.AliasSet("signals")
			return nil
		},
		"stop": func(e *poe.Event) any {
			e.Kernel.SigHandled()
			e.Kernel.Stop()
			return nil
		},
	}})
	if err := k.Run(); err != nil {
		return err
	}
	return s.err
}

func main() {
	to := flag.String("to", "127.0.0.1:12345", "server address")
	hello := flag.String("hello", "", "line to send on each connection")
	delay := flag.Duration("delay", time.Second, "first reconnection delay (it doubles)")
	maxDelay := flag.Duration("max-delay", 30*time.Second, "longest reconnection delay")
	retries := flag.Int("retries", 0, "give up after this many failures in a row (0: never)")
	lines := flag.Int("lines", 0, "end after this many lines (0: never)")
	timeout := flag.Duration("timeout", 10*time.Second, "connect timeout")
	flag.Parse()
	host, p, err := net.SplitHostPort(*to)
	if err == nil && host == "" {
		err = errors.New("no host")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "reconnect:", err)
		os.Exit(2)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		fmt.Fprintf(os.Stderr, "reconnect: address %s: bad port %q\n", *to, p)
		os.Exit(2)
	}
	if *delay <= 0 || *maxDelay < *delay {
		fmt.Fprintln(os.Stderr, "reconnect: -delay must be positive and at most -max-delay")
		os.Exit(2)
	}
	cfg := config{host: host, port: port, hello: *hello, delay: *delay, maxDelay: *maxDelay,
		retries: *retries, lines: *lines, timeout: *timeout}
	if err := run(cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "reconnect:", err)
		os.Exit(1)
	}
}
