//go:build !linux

package wheel

import "golang.org/x/sys/unix"

// Getsockname returns a socket's local address. Outside Linux it is
// unix.Getsockname, which makes no extra system call there.
func Getsockname(fd int) (unix.Sockaddr, error) { return unix.Getsockname(fd) }
