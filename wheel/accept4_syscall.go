//go:build linux || dragonfly || freebsd || netbsd || openbsd

package wheel

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// acceptSyscall4 accepts a connection as a non-blocking, close-on-exec
// socket: the BSDs' acceptNB (built on Linux too, for its test). x/sys/unix
// has no Accept4 on every BSD; package syscall has, with its own address
// types.
func acceptSyscall4(fd int) (int, unix.Sockaddr, error) {
	for {
		nfd, sa, err := syscall.Accept4(fd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1, nil, err
		}
		return nfd, fromSyscallSockaddr(nfd, sa), nil
	}
}

// fromSyscallSockaddr converts the families we use and asks x/sys for
// the others.
func fromSyscallSockaddr(fd int, sa syscall.Sockaddr) unix.Sockaddr {
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return &unix.SockaddrInet4{Port: sa.Port, Addr: sa.Addr}
	case *syscall.SockaddrInet6:
		return &unix.SockaddrInet6{Port: sa.Port, ZoneId: sa.ZoneId, Addr: sa.Addr}
	case *syscall.SockaddrUnix:
		return &unix.SockaddrUnix{Name: sa.Name}
	}
	usa, _ := unix.Getpeername(fd)
	return usa
}
