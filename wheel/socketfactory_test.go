package wheel_test

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"golang.org/x/sys/unix"
)

func TestSocketFactoryConformance(t *testing.T) {
	t.Run("C75", func(t *testing.T) {
		// Connecting to localhost:0 fails, well before a timeout.
		checkFDs(t)
		var log evlog
		start := time.Now()
		run(t, 5*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				w, err := wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{
					RemoteAddress: "localhost", RemotePort: 0,
					SuccessEvent: "ok", FailureEvent: "fail",
				})
				if err != nil {
					t.Fatal(err)
				}
				heap(e)["w"] = w
				return nil
			},
			"ok": func(e *poe.Event) any {
				log.L("success")
				unix.Close(e.Args[0].(int))
				heap(e)["w"].(*wheel.SocketFactory).Close()
				return nil
			},
			"fail": func(e *poe.Event) any {
				log.L("fail %s", e.String(0))
				heap(e)["w"].(*wheel.SocketFactory).Close()
				return nil
			},
		})
		log.want(t, []string{"fail connect"})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v", d)
		}
	})

	t.Run("C76", func(t *testing.T) {
		checkFDs(t)
		var log evlog
		path := filepath.Join(t.TempDir(), "sock")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var ids [3]int
		run(t, 5*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				k, h := e.Kernel, heap(e)
				la, err := wheel.NewListenAccept(k, wheel.ListenAcceptOptions{Handle: ln, AcceptEvent: "la_accept", ErrorEvent: "la_err"})
				if err != nil {
					t.Fatal(err)
				}
				h["la"] = la
				c1, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				h["c1"] = c1
				us, err := wheel.NewSocketFactory(k, wheel.SocketFactoryOptions{SocketDomain: unix.AF_UNIX, BindAddress: path, SuccessEvent: "u_acc", FailureEvent: "u_fail"})
				if err != nil {
					t.Fatal(err)
				}
				uc, err := wheel.NewSocketFactory(k, wheel.SocketFactoryOptions{SocketDomain: unix.AF_UNIX, RemoteAddress: path, SuccessEvent: "u_conn", FailureEvent: "u_fail"})
				if err != nil {
					t.Fatal(err)
				}
				h["us"], h["uc"] = us, uc
				ids = [3]int{la.ID(), us.ID(), uc.ID()}
				us.PauseAccept()
				log.L("paused unix accept")
				k.Delay("resume", 200*time.Millisecond)
				return nil
			},
			"resume": func(e *poe.Event) any {
				log.L("resume accept")
				heap(e)["us"].(*wheel.SocketFactory).ResumeAccept()
				return nil
			},
			"la_accept": func(e *poe.Event) any {
				sa := e.Args[1].(*unix.SockaddrInet4)
				log.L("ListenAccept accepted wheel=%d peer=%s", e.Int(2)-ids[0]+1, net.IP(sa.Addr[:]))
				unix.Close(e.Args[0].(int))
				heap(e)["la"].(*wheel.ListenAccept).Close()
				heap(e)["c1"].(net.Conn).Close()
				return nil
			},
			"u_acc": func(e *poe.Event) any {
				log.L("unix accept addr=%q port=%v wheel=%d", e.Args[1], e.Args[2], e.Int(3)-ids[0]+1)
				unix.Close(e.Args[0].(int))
				heap(e)["us"].(*wheel.SocketFactory).Close()
				return nil
			},
			"u_conn": func(e *poe.Event) any {
				addr := e.String(1)
				if addr == path {
					addr = "PATH"
				}
				log.L("unix connected addr=%q port=%v wheel=%d", addr, e.Args[2], e.Int(3)-ids[0]+1)
				unix.Close(e.Args[0].(int))
				heap(e)["uc"].(*wheel.SocketFactory).Close()
				return nil
			},
			"u_fail": func(e *poe.Event) any { log.L("unix fail %v", e.Args); return nil },
			"la_err": func(e *poe.Event) any { log.L("la err %v", e.Args); return nil },
		})
		log.want(t, []string{
			"paused unix accept",
			"ListenAccept accepted wheel=1 peer=127.0.0.1",
			`unix connected addr="PATH" port=<nil> wheel=3`,
			"resume accept",
			`unix accept addr="" port=<nil> wheel=2`,
		})
	})
}

