package wheel_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"golang.org/x/sys/unix"
)

// pairScenario runs one session with a listening SocketFactory (TCP on
// 127.0.0.1 or a Unix socket in a temp dir) and a connecting one; when
// both ends are connected it calls ready(e, server, client) with raw fds.
func pairScenario(t *testing.T, unixDomain bool, ready func(e *poe.Event, srv, cli int), h map[string]poe.Handler) {
	t.Helper()
	o := wheel.SocketFactoryOptions{BindAddress: "127.0.0.1", SuccessEvent: "_acc", FailureEvent: "_fail"}
	if unixDomain {
		o = wheel.SocketFactoryOptions{SocketDomain: unix.AF_UNIX, BindAddress: filepath.Join(t.TempDir(), "s"), SuccessEvent: "_acc", FailureEvent: "_fail"}
	}
	h["_start"] = func(e *poe.Event) any {
		srv, err := wheel.NewSocketFactory(e.Kernel, o)
		if err != nil {
			t.Fatal(err)
		}
		c := o
		c.BindAddress, c.SuccessEvent = "", "_conn"
		if unixDomain {
			c.RemoteAddress = o.BindAddress
		} else {
			c.RemoteAddress, c.RemotePort = "127.0.0.1", srv.Port()
		}
		cli, err := wheel.NewSocketFactory(e.Kernel, c)
		if err != nil {
			t.Fatal(err)
		}
		heap(e)["_srv"], heap(e)["_cli"] = srv, cli
		return nil
	}
	both := func(e *poe.Event) {
		hp := heap(e)
		s, ok1 := hp["_sfd"].(int)
		c, ok2 := hp["_cfd"].(int)
		if ok1 && ok2 {
			ready(e, s, c)
		}
	}
	h["_acc"] = func(e *poe.Event) any {
		heap(e)["_sfd"] = e.Args[0].(int)
		heap(e)["_srv"].(*wheel.SocketFactory).Close()
		both(e)
		return nil
	}
	h["_conn"] = func(e *poe.Event) any {
		heap(e)["_cfd"] = e.Args[0].(int)
		heap(e)["_cli"].(*wheel.SocketFactory).Close()
		both(e)
		return nil
	}
	h["_fail"] = func(e *poe.Event) any { t.Errorf("socket failure %v", e.Args); e.Kernel.Stop(); return nil }
	run(t, 20*time.Second, h)
}

func rwOf(e *poe.Event, name string) *wheel.ReadWrite { return heap(e)[name].(*wheel.ReadWrite) }

func newRW(t *testing.T, e *poe.Event, name string, o wheel.ReadWriteOptions) *wheel.ReadWrite {
	t.Helper()
	w, err := wheel.NewReadWrite(e.Kernel, o)
	if err != nil {
		t.Fatal(err)
	}
	heap(e)[name] = w
	return w
}

