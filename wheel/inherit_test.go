package wheel_test

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"golang.org/x/sys/unix"
)

// rawListener makes a listening TCP socket on 127.0.0.1 with the system
// calls a program (or its parent) would use, and returns the fd and port.
func rawListener(t *testing.T) (int, int) {
	t.Helper()
	fd, err := socketCloexec(unix.AF_INET, unix.SOCK_STREAM)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	return fd, sa.(*unix.SockaddrInet4).Port
}

// serveEchoOnce runs a kernel whose session accepts on the listening fd
// with ListenAccept, answers one line with "echo:<line>" and ends. The
// listening fd stays open (ListenAccept never closes it).
func serveEchoOnce(t *testing.T, lfd int) []string {
	var log evlog
	run(t, 10*time.Second, map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			la, err := wheel.NewListenAccept(e.Kernel, wheel.ListenAcceptOptions{Handle: lfd, AcceptEvent: "accepted", ErrorEvent: "la_err"})
			if err != nil {
				t.Fatal(err)
			}
			heap(e)["la"] = la
			return nil
		},
		"accepted": func(e *poe.Event) any {
			sa, _ := e.Args[1].(*unix.SockaddrInet4)
			if sa == nil {
				t.Errorf("peer %T, want *unix.SockaddrInet4", e.Args[1])
			} else {
				log.L("accepted from %s", net.IP(sa.Addr[:]))
			}
			heap(e)["la"].(*wheel.ListenAccept).Close()
			rw, err := wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{Handle: e.Args[0], InputEvent: "in", FlushedEvent: "flushed", ErrorEvent: "err"})
			if err != nil {
				t.Fatal(err)
			}
			heap(e)["rw"] = rw
			return nil
		},
		"in": func(e *poe.Event) any {
			log.L("got %q", e.String(0))
			heap(e)["rw"].(*wheel.ReadWrite).Put("echo:" + e.String(0))
			return nil
		},
		"flushed": func(e *poe.Event) any { heap(e)["rw"].(*wheel.ReadWrite).Close(); return nil },
		"err": func(e *poe.Event) any {
			log.L("err %v", e.Args[:3])
			heap(e)["rw"].(*wheel.ReadWrite).Close()
			return nil
		},
		"la_err": func(e *poe.Event) any { log.L("la_err %v", e.Args[:3]); return nil },
	})
	return log.get()
}

