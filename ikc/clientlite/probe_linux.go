package clientlite

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// peeker peeks at a socket without blocking; its callback is made once
// per connection, not per peek.
type peeker struct {
	f      func(fd uintptr) bool
	closed bool
	buf    [1]byte
}

func (p *peeker) init() {
	p.f = func(fd uintptr) bool {
		// recvfrom without a source address (unix.Recvfrom allocates one).
		n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p.buf[0])), 1,
			unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
		p.closed = errno == 0 && n == 0 || errno != 0 && errno != unix.EAGAIN && errno != unix.EINTR
		return true // never wait
	}
}

// open reports whether the socket is still open: pending data or a read
// that would block mean yes; EOF or an error mean the peer closed it.
// An error of Read itself (a read deadline in the past, left by a reader
// whose context ended) says nothing about the peer.
func (p *peeker) open(rc syscall.RawConn) bool {
	p.closed = false
	rc.Read(p.f)
	return !p.closed
}
