package wheel

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"
)

// Our decoding of accept4 and getsockname must give what x/sys/unix gives,
// for every family we listen on.
func TestSockaddrMatchesXSys(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name   string
		domain int
		bind   unix.Sockaddr
	}{
		{"inet4", unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}},
		{"inet6", unix.AF_INET6, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}},
		{"unix", unix.AF_UNIX, &unix.SockaddrUnix{Name: filepath.Join(dir, "s")}},
		{"abstract", unix.AF_UNIX, &unix.SockaddrUnix{Name: "@poe-go-sockaddr-test"}},
	}
	// The raw buffers x/sys keeps for its own encoding are not compared.
	ign := cmpopts.IgnoreUnexported(unix.SockaddrInet4{}, unix.SockaddrInet6{}, unix.SockaddrUnix{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ln, err := unix.Socket(c.domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Skip("no socket of this family here:", err)
			}
			defer unix.Close(ln)
			if err := unix.Bind(ln, c.bind); err != nil {
				t.Skip("cannot bind here:", err)
			}
			if err := unix.Listen(ln, 4); err != nil {
				t.Fatal(err)
			}
			want, err := unix.Getsockname(ln)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Getsockname(ln)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got, ign); d != "" {
				t.Fatalf("Getsockname (-x/sys +ours):\n%s", d)
			}
			cl, err := unix.Socket(c.domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(cl)
			if err := unix.Connect(cl, want); err != nil {
				t.Fatal(err)
			}
			nfd, peer, err := accept4(ln, unix.SOCK_CLOEXEC)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(nfd)
			wantPeer, err := unix.Getpeername(nfd)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(wantPeer, peer, ign); d != "" {
				t.Fatalf("accept4 peer (-x/sys +ours):\n%s", d)
			}
		})
	}
}