func TestSockets(t *testing.T) {
	for _, dom := range []string{"tcp", "unix"} {
		isUnix := dom == "unix"

		t.Run(dom+"/1MiB message", func(t *testing.T) {
			checkFDs(t)
			var log evlog
			big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
			pairScenario(t, isUnix, func(e *poe.Event, s, c int) {
				newRW(t, e, "s", wheel.ReadWriteOptions{Handle: s, InputEvent: "s_in", ErrorEvent: "s_err"})
				cw := newRW(t, e, "c", wheel.ReadWriteOptions{Handle: c, InputEvent: "c_in", ErrorEvent: "c_err", HighMark: 1 << 16, LowMark: 1024, LowEvent: "c_low"})
				log.L("put high=%v", cw.Put(big))
			}, map[string]poe.Handler{
				"s_in": func(e *poe.Event) any {
					log.L("server got %d bytes, equal=%v", len(e.String(0)), e.String(0) == big)
					rwOf(e, "s").Put("ok")
					return nil
				},
				"c_low": func(e *poe.Event) any { log.L("client low"); return nil },
				"c_in": func(e *poe.Event) any {
					log.L("client got %s", e.String(0))
					rwOf(e, "c").Close()
					return nil
				},
				"s_err": func(e *poe.Event) any {
					log.L("server err %s %d", e.String(0), e.Int(1))
					rwOf(e, "s").Close()
					return nil
				},
				"c_err": func(e *poe.Event) any { log.L("client err %v", e.Args); return nil },
			})
			log.want(t, []string{"put high=true", "client low", "server got 1048576 bytes, equal=true", "client got ok", "server err read 0"})
		})

		t.Run(dom+"/10k tiny messages in one write", func(t *testing.T) {
			checkFDs(t)
			var log evlog
			var sb strings.Builder
			for i := 0; i < 10000; i++ {
				fmt.Fprintf(&sb, "m%d\n", i)
			}
			n := 0
			pairScenario(t, isUnix, func(e *poe.Event, s, c int) {
				newRW(t, e, "s", wheel.ReadWriteOptions{Handle: s, InputEvent: "s_in", ErrorEvent: "s_err"})
				// One write of the whole batch from a raw socket.
				heap(e)["craw"] = c
				writeAll(t, c, sb.String())
				unix.Close(c)
			}, map[string]poe.Handler{
				"s_in": func(e *poe.Event) any {
					if want := fmt.Sprintf("m%d", n); e.String(0) != want {
						t.Fatalf("record %d = %q, want %q", n, e.String(0), want)
					}
					n++
					return nil
				},
				"s_err": func(e *poe.Event) any {
					log.L("records %d, then err %s %d", n, e.String(0), e.Int(1))
					rwOf(e, "s").Close()
					return nil
				},
			})
			log.want(t, []string{"records 10000, then err read 0"})
		})

		t.Run(dom+"/half-close", func(t *testing.T) {
			// The client shuts its output down after its request; the
			// server sees end of file, still answers, and the client
			// reads the answer.
			checkFDs(t)
			var log evlog
			pairScenario(t, isUnix, func(e *poe.Event, s, c int) {
				newRW(t, e, "s", wheel.ReadWriteOptions{Handle: s, InputEvent: "s_in", ErrorEvent: "s_err", FlushedEvent: "s_flushed"})
				cw := newRW(t, e, "c", wheel.ReadWriteOptions{Handle: c, InputEvent: "c_in", ErrorEvent: "c_err", FlushedEvent: "c_flushed"})
				cw.Put("request")
			}, map[string]poe.Handler{
				"c_flushed": func(e *poe.Event) any {
					log.L("client flushed, shutdown output")
					if err := rwOf(e, "c").ShutdownOutput(); err != nil {
						t.Error(err)
					}
					return nil
				},
				"s_in": func(e *poe.Event) any { log.L("server got %s", e.String(0)); return nil },
				"s_err": func(e *poe.Event) any {
					log.L("server err %s %d", e.String(0), e.Int(1))
					rwOf(e, "s").Put("answer")
					return nil
				},
				"s_flushed": func(e *poe.Event) any { log.L("server flushed"); rwOf(e, "s").Close(); return nil },
				"c_in":      func(e *poe.Event) any { log.L("client got %s", e.String(0)); return nil },
				"c_err": func(e *poe.Event) any {
					log.L("client err %s %d", e.String(0), e.Int(1))
					rwOf(e, "c").Close()
					return nil
				},
			})
			log.want(t, []string{
				"client flushed, shutdown output", "server got request", "server err read 0",
				"server flushed", "client got answer", "client err read 0",
			})
		})

		t.Run(dom+"/peer reset mid-write", func(t *testing.T) {
			// The peer reads a little, then closes with unread data (and
			// SO_LINGER 0 on TCP: a reset). The writer gets a write error
			// and keeps running.
			checkFDs(t)
			var log evlog
			pairScenario(t, isUnix, func(e *poe.Event, s, c int) {
				w := newRW(t, e, "s", wheel.ReadWriteOptions{Handle: s, ErrorEvent: "s_err", FlushedEvent: "s_flushed"})
				w.Put(strings.Repeat("x", 8<<20))
				buf := make([]byte, 1024)
				time.Sleep(10 * time.Millisecond)
				unix.Read(c, buf)
				if !isUnix {
					unix.SetsockoptLinger(c, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
				}
				unix.Close(c)
			}, map[string]poe.Handler{
				"s_err": func(e *poe.Event) any {
					n := e.Int(1)
					log.L("server err %s reset-or-pipe=%v left>0=%v", e.String(0), n == int(unix.EPIPE) || n == int(unix.ECONNRESET), rwOf(e, "s").DriverOutOctets() > 0)
					rwOf(e, "s").Close()
					return nil
				},
				"s_flushed": func(e *poe.Event) any { log.L("flushed?!"); return nil },
			})
			log.want(t, []string{"server err write reset-or-pipe=true left>0=true"})
		})
	}
}

func TestReadWrite(t *testing.T) {
	t.Run("filter switch with data already buffered", func(t *testing.T) {
		// IKC's case: the last Line record and the first frame of the new
		// protocol arrive in one read; the switch happens in the handler
		// of that last line. Here the switch goes to a "|" Line filter.
		checkFDs(t)
		var log evlog
		a, b := tcpPair(t)
		run(t, 5*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				newRW(t, e, "w", wheel.ReadWriteOptions{Handle: a, InputEvent: "in", ErrorEvent: "err"})
				writeAll(t, b, "HELLO\nDONE\nf1|f2|f")
				return nil
			},
			"in": func(e *poe.Event) any {
				log.L("in %s", e.String(0))
				switch e.String(0) {
				case "DONE":
					rwOf(e, "w").SetFilter(lineF("|"))
					log.L("switched")
					writeAll(t, b, "3|")
				case "f3":
					unix.Close(b)
				}
				return nil
			},
			"err": func(e *poe.Event) any { log.L("err %s %d", e.String(0), e.Int(1)); rwOf(e, "w").Close(); return nil },
		})
		log.want(t, []string{"in HELLO", "in DONE", "in f1", "in f2", "switched", "in f3", "err read 0"})
	})

	t.Run("pause and resume input", func(t *testing.T) {
		checkFDs(t)
		var log evlog
		a, b := tcpPair(t)
		defer unix.Close(b)
		run(t, 5*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				w := newRW(t, e, "w", wheel.ReadWriteOptions{Handle: a, InputEvent: "in"})
				w.PauseInput()
				writeAll(t, b, "x\n")
				e.Kernel.Delay("resume", 100*time.Millisecond)
				return nil
			},
			"resume": func(e *poe.Event) any { log.L("resume"); rwOf(e, "w").ResumeInput(); return nil },
			"in":     func(e *poe.Event) any { log.L("in %s", e.String(0)); rwOf(e, "w").Close(); return nil },
		})
		log.want(t, []string{"resume", "in x"})
	})

	t.Run("event rename and disable", func(t *testing.T) {
		checkFDs(t)
		var log evlog
		a, b := tcpPair(t)
		defer unix.Close(b)
		run(t, 5*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				w := newRW(t, e, "w", wheel.ReadWriteOptions{Handle: a, InputEvent: "in"})
				if err := w.Event("InputEvent", "in2"); err != nil {
					t.Fatal(err)
				}
				if err := w.Event("Bogus", "x"); err == nil {
					t.Error("unknown event name accepted")
				}
				writeAll(t, b, "x\n")
				return nil
			},
			"in": func(e *poe.Event) any { log.L("in %s", e.String(0)); return nil },
			"in2": func(e *poe.Event) any {
				log.L("in2 %s", e.String(0))
				w := rwOf(e, "w")
				w.Event("InputEvent", "") // stops reading
				writeAll(t, b, "y\n")
				e.Kernel.Delay("end", 50*time.Millisecond)
				return nil
			},
			"end": func(e *poe.Event) any { rwOf(e, "w").Close(); return nil },
		})
		log.want(t, []string{"in2 x"})
	})

	t.Run("closed with the session", func(t *testing.T) {
		// A wheel left open is closed after _stop; its handle too.
		checkFDs(t)
		a, b := tcpPair(t)
		defer unix.Close(b)
		k := poe.NewKernel(nil)
		var w *wheel.ReadWrite
		k.Create(poe.Spec{Inline: map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				w, _ = wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{Handle: a, InputEvent: "in"})
				e.Kernel.Yield("quit")
				return nil
			},
			"quit": func(e *poe.Event) any { e.Kernel.Stop(); return nil },
		}})
		k.Run()
		if _, err := unix.FcntlInt(uintptr(a), unix.F_GETFD, 0); err != unix.EBADF {
			t.Errorf("handle still open after the session stopped (%v)", err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})

	t.Run("misuse", func(t *testing.T) {
		k := poe.NewKernel(nil)
		if _, err := wheel.NewReadWrite(k, wheel.ReadWriteOptions{Handle: 0}); err == nil {
			t.Error("constructor outside a handler succeeded")
		}
		run(t, 5*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				for _, o := range []wheel.ReadWriteOptions{
					{},
					{Handle: 0, HighMark: 10},
					{Handle: 0, HighMark: 4, LowMark: 10},
					{Handle: 0, LowEvent: "low"},
				} {
					if w, err := wheel.NewReadWrite(e.Kernel, o); err == nil {
						t.Errorf("%+v accepted", o)
						w.Close()
					}
				}
				return nil
			},
		})
	})
}
