package bench

import (
	"fmt"
	"testing"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"github.com/poe-go/poe/wheel/filter"
)

const poeEchoReady = true

// startPOEEcho runs the line echo server of perl/echo_server.pl
// on our wheels: one session, a SocketFactory listener, one
// ReadWrite wheel per connection with a Line filter (byte records, so an
// echoed line allocates nothing), kept in a map by wheel ID. Output goes
// from the Line filter straight into the driver's queue
// (filter.PutAppender, driver.Appender); the wheels' input and output
// buffers come from pools and go back when they empty.
func startPOEEcho(tb testing.TB) (string, func()) {
	type heap struct {
		listener *wheel.SocketFactory
		conns    map[int]*wheel.ReadWrite
		// The wheel of the last line: a read holds many lines of one
		// connection, so this spares a map lookup per line.
		lastID int
		last   *wheel.ReadWrite
	}
	k := poe.NewKernel(nil)
	addr := make(chan string, 1)
	_, err := k.Create(poe.Spec{Heap: &heap{conns: map[int]*wheel.ReadWrite{}}, Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.AliasSet("echo")
			e.Heap.(*heap).listener = listenEcho(tb, e.Kernel, addr)
			return nil
		},
		"accepted": func(e *poe.Event) any {
			h := e.Heap.(*heap)
			f, _ := filter.NewLine(filter.LineOptions{Bytes: true})
			rw, err := wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{
				Handle: e.Args[poe.ARG0], Filter: f,
				InputEvent: "got_line", ErrorEvent: "conn_error",
			})
			if err != nil {
				tb.Error(err)
				return nil
			}
			h.conns[rw.ID()] = rw
			return nil
		},
		"got_line": func(e *poe.Event) any {
			h := e.Heap.(*heap)
			id, _ := e.Args[poe.ARG1].(int)
			if id != h.lastID || h.last == nil {
				h.lastID, h.last = id, h.conns[id]
			}
			if h.last != nil {
				h.last.Put(e.Args[poe.ARG0])
			}
			return nil
		},
		"conn_error": func(e *poe.Event) any {
			h := e.Heap.(*heap)
			id := e.Int(poe.ARG3)
			if rw := h.conns[id]; rw != nil {
				rw.Close()
				delete(h.conns, id)
			}
			if id == h.lastID {
				h.last = nil
			}
			return nil
		},
		"listen_failed": func(e *poe.Event) any {
			tb.Errorf("listen failed: %v", e.Args)
			return nil
		},
		"shutdown": func(e *poe.Event) any {
			h := e.Heap.(*heap)
			h.listener.Close()
			for id, rw := range h.conns {
				rw.Close()
				delete(h.conns, id)
			}
			h.last = nil
			e.Kernel.AliasRemove("echo")
			return nil
		},
	}})
	if err != nil {
		tb.Fatal(err)
	}
	return runEcho(tb, k, addr, "echo")
}

// listenEcho makes an echo server's listener (its events "accepted" and
// "listen_failed") in the active session and sends its address on addr,
// or "" when it cannot listen.
func listenEcho(tb testing.TB, k *poe.Kernel, addr chan<- string) *wheel.SocketFactory {
	l, err := wheel.NewSocketFactory(k, wheel.SocketFactoryOptions{
		BindAddress: "127.0.0.1", Reuse: true, ListenQueue: 1024,
		SuccessEvent: "accepted", FailureEvent: "listen_failed",
	})
	if err != nil {
		tb.Error(err)
		addr <- ""
		return nil
	}
	addr <- fmt.Sprintf("127.0.0.1:%d", l.Port())
	return l
}

// runEcho runs an echo server's kernel on a goroutine of its own: the
// address comes from addr, and stop posts "shutdown" to alias and waits
// for the kernel to end.
func runEcho(tb testing.TB, k *poe.Kernel, addr <-chan string, alias string) (string, func()) {
	done := make(chan error, 1)
	go func() { done <- k.Run() }()
	a := <-addr
	if a == "" {
		tb.Fatal("the echo server cannot listen")
	}
	return a, func() {
		k.PostFromGoroutine(alias, "shutdown")
		if err := <-done; err != nil {
			tb.Error(err)
		}
	}
}
