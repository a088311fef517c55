package wheel

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// macOS has no SOCK_CLOEXEC, SOCK_NONBLOCK, accept4 or pipe2: the flags
// are set by fcntl after the call, with syscall.ForkLock held for reading
// as package syscall and os do, so that no ForkExec in between lets a
// child inherit the descriptor. One or two more system calls each. These
// build everywhere so that the tests run them on Linux too.

// socketForkLock opens a non-blocking, close-on-exec socket.
func socketForkLock(domain, typ, proto int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(domain, typ, proto)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	return nonblock(fd, err)
}

// socketpairForkLock opens a close-on-exec (blocking) socket pair.
func socketpairForkLock(domain, typ, proto int) ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := unix.Socketpair(domain, typ, proto)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	return fds, err
}

// pipeForkLock opens a close-on-exec (blocking) pipe.
func pipeForkLock(p []int) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	err := unix.Pipe(p)
	if err == nil {
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
	}
	return err
}

// acceptForkLock accepts a connection as a non-blocking, close-on-exec
// socket.
func acceptForkLock(fd int) (int, unix.Sockaddr, error) {
	syscall.ForkLock.RLock()
	nfd, sa, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	nfd, err = nonblock(nfd, err)
	if err != nil {
		return -1, nil, err
	}
	return nfd, sa, nil
}

func nonblock(fd int, err error) (int, error) {
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
