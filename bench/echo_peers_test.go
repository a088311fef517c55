package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"slices"
	"testing"

	"github.com/panjf2000/gnet/v2"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
)

// The line servers a Go user would write instead, and the POE server as a
// porter writes it. Raw byte echo (gnet, evio, net above) frames nothing;
// these split lines, which every line protocol does.
func init() {
	at := func(name string) int {
		return slices.IndexFunc(echoServers, func(e echoPeer) bool { return e.name == name })
	}
	echoServers = slices.Insert(echoServers, at("poe")+1, echoPeer{"poe-idiom", startPOEIdiomEcho})
	echoServers = slices.Insert(echoServers, at("gnet"), echoPeer{"gnet-line", startGnetLineEcho})
	echoServers = slices.Insert(echoServers, at("net")+1, echoPeer{"net-bufio", startNetBufioEcho})
}

// gnetLine is what a gnet user writes for a line protocol: on each read,
// take every complete line, handle it (here: echo it into one output
// buffer), keep the partial tail for the next read, and write once.
type gnetLine struct {
	gnetBoot
	out []byte
}

func (g *gnetLine) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Peek(-1)
	out := g.out[:0]
	used := 0
	for {
		i := bytes.IndexByte(buf[used:], '\n')
		if i < 0 {
			break
		}
		line := buf[used : used+i+1]
		out = append(out, line...)
		used += i + 1
	}
	if used > 0 {
		c.Discard(used) // Discard(0) would drop everything, the partial line too
	}
	if len(out) > 0 {
		c.Write(out)
	}
	g.out = out
	return gnet.None
}

func startGnetLineEcho(tb testing.TB) (string, func()) {
	g := &gnetLine{}
	return runGnet(tb, g, &g.gnetBoot)
}

// startNetBufioEcho is the classic Go line server: a goroutine per
// connection, bufio on both sides, a flush when no more input is
// buffered.
func startNetBufioEcho(tb testing.TB) (string, func()) {
	return serveNet(tb, func(c net.Conn) {
		r, w := bufio.NewReader(c), bufio.NewWriter(c)
		for {
			line, err := r.ReadSlice('\n')
			if len(line) > 0 {
				w.Write(line)
			}
			if err != nil {
				w.Flush()
				return
			}
			if r.Buffered() == 0 && w.Flush() != nil {
				return
			}
		}
	})
}

// The POE echo server as examples/echo writes it, as a porter would: a
// listening session whose SocketFactory starts a session per connection,
// object states, the default Line filter, string lines.
type idiomListener struct {
	factory *wheel.SocketFactory
	addr    chan string
}

func (l *idiomListener) Start(e *poe.Event) any {
	e.Kernel.AliasSet("echo_server")
	var err error
	l.factory, err = wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{
		BindAddress: "127.0.0.1", Reuse: true, ListenQueue: 1024,
		SuccessEvent: "accepted", FailureEvent: "failed",
	})
	if err != nil {
		l.addr <- ""
		return nil
	}
	l.addr <- fmt.Sprintf("127.0.0.1:%d", l.factory.Port())
	return nil
}

func (l *idiomListener) Accepted(e *poe.Event) any {
	e.Kernel.Create(poe.Spec{
		Objects: []poe.States{poe.Object(&idiomConn{}, "_start", "input", "error")},
		Args:    []any{e.Arg(poe.ARG0)},
	})
	return nil
}

func (l *idiomListener) Failed(e *poe.Event) any { l.factory.Close(); return nil }

func (l *idiomListener) Shutdown(e *poe.Event) any {
	l.factory.Close()
	e.Kernel.AliasRemove("echo_server") // connections end as their clients leave
	return nil
}

type idiomConn struct{ rw *wheel.ReadWrite }

func (c *idiomConn) Start(e *poe.Event) any {
	c.rw, _ = wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{
		Handle: e.Arg(poe.ARG0), InputEvent: "input", ErrorEvent: "error",
	})
	return nil
}

func (c *idiomConn) Input(e *poe.Event) any { c.rw.Put(e.Arg(poe.ARG0)); return nil }

func (c *idiomConn) Error(e *poe.Event) any {
	if c.rw != nil {
		c.rw.Close()
		c.rw = nil
	}
	return nil
}

func startPOEIdiomEcho(tb testing.TB) (string, func()) {
	k := poe.NewKernel(nil)
	l := &idiomListener{addr: make(chan string, 1)}
	if _, err := k.Create(poe.Spec{Objects: []poe.States{
		poe.Object(l, "_start", "accepted", "failed", "shutdown"),
	}}); err != nil {
		tb.Fatal(err)
	}
	return runEcho(tb, k, l.addr, "echo_server")
}

// BenchmarkChannelPingPong is what a Go programmer writes instead of two
// sessions posting to each other: two goroutines on unbuffered channels.
// One op is one message, as in BenchmarkPostPingPong.
func BenchmarkChannelPingPong(b *testing.B) {
	b.ReportAllocs()
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	b.ResetTimer()
	v := 0
	for i := 0; i < b.N; i += 2 {
		ping <- v
		v = <-pong
	}
	close(ping)
	<-pong
}

// gnetQuiet keeps gnet's start-up notice out of the benchmark output, where
// it would split a result line; errors still go to stderr.
type gnetQuiet struct{}

func (gnetQuiet) Debugf(string, ...any)     {}
func (gnetQuiet) Infof(string, ...any)      {}
func (gnetQuiet) Warnf(f string, a ...any)  { fmt.Fprintf(os.Stderr, "gnet: "+f+"\n", a...) }
func (gnetQuiet) Errorf(f string, a ...any) { fmt.Fprintf(os.Stderr, "gnet: "+f+"\n", a...) }
func (gnetQuiet) Fatalf(f string, a ...any) { fmt.Fprintf(os.Stderr, "gnet: "+f+"\n", a...) }
