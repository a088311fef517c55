package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"github.com/poe-go/poe/wheel/driver"
	"github.com/poe-go/poe/wheel/filter"
	"golang.org/x/sys/unix"
)

// The ladder from gnet-line to the tuned POE echo: each rung adds one of
// the things POE's ReadWrite does per line, on the same kernel, reactor
// and driver, so that BenchmarkEchoPipelined shows what each step costs.
//
//	poe-loop    a select-read handler per read, lines split and echoed in
//	            it with one write per read: gnet-line's code on our kernel
//	poe-filter  lines as records of the Line filter (GetOne per line) and
//	            echoed through its AppendPut, still in one handler per read
//	poe-call    a call per record into the session's "line" handler (a
//	            BoundCall), which echoes it: what ReadWrite does, without
//	            the wheel
//
// The next rung is "poe", the tuned server on ReadWrite itself.
var echoRungs = []echoPeer{
	{"poe-loop", func(tb testing.TB) (string, func()) { return startLadderEcho(tb, rungLoop) }},
	{"poe-filter", func(tb testing.TB) (string, func()) { return startLadderEcho(tb, rungFilter) }},
	{"poe-call", func(tb testing.TB) (string, func()) { return startLadderEcho(tb, rungCall) }},
}

const (
	rungLoop = iota
	rungFilter
	rungCall
)

type ladderConn struct {
	fd   int
	drv  *driver.SysRW
	f    *filter.Line
	tail []byte // rungLoop: a partial line left by the last read
	// armed: the write watcher is resumed (output is left over).
	armed bool
}

type ladderHeap struct {
	rung     int
	listener *wheel.SocketFactory
	conns    map[int]*ladderConn
	cur      *ladderConn // the connection being read (rungCall's handler)
	line     *poe.BoundCall
	addr     chan string
}

// flush writes what the socket takes and leaves the rest to the write
// watcher.
func (c *ladderConn) flush(k *poe.Kernel) error {
	left, err := c.drv.Flush(c.fd)
	switch {
	case err != nil:
		return err
	case left > 0 && !c.armed:
		c.armed = true
		k.SelectResumeWrite(c.fd)
	case left == 0 && c.armed:
		c.armed = false
		k.SelectPauseWrite(c.fd)
	}
	return nil
}

func (h *ladderHeap) close(k *poe.Kernel, c *ladderConn) {
	k.Select(c.fd, "", "", "")
	c.drv.Discard()
	unix.Close(c.fd)
	delete(h.conns, c.fd)
}

func startLadderEcho(tb testing.TB, rung int) (string, func()) {
	k := poe.NewKernel(nil)
	h := &ladderHeap{rung: rung, conns: map[int]*ladderConn{}, addr: make(chan string, 1)}
	_, err := k.Create(poe.Spec{Heap: h, Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.AliasSet("echo")
			h.line = e.Kernel.BindCall(e.Session, "line")
			h.listener = listenEcho(tb, e.Kernel, h.addr)
			return nil
		},
		"accepted": func(e *poe.Event) any {
			fd := e.Int(poe.ARG0)
			drv, _ := driver.NewSysRW(driver.SysRWOptions{})
			c := &ladderConn{fd: fd, drv: drv, f: filter.MustLine(filter.LineOptions{Bytes: true})}
			if err := unix.SetNonblock(fd, true); err != nil {
				tb.Error(err)
				unix.Close(fd)
				return nil
			}
			h.conns[fd] = c
			e.Kernel.SelectRead(fd, "rd")
			e.Kernel.SelectWrite(fd, "wr")
			e.Kernel.SelectPauseWrite(fd)
			return nil
		},
		"rd": func(e *poe.Event) any {
			c := h.conns[e.Int(poe.ARG0)]
			if c == nil {
				return nil
			}
			data, err := c.drv.Get(c.fd)
			if err != nil {
				h.close(e.Kernel, c)
				return nil
			}
			if len(data) == 0 {
				return nil
			}
			switch h.rung {
			case rungLoop:
				if len(c.tail) > 0 {
					c.tail = append(c.tail, data...)
					data = c.tail
				}
				out, used := c.drv.OutBuffer(), 0
				for {
					i := bytes.IndexByte(data[used:], '\n')
					if i < 0 {
						break
					}
					out = append(out, data[used:used+i+1]...)
					used += i + 1
				}
				c.drv.CommitChunk(out)
				c.tail = append(c.tail[:0], data[used:]...)
			case rungFilter, rungCall:
				c.f.GetOneStartBytes(data)
				h.cur = c
				for {
					recs, err := c.f.GetOne()
					if err != nil || len(recs) == 0 {
						break
					}
					if h.rung == rungCall {
						h.line.Call(recs[0], c.fd)
						continue
					}
					buf, _ := c.f.AppendPut(c.drv.OutBuffer(), recs[0])
					c.drv.CommitChunk(buf)
				}
				h.cur = nil
			}
			if c.flush(e.Kernel) != nil {
				h.close(e.Kernel, c)
			}
			return nil
		},
		"line": func(e *poe.Event) any {
			c := h.cur
			buf, _ := c.f.AppendPut(c.drv.OutBuffer(), e.Arg(poe.ARG0))
			c.drv.CommitChunk(buf)
			return nil
		},
		"wr": func(e *poe.Event) any {
			if c := h.conns[e.Int(poe.ARG0)]; c != nil && c.flush(e.Kernel) != nil {
				h.close(e.Kernel, c)
			}
			return nil
		},
		"listen_failed": func(e *poe.Event) any {
			tb.Errorf("listen failed: %v", e.Args)
			return nil
		},
		"shutdown": func(e *poe.Event) any {
			h.listener.Close()
			for _, c := range h.conns {
				h.close(e.Kernel, c)
			}
			e.Kernel.AliasRemove("echo")
			return nil
		},
	}})
	if err != nil {
		tb.Fatal(err)
	}
	return runEcho(tb, k, h.addr, "echo")
}

// Every echo server of BenchmarkEchoPipelined, the rungs included, gives
// back exactly the lines it was sent, over several connections and with
// lines split across writes.
func TestEchoServersEcho(t *testing.T) {
	for _, s := range append(echoServers[:len(echoServers):len(echoServers)], echoRungs...) {
		t.Run(s.name, func(t *testing.T) {
			addr, stop := s.start(t)
			defer stop()
			var want bytes.Buffer
			for i := 0; i < 300; i++ {
				fmt.Fprintf(&want, "line %d of the test\r\n", i)
			}
			errs := make(chan error, 3)
			for c := 0; c < 3; c++ {
				go func() { errs <- echoCheck(addr, want.Bytes()) }()
			}
			for c := 0; c < 3; c++ {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// echoCheck sends want in pieces of 7 octets, then the rest at once, and
// reads until as many lines came back; they must be want's. An empty line
// is skipped: the default Line filter yields one where a CR LF is split
// across two reads (POE's quirk, kept on purpose).
func echoCheck(addr string, want []byte) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		half := len(want) / 2
		for i := 0; i < half; i += 7 {
			c.Write(want[i:min(i+7, half)])
		}
		c.Write(want[half:])
	}()
	r := bufio.NewReader(c)
	var got []byte
	for n := bytes.Count(want, []byte{'\n'}); n > 0; {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("%s: after %q: %w", addr, got, err)
		}
		if string(line) != "\r\n" {
			got = append(got, line...)
			n--
		}
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%s: echoed %q, want %q", addr, got, want)
	}
	return nil
}
