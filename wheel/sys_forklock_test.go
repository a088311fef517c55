package wheel

import (
	"testing"

	"golang.org/x/sys/unix"
)

// The descriptor makers give close-on-exec descriptors, non-blocking where
// they say so: this system's (sys_*.go) and the ForkLock ones of macOS,
// which build everywhere.
func TestDescriptorFlags(t *testing.T) {
	sets := []struct {
		name       string
		socket     func(domain, typ, proto int) (int, error)
		socketpair func(domain, typ, proto int) ([2]int, error)
		pipe       func([]int) error
		accept     func(int) (int, unix.Sockaddr, error)
	}{
		{"native", socketNB, socketpairCloexec, pipeCloexec, acceptNB},
		{"forklock", socketForkLock, socketpairForkLock, pipeForkLock, acceptForkLock},
	}
	for _, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			check := func(what string, fd int, nonblock bool) {
				t.Helper()
				t.Cleanup(func() { unix.Close(fd) })
				fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
				if err != nil || fl&unix.FD_CLOEXEC == 0 {
					t.Errorf("%s: F_GETFD %#x, %v: not close-on-exec", what, fl, err)
				}
				st, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
				if err != nil || (st&unix.O_NONBLOCK != 0) != nonblock {
					t.Errorf("%s: F_GETFL %#x, %v: want non-blocking %v", what, st, err, nonblock)
				}
			}
			sp, err := set.socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			check("socketpair[0]", sp[0], false)
			check("socketpair[1]", sp[1], false)
			var p [2]int
			if err := set.pipe(p[:]); err != nil {
				t.Fatal(err)
			}
			check("pipe[0]", p[0], false)
			check("pipe[1]", p[1], false)

			ln, err := set.socket(unix.AF_INET, unix.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			check("socket", ln, true)
			if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
				t.Fatal(err)
			}
			if err := unix.Listen(ln, 4); err != nil {
				t.Fatal(err)
			}
			lsa, _ := unix.Getsockname(ln)
			cl, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(cl)
			if err := unix.Connect(cl, lsa); err != nil {
				t.Fatal(err)
			}
			nfd, peer, err := set.accept(ln)
			if err != nil {
				t.Fatal(err)
			}
			check("accepted", nfd, true)
			csa, _ := unix.Getsockname(cl)
			p4, ok := peer.(*unix.SockaddrInet4)
			if c4 := csa.(*unix.SockaddrInet4); !ok || p4.Addr != c4.Addr || p4.Port != c4.Port {
				t.Errorf("accept's peer %#v, want the client's %#v", peer, csa)
			}
			if _, _, err := set.accept(ln); err != unix.EAGAIN {
				t.Errorf("accept with nothing pending: %v, want EAGAIN", err)
			}
		})
	}
}