func TestSocketFactory(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		checkFDs(t)
		// A port nobody listens on: bind one, close it.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		var log evlog
		run(t, 5*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				w, err := wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{
					RemoteAddress: "127.0.0.1", RemotePort: port, SuccessEvent: "ok", FailureEvent: "fail"})
				if err != nil {
					t.Fatal(err)
				}
				heap(e)["w"] = w
				return nil
			},
			"ok": func(e *poe.Event) any { log.L("ok"); unix.Close(e.Args[0].(int)); return nil },
			"fail": func(e *poe.Event) any {
				w := heap(e)["w"].(*wheel.SocketFactory)
				log.L("fail %s %d %s same-wheel=%v", e.String(0), e.Int(1), e.String(2), e.Int(3) == w.ID())
				w.Close()
				return nil
			},
		})
		log.want(t, []string{"fail connect 111 Connection refused same-wheel=true"})
	})

	t.Run("inet6", func(t *testing.T) {
		checkFDs(t)
		probe, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Skip("no IPv6")
		}
		if err := unix.Bind(probe, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}); err != nil {
			unix.Close(probe)
			t.Skip("no ::1")
		}
		unix.Close(probe)
		var log evlog
		run(t, 5*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				k, h := e.Kernel, heap(e)
				srv, err := wheel.NewSocketFactory(k, wheel.SocketFactoryOptions{SocketDomain: unix.AF_INET6, BindAddress: "::1", SuccessEvent: "acc", FailureEvent: "fail"})
				if err != nil {
					t.Fatal(err)
				}
				h["srv"] = srv
				h["port"] = srv.Port()
				cli, err := wheel.NewSocketFactory(k, wheel.SocketFactoryOptions{SocketDomain: unix.AF_INET6, RemoteAddress: "::1", RemotePort: srv.Port(), SuccessEvent: "conn", FailureEvent: "fail"})
				if err != nil {
					t.Fatal(err)
				}
				h["cli"] = cli
				return nil
			},
			"acc": func(e *poe.Event) any {
				log.L("accepted from %s", ip4(e.Args[1]))
				unix.Close(e.Args[0].(int))
				heap(e)["srv"].(*wheel.SocketFactory).Close()
				return nil
			},
			"conn": func(e *poe.Event) any {
				log.L("connected to %s port ok=%v", ip4(e.Args[1]), e.Int(2) == heap(e)["port"])
				unix.Close(e.Args[0].(int))
				heap(e)["cli"].(*wheel.SocketFactory).Close()
				return nil
			},
			"fail": func(e *poe.Event) any { log.L("fail %v", e.Args); return nil },
		})
		log.want(t, []string{"accepted from ::1", "connected to ::1 port ok=true"})
	})

	t.Run("pause_accept backlog", func(t *testing.T) {
		// Connections made while accepting is paused wait in the backlog
		// (their connect completes) and are accepted after resume.
		checkFDs(t)
		var log evlog
		var clients []net.Conn
		defer func() {
			for _, c := range clients {
				c.Close()
			}
		}()
		run(t, 5*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				srv, err := wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{BindAddress: "127.0.0.1", Reuse: true, ListenQueue: 16, SuccessEvent: "acc", FailureEvent: "fail"})
				if err != nil {
					t.Fatal(err)
				}
				heap(e)["srv"] = srv
				srv.PauseAccept()
				for i := 0; i < 3; i++ {
					c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", itoa(srv.Port())), time.Second)
					if err != nil {
						t.Fatal(err)
					}
					clients = append(clients, c)
				}
				log.L("3 connected while paused")
				e.Kernel.Delay("resume", 100*time.Millisecond)
				return nil
			},
			"resume": func(e *poe.Event) any {
				log.L("resume")
				heap(e)["srv"].(*wheel.SocketFactory).ResumeAccept()
				return nil
			},
			"acc": func(e *poe.Event) any {
				h := heap(e)
				n, _ := h["n"].(int)
				n++
				h["n"] = n
				log.L("accept %d", n)
				unix.Close(e.Args[0].(int))
				if n == 3 {
					h["srv"].(*wheel.SocketFactory).Close()
				}
				return nil
			},
			"fail": func(e *poe.Event) any { log.L("fail %v", e.Args); return nil },
		})
		log.want(t, []string{"3 connected while paused", "resume", "accept 1", "accept 2", "accept 3"})
	})

	t.Run("accept EMFILE backoff", func(t *testing.T) {
		// With the descriptor table full, accept fails with EMFILE: the
		// wheel reports it, backs off for its AcceptBackoff and accepts once
		// a descriptor is free.
		checkFDs(t)
		const backoff = 300 * time.Millisecond
		var failedAt, acceptedAt time.Time
		var lim unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Skip(err)
		}
		defer unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
		var log evlog
		var clients []net.Conn
		defer func() {
			for _, c := range clients {
				c.Close()
			}
		}()
		run(t, 5*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				srv, err := wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{BindAddress: "127.0.0.1", SuccessEvent: "acc", FailureEvent: "fail", AcceptBackoff: backoff})
				if err != nil {
					t.Fatal(err)
				}
				heap(e)["srv"] = srv
				for i := 0; i < 2; i++ {
					c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", itoa(srv.Port())), time.Second)
					if err != nil {
						t.Fatal(err)
					}
					clients = append(clients, c)
				}
				// Room for exactly one more descriptor.
				free, err := unix.Dup(0)
				if err != nil {
					t.Fatal(err)
				}
				unix.Close(free)
				small := lim
				setRlim(&small.Cur, free+1) // int64 on FreeBSD, uint64 elsewhere
				if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &small); err != nil {
					t.Skip(err)
				}
				return nil
			},
			"acc": func(e *poe.Event) any {
				h := heap(e)
				n, _ := h["n"].(int)
				n++
				h["n"] = n
				log.L("accept %d", n)
				if n == 1 {
					h["first"] = e.Args[0].(int) // hold it: the table stays full
				} else {
					acceptedAt = time.Now()
					unix.Close(e.Args[0].(int))
					h["srv"].(*wheel.SocketFactory).Close()
					unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
				}
				return nil
			},
			"fail": func(e *poe.Event) any {
				log.L("fail %s %d %s", e.String(0), e.Int(1), e.String(2))
				failedAt = time.Now()
				h := heap(e)
				if fd, ok := h["first"].(int); ok {
					unix.Close(fd) // free one: the retry succeeds
					delete(h, "first")
				}
				return nil
			},
		})
		log.want(t, []string{"accept 1", "fail accept 24 Too many open files", "accept 2"})
		if d := acceptedAt.Sub(failedAt); d < backoff {
			t.Errorf("accepted again %v after the failure, before the %v AcceptBackoff", d, backoff)
		}
	})

	t.Run("unlink stale unix path", func(t *testing.T) {
		checkFDs(t)
		path := filepath.Join(t.TempDir(), "s")
		// A socket file whose listener is gone.
		fd, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		var log evlog
		run(t, 5*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				_, err := wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{SocketDomain: wheel.DomainUnix, BindAddress: path, SuccessEvent: "ok", FailureEvent: "fail"})
				log.L("without UnlinkStale: EADDRINUSE=%v %v", errors.Is(err, syscall.EADDRINUSE), err)
				w2, err := wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{SocketDomain: wheel.DomainUnix, BindAddress: path, UnlinkStale: true, SuccessEvent: "ok", FailureEvent: "fail"})
				if err != nil {
					t.Fatal(err)
				}
				log.L("with UnlinkStale: listening on %v", w2.LocalAddr() == path)
				w2.Close()
				return nil
			},
			"fail": func(e *poe.Event) any { log.L("fail %v", e.Args); return nil },
		})
		log.want(t, []string{"without UnlinkStale: EADDRINUSE=true wheel: bind " + path + ": address already in use", "with UnlinkStale: listening on true"})
	})
}

