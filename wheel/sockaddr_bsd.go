//go:build dragonfly || freebsd || netbsd || openbsd

package wheel

import "golang.org/x/sys/unix"

// acceptNB accepts a connection as a non-blocking, close-on-exec socket.
func acceptNB(fd int) (int, unix.Sockaddr, error) { return acceptSyscall4(fd) }
