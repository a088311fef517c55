//go:build linux || dragonfly || freebsd || netbsd || openbsd

package wheel

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The BSDs' accept (package syscall's Accept4, its addresses converted)
// gives a non-blocking, close-on-exec socket and the peer's address, for
// IPv4, IPv6 and Unix sockets.
func TestAcceptSyscall4(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name   string
		domain int
		bind   unix.Sockaddr
	}{
		{"inet4", unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}},
		{"inet6", unix.AF_INET6, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}},
		{"unix", unix.AF_UNIX, &unix.SockaddrUnix{Name: filepath.Join(dir, "s")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ln, err := socketNB(c.domain, unix.SOCK_STREAM, 0)
			if err != nil {
				t.Skip("no socket of this family here:", err)
			}
			defer unix.Close(ln)
			if err := unix.Bind(ln, c.bind); err != nil {
				t.Skip("cannot bind here:", err)
			}
			unix.Listen(ln, 4)
			lsa, _ := unix.Getsockname(ln)
			cl, err := unix.Socket(c.domain, unix.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(cl)
			if err := unix.Connect(cl, lsa); err != nil {
				t.Fatal(err)
			}
			nfd, peer, err := acceptSyscall4(ln)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(nfd)
			want, _ := unix.Getpeername(nfd)
			switch w := want.(type) {
			case *unix.SockaddrInet4:
				if p, ok := peer.(*unix.SockaddrInet4); !ok || p.Addr != w.Addr || p.Port != w.Port {
					t.Errorf("peer %#v, want %#v", peer, want)
				}
			case *unix.SockaddrInet6:
				if p, ok := peer.(*unix.SockaddrInet6); !ok || p.Addr != w.Addr || p.Port != w.Port {
					t.Errorf("peer %#v, want %#v", peer, want)
				}
			case *unix.SockaddrUnix:
				if p, ok := peer.(*unix.SockaddrUnix); !ok || p.Name != w.Name {
					t.Errorf("peer %#v, want %#v", peer, want)
				}
			}
			if fl, _ := unix.FcntlInt(uintptr(nfd), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
				t.Error("accepted socket is not close-on-exec")
			}
			if st, _ := unix.FcntlInt(uintptr(nfd), unix.F_GETFL, 0); st&unix.O_NONBLOCK == 0 {
				t.Error("accepted socket is blocking")
			}
		})
	}
}
