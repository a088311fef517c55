package clientlite

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// peekClosed peeks one byte: EOF or an error other than would-block
// means closed. recvfrom without a source address (unix.Recvfrom
// allocates one).
func peekClosed(fd uintptr, buf []byte) bool {
	n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&buf[0])), 1,
		unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	return errno == 0 && n == 0 || errno != 0 && errno != unix.EAGAIN && errno != unix.EINTR
}
