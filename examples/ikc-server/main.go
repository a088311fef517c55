// Command ikc-server is a small IKC server to try IKC clients against
// (Go's ikc-post, Perl's POE::Component::IKC::ClientLite or Client): a
// kernel named "Demo" listening on 127.0.0.1 with a session aliased "demo"
// that publishes four states:
//
//	echo   returns its argument unchanged
//	add    returns the sum of an array of numbers
//	hit    counts the events posted to it
//	count  returns that count
//
// It prints "ready <port>" on stdout once listening and exits with status 0
// on SIGINT or SIGTERM.
//
//	go run ./examples/ikc-server -port 6668
//	go run ./examples/ikc-post -call poe://Demo/demo/add '[1,2,3]'   # 6
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"

	"github.com/poe-go/poe/ikc"
	"github.com/poe-go/poe/poe"
)

// demo is the heap of the "demo" session.
type demo struct {
	host, unix string
	port       int
	out        io.Writer
	hits       int64
	servers    []*ikc.Server
	err        error
}

func (d *demo) Start(e *poe.Event) any {
	k := e.Kernel
	k.AliasSet("demo")
	k.Sig("INT", "shutdown")
	k.Sig("TERM", "shutdown")
	port := d.port
	if port == 0 {
		port = ikc.EphemeralPort
	}
	s, err := ikc.NewServer(k, ikc.ServerOptions{IP: d.host, Port: port, Name: "Demo"})
	if err != nil {
		d.fail(k, err)
		return nil
	}
	d.servers = append(d.servers, s)
	if d.unix != "" {
		u, err := ikc.NewServer(k, ikc.ServerOptions{Unix: d.unix, Name: "Demo"})
		if err != nil {
			d.fail(k, err)
			return nil
		}
		d.servers = append(d.servers, u)
	}
	if err := ikc.Publish(k, e.Session, "echo", "add", "hit", "count"); err != nil {
		d.fail(k, err)
		return nil
	}
	fmt.Fprintf(d.out, "ready %d\n", s.Port())
	return nil
}

// fail records a start-up error and ends the program.
func (d *demo) fail(k *poe.Kernel, err error) {
	d.err = err
	ikc.Shutdown(k)
	k.AliasRemove("demo")
	k.Sig("INT", "")
	k.Sig("TERM", "")
}

// Echo returns ARG0 as it came (a nil ARG0, Perl's undef, sends no reply).
func (d *demo) Echo(e *poe.Event) any { return e.Arg(poe.ARG0) }

// Add sums an array of numbers: an integer while every element is an
// integer, else a float. A single number is its own sum.
func (d *demo) Add(e *poe.Event) any {
	var items []any
	switch a := e.Arg(poe.ARG0).(type) {
	case []any:
		items = a
	default:
		items = []any{a}
	}
	var isum int64
	var fsum float64
	float := false
	for _, x := range items {
		switch v := x.(type) {
		case int64:
			isum += v
			fsum += float64(v)
		case float64:
			float = true
			fsum += v
		case string: // Perl may send numbers as strings
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
					isum += int64(f)
				} else {
					float = true
				}
				fsum += f
			}
		}
	}
	if float {
		return fsum
	}
	return isum
}

func (d *demo) Hit(e *poe.Event) any { d.hits++; return nil }

func (d *demo) Count(e *poe.Event) any { return d.hits }

// Shutdown ends IKC (listeners and connections) and lets the kernel stop.
func (d *demo) Shutdown(e *poe.Event) any {
	slog.Debug("shutting down", "signal", e.String(poe.ARG0))
	e.Kernel.SigHandled()
	ikc.Shutdown(e.Kernel)
	e.Kernel.AliasRemove("demo")
	e.Kernel.Sig("INT", "")
	e.Kernel.Sig("TERM", "")
	return nil
}

// serve runs the server until a signal ends it; "ready <port>" goes to out.
func serve(host string, port int, unix string, out io.Writer) error {
	k := poe.NewKernel(nil)
	d := &demo{host: host, port: port, unix: unix, out: out}
	if _, err := k.Create(poe.Spec{Objects: []poe.States{
		poe.Object(d, "_start", "echo", "add", "hit", "count", "shutdown"),
	}}); err != nil {
		return err
	}
	if err := k.Run(); err != nil {
		return err
	}
	return d.err
}

func main() {
	port := flag.Int("port", 6668, "TCP port on 127.0.0.1 (0 picks one)")
	unix := flag.String("unix", "", "also listen on this Unix socket path")
	flag.Parse()
	if err := serve("127.0.0.1", *port, *unix, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ikc-server:", err)
		os.Exit(1)
	}
}
