//go:build !linux && !dragonfly && !freebsd && !netbsd && !openbsd

package wheel

import "golang.org/x/sys/unix"

// Without SOCK_CLOEXEC and friends (macOS): see sys_forklock.go.

func socketNB(domain, typ, proto int) (int, error) { return socketForkLock(domain, typ, proto) }

func socketpairCloexec(domain, typ, proto int) ([2]int, error) {
	return socketpairForkLock(domain, typ, proto)
}

func pipeCloexec(p []int) error { return pipeForkLock(p) }

func acceptNB(fd int) (int, unix.Sockaddr, error) { return acceptForkLock(fd) }
