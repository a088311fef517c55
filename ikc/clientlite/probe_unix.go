//go:build unix

package clientlite

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// peekOpen reports whether the socket is still open, without blocking:
// pending data or a read that would block mean yes; EOF or an error mean
// the peer closed it.
func peekOpen(rc syscall.RawConn) bool {
	open := true
	var buf [1]byte
	// An error of Read itself (a read deadline in the past, left by a
	// reader whose context ended) says nothing about the peer.
	rc.Read(func(fd uintptr) bool {
		n, _, err := unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
		case err != nil || n == 0:
			open = false
		}
		return true // never wait
	})
	return open
}
