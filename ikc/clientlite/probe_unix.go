//go:build unix

package clientlite

import "syscall"

// peeker peeks at a socket without blocking; its callback is made once
// per connection, not per peek.
type peeker struct {
	f      func(fd uintptr) bool
	closed bool
	buf    [1]byte
}

func (p *peeker) init() {
	p.f = func(fd uintptr) bool {
		p.closed = peekClosed(fd, p.buf[:])
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