// echoClient connects, sends one line and returns the answer line.
func echoClient(port int, line string) (string, error) {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", itoa(port)), 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

const inheritedMarker = "POE_WHEEL_TEST_INHERITED_FD"

// TestListenAcceptInheritedChild is the child side of "inherited fd":
// it adopts the listening socket it inherited as fd 3.
func TestListenAcceptInheritedChild(t *testing.T) {
	if os.Getenv(inheritedMarker) == "" {
		t.Skip("child process of TestListenAcceptRawFD/inherited")
	}
	got := serveEchoOnce(t, 3)
	(&evlog{lines: got}).want(t, []string{`accepted from 127.0.0.1`, `got "hello"`})
}

func TestListenAcceptRawFD(t *testing.T) {
	t.Run("int fd", func(t *testing.T) {
		// A listening socket made with socket/bind/listen, handed over as
		// a bare int (blocking: the wheel makes it non-blocking).
		checkFDs(t)
		lfd, port := rawListener(t)
		defer unix.Close(lfd)
		reply := make(chan string, 1)
		go func() {
			r, err := echoClient(port, "hello")
			if err != nil {
				r = err.Error()
			}
			reply <- r
		}()
		got := serveEchoOnce(t, lfd)
		(&evlog{lines: got}).want(t, []string{`accepted from 127.0.0.1`, `got "hello"`})
		if r := <-reply; r != "echo:hello\r\n" {
			t.Errorf("client got %q", r)
		}
		// Still a listening socket the program owns: not closed.
		if _, err := unix.GetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil {
			t.Errorf("listening fd closed by the wheel: %v", err)
		}
	})

	t.Run("inherited", func(t *testing.T) {
		// The parent creates the socket, passes it to a child process as
		// fd 3 (os/exec ExtraFiles), and the child adopts it.
		lfd, port := rawListener(t)
		f := os.NewFile(uintptr(lfd), "listener")
		defer f.Close()
		cmd := exec.Command(os.Args[0], "-test.run=^TestListenAcceptInheritedChild$", "-test.v")
		cmd.Env = append(os.Environ(), inheritedMarker+"=1")
		cmd.ExtraFiles = []*os.File{f}
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The parent's copy stays open; connections queue in the backlog
		// until the child accepts them.
		r, err := echoClient(port, "hello")
		if err != nil {
			t.Error(err)
		}
		if r != "echo:hello\r\n" {
			t.Errorf("client got %q", r)
		}
		if err := cmd.Wait(); err != nil || !strings.Contains(out.String(), "--- PASS: TestListenAcceptInheritedChild") {
			t.Errorf("child: %v\n%s", err, out.String())
		}
	})
}

func TestSocketFactoryUDPConnect(t *testing.T) {
	checkFDs(t)
	// The peer: a bound UDP socket.
	peer, err := socketCloexec(unix.AF_INET, unix.SOCK_DGRAM)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(peer)
	if err := unix.Bind(peer, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	psa, _ := unix.Getsockname(peer)
	pport := psa.(*unix.SockaddrInet4).Port
	unix.SetsockoptTimeval(peer, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5})

	var log evlog
	var wid int
	run(t, 10*time.Second, map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			sf, err := wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{
				SocketProtocol: "udp", RemoteAddress: "127.0.0.1", RemotePort: pport,
				SuccessEvent: "connected", FailureEvent: "failed",
			})
			if err != nil {
				t.Fatal(err)
			}
			heap(e)["sf"] = sf
			wid = sf.ID()
			return nil
		},
		"connected": func(e *poe.Event) any {
			heap(e)["sf"].(*wheel.SocketFactory).Close()
			fd := e.Args[0].(int)
			defer unix.Close(fd)
			log.L("connected to %s:%v own wheel=%v", ip4(e.Args[1]), e.Int(2) == pport, e.Int(3) == wid)
			typ, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
			log.L("datagram socket: %v", typ == unix.SOCK_DGRAM)
			// A connected datagram socket: send without an address, the
			// peer answers to its source, and only the peer's datagrams
			// are received.
			if _, err := unix.Write(fd, []byte("ping")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			n, from, err := unix.Recvfrom(peer, buf, 0)
			if err != nil {
				t.Fatal(err)
			}
			log.L("peer got %q", buf[:n])
			if err := unix.Sendto(peer, []byte("pong"), 0, from); err != nil {
				t.Fatal(err)
			}
			for i := 0; ; i++ {
				n, err = unix.Read(fd, buf)
				if err != unix.EAGAIN || i > 500 {
					break
				}
				time.Sleep(time.Millisecond)
			}
			if err != nil {
				t.Fatal(err)
			}
			log.L("client got %q", buf[:n])
			return nil
		},
		"failed": func(e *poe.Event) any { log.L("failed %v", e.Args[:3]); return nil },
	})
	log.want(t, []string{
		"connected to 127.0.0.1:true own wheel=true",
		"datagram socket: true",
		`peer got "ping"`,
		`client got "pong"`,
	})
}