func itoa(n int) string {
	b := []byte{}
	if n == 0 {
		return "0"
	}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// TestSocketFactorySetupErrors: what fails on the spot is returned as a
// *SocketError naming the address, FailureEvent does not fire for it, and
// no descriptor is left behind.
func TestSocketFactorySetupErrors(t *testing.T) {
	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	missing := filepath.Join(t.TempDir(), "none.sock")
	cases := []struct {
		name  string
		o     wheel.SocketFactoryOptions
		op    string
		errno syscall.Errno
		text  string // the error's text, or a prefix when it ends in "*"
	}{
		{"port taken", wheel.SocketFactoryOptions{BindAddress: "127.0.0.1", BindPort: port},
			"bind", syscall.EADDRINUSE, "wheel: bind 127.0.0.1:" + itoa(port) + ": address already in use"},
		{"bad bind port", wheel.SocketFactoryOptions{BindAddress: "127.0.0.1", BindPort: 99999},
			"getaddrinfo", syscall.EINVAL, "wheel: resolve 127.0.0.1:99999: port 99999 out of range (0-65535)"},
		{"bad remote port", wheel.SocketFactoryOptions{RemoteAddress: "127.0.0.1", RemotePort: -1},
			"getaddrinfo", syscall.EINVAL, "wheel: resolve 127.0.0.1:-1: port -1 out of range (0-65535)"},
		{"unresolvable host", wheel.SocketFactoryOptions{RemoteAddress: "nosuch.invalid", RemotePort: 80},
			"getaddrinfo", syscall.EADDRNOTAVAIL, "wheel: resolve nosuch.invalid: *"},
		{"unix path missing", wheel.SocketFactoryOptions{SocketDomain: wheel.DomainUnix, RemoteAddress: missing},
			"connect", syscall.ENOENT, "wheel: connect " + missing + ": no such file or directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkFDs(t)
			var log evlog
			run(t, 10*time.Second, map[string]poe.Handler{
				"_start": func(e *poe.Event) any {
					o := c.o
					o.SuccessEvent, o.FailureEvent = "ok", "fail"
					w, err := wheel.NewSocketFactory(e.Kernel, o)
					var se *wheel.SocketError
					if !errors.As(err, &se) {
						t.Fatalf("got %v, %v; want a *SocketError", w, err)
					}
					if w != nil {
						t.Errorf("a wheel came with the error")
					}
					log.L("op=%s is-errno=%v", se.Op, errors.Is(err, c.errno))
					if p, ok := strings.CutSuffix(c.text, "*"); ok {
						if !strings.HasPrefix(err.Error(), p) || strings.Contains(err.Error(), "assign requested") {
							t.Errorf("text %q, want %q...", err, p)
						}
					} else if err.Error() != c.text {
						t.Errorf("text %q, want %q", err, c.text)
					}
					return nil
				},
				"ok":   func(e *poe.Event) any { log.L("ok"); return nil },
				"fail": func(e *poe.Event) any { log.L("FailureEvent %v", e.Args); return nil },
			})
			log.want(t, []string{"op=" + c.op + " is-errno=true"})
		})
	}
}

