//go:build linux || dragonfly || freebsd || netbsd || openbsd

package wheel

import "golang.org/x/sys/unix"

// These systems create descriptors close-on-exec (and non-blocking) in
// the same system call, so no fork can inherit them in between.

// socketNB opens a non-blocking, close-on-exec socket.
func socketNB(domain, typ, proto int) (int, error) {
	return unix.Socket(domain, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
}

// socketpairCloexec opens a close-on-exec (blocking) socket pair.
func socketpairCloexec(domain, typ, proto int) ([2]int, error) {
	return unix.Socketpair(domain, typ|unix.SOCK_CLOEXEC, proto)
}

// pipeCloexec opens a close-on-exec (blocking) pipe.
func pipeCloexec(p []int) error { return unix.Pipe2(p, unix.O_CLOEXEC) }