func TestFollowTailHandleReset(t *testing.T) {
	// Handle mode: the wheel does not reopen; on truncation it emits
	// ResetEvent and reads the same handle again from the start.
	checkFDs(t)
	var log evlog
	file := filepath.Join(t.TempDir(), "tail.txt")
	os.WriteFile(file, []byte("old1\nold2\n"), 0o644)
	fd, err := unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	run(t, 10*time.Second, map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			k := e.Kernel
			ft, err := wheel.NewFollowTail(k, wheel.FollowTailOptions{
				Handle: fd, InputEvent: "line", ResetEvent: "reset", ErrorEvent: "err",
				Seek: new(int64(0)), PollInterval: 50 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			heap(e)["t"] = ft
			k.Delay("append", 200*time.Millisecond)
			k.Delay("truncate", 400*time.Millisecond)
			k.Delay("done", 700*time.Millisecond)
			return nil
		},
		"append": func(e *poe.Event) any { appendFile(t, file, "new1\n"); log.L("appended"); return nil },
		"truncate": func(e *poe.Event) any {
			// Truncate in place (same inode): only the size tells.
			os.WriteFile(file, []byte("fresh\n"), 0o644)
			log.L("truncated")
			return nil
		},
		"line":  func(e *poe.Event) any { log.L("line '%s'", e.String(0)); return nil },
		"reset": func(e *poe.Event) any { log.L("reset tell=%d", heap(e)["t"].(*wheel.FollowTail).Tell()); return nil },
		"err":   func(e *poe.Event) any { log.L("err %v", e.Args[:3]); return nil },
		"done": func(e *poe.Event) any {
			heap(e)["t"].(*wheel.FollowTail).Close()
			log.L("done")
			return nil
		},
	})
	log.want(t, []string{
		"line 'old1'", "line 'old2'",
		"appended", "line 'new1'",
		"truncated", "reset tell=0", "line 'fresh'",
		"done",
	})
	// The handle belongs to the program: still open.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Errorf("handle closed by the wheel: %v", err)
	}
}

func TestReadWriteHighEventAfterLowering(t *testing.T) {
	// POE's quirk (C70): Put sets the high-water state without a
	// HighEvent. A buffer below the mark, whose mark is then lowered
	// under it with SetHighMark, gets a HighEvent from the next flush;
	// draining it to LowMark gives LowEvent, then FlushedEvent.
	checkFDs(t)
	fds := socketpair(t)
	defer unix.Close(fds[1])
	var log evlog
	const size = 4 << 20 // more than the socket buffers take
	drained := make(chan struct{})
	run(t, 10*time.Second, map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			rw, err := wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{
				Handle: fds[0], Filter: streamF(), FlushedEvent: "flushed", ErrorEvent: "err",
				HighMark: 64 << 20, LowMark: 1024, HighEvent: "high", LowEvent: "low",
			})
			if err != nil {
				t.Fatal(err)
			}
			heap(e)["w"] = rw
			high := rw.Put(make([]byte, size))
			log.L("put ret=%v", high)
			if err := rw.SetHighMark(4096); err != nil {
				t.Fatal(err)
			}
			log.L("high mark lowered to 4096")
			return nil
		},
		"high": func(e *poe.Event) any {
			rw := heap(e)["w"].(*wheel.ReadWrite)
			log.L("high buffered>=4096:%v", rw.DriverOutOctets() >= 4096)
			// Now the peer drains everything.
			go func() {
				defer close(drained)
				buf := make([]byte, 1<<16)
				for got := 0; got < size; {
					n, err := unix.Read(fds[1], buf)
					if err == unix.EAGAIN {
						time.Sleep(time.Millisecond)
						continue
					}
					if err != nil || n == 0 {
						return
					}
					got += n
				}
			}()
			return nil
		},
		"low": func(e *poe.Event) any {
			log.L("low buffered<=1024:%v", heap(e)["w"].(*wheel.ReadWrite).DriverOutOctets() <= 1024)
			return nil
		},
		"flushed": func(e *poe.Event) any {
			log.L("flushed")
			heap(e)["w"].(*wheel.ReadWrite).Close()
			return nil
		},
		"err": func(e *poe.Event) any { log.L("err %v", e.Args[:3]); return nil },
	})
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		t.Fatal("peer never drained the output")
	}
	log.want(t, []string{
		"put ret=false",
		"high mark lowered to 4096",
		"high buffered>=4096:true",
		"low buffered<=1024:true",
		"flushed",
	})
}