// TestSocketFactoryResolveMessage: an unresolvable name is reported with
// the resolver's answer, and the *net.DNSError is reachable.
func TestSocketFactoryResolveMessage(t *testing.T) {
	run(t, 10*time.Second, map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			_, err := wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{
				RemoteAddress: "nosuch.invalid", RemotePort: 80, SuccessEvent: "ok", FailureEvent: "fail"})
			var dns *net.DNSError
			if !errors.As(err, &dns) {
				t.Fatalf("%v: no *net.DNSError inside", err)
			}
			if want := "wheel: resolve nosuch.invalid: " + dns.Err; err.Error() != want {
				t.Errorf("text %q, want %q", err, want)
			}
			return nil
		},
	})
}

// TestSocketFactoryPostSetupFailures: POE's way, kept for porters: the
// constructor succeeds and FailureEvent is posted, with POE's errno.
func TestSocketFactoryPostSetupFailures(t *testing.T) {
	checkFDs(t)
	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	var log evlog
	run(t, 10*time.Second, map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			h := heap(e)
			for i, o := range []wheel.SocketFactoryOptions{
				{BindAddress: "127.0.0.1", BindPort: port},
				{BindAddress: "127.0.0.1", BindPort: 70000},
				{RemoteAddress: "nosuch.invalid", RemotePort: 1},
			} {
				o.PostSetupFailures, o.SuccessEvent, o.FailureEvent = true, "ok", "fail"
				w, err := wheel.NewSocketFactory(e.Kernel, o)
				if err != nil || w == nil {
					t.Fatalf("%d: %v, %v", i, w, err)
				}
				h[itoa(w.ID())] = w
			}
			log.L("constructors returned")
			return nil
		},
		"fail": func(e *poe.Event) any {
			log.L("fail %s %d %s", e.String(0), e.Int(1), e.String(2))
			heap(e)[itoa(e.Int(3))].(*wheel.SocketFactory).Close()
			return nil
		},
	})
	log.want(t, []string{
		"constructors returned",
		"fail bind 98 Address already in use",
		"fail getaddrinfo 22 Invalid argument",
		"fail getaddrinfo 99 Cannot assign requested address",
	})
}

// TestSocketFactoryLocalAddr: the address a listener really got.
func TestSocketFactoryLocalAddr(t *testing.T) {
	checkFDs(t)
	path := filepath.Join(t.TempDir(), "l.sock")
	run(t, 5*time.Second, map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			w, err := wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{BindAddress: "127.0.0.1", SuccessEvent: "ok", FailureEvent: "fail"})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := w.LocalAddr(), "127.0.0.1:"+itoa(w.Port()); got != want || w.Port() == 0 {
				t.Errorf("LocalAddr %q, want %q", got, want)
			}
			w.Close()
			if got := w.LocalAddr(); got != "" {
				t.Errorf("LocalAddr after Close %q", got)
			}
			u, err := wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{SocketDomain: unix.AF_UNIX, BindAddress: path, SuccessEvent: "ok", FailureEvent: "fail"})
			if err != nil {
				t.Fatal(err)
			}
			if got := u.LocalAddr(); got != path {
				t.Errorf("LocalAddr %q, want %q", got, path)
			}
			u.Close()
			return nil
		},
	})
}

func TestDomain(t *testing.T) {
	for _, c := range []struct {
		d    wheel.Domain
		af   int
		name string
	}{{wheel.DomainInet, unix.AF_INET, "AF_INET"}, {wheel.DomainInet6, unix.AF_INET6, "AF_INET6"}, {wheel.DomainUnix, unix.AF_UNIX, "AF_UNIX"}, {99, 99, "Domain(99)"}} {
		if int(c.d) != c.af || c.d.String() != c.name {
			t.Errorf("%d: %d %q, want %d %q", c.af, int(c.d), c.d.String(), c.af, c.name)
		}
	}
}
