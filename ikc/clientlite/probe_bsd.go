//go:build unix && !linux

package clientlite

import "golang.org/x/sys/unix"

// peekClosed peeks one byte: EOF or an error other than would-block
// means closed.
func peekClosed(fd uintptr, buf []byte) bool {
	n, _, err := unix.Recvfrom(int(fd), buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return err == nil && n == 0 || err != nil && err != unix.EAGAIN && err != unix.EINTR
}
