//go:build !linux

package wheel_test

import (
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// System calls the tests make, per system (macOS has no SOCK_CLOEXEC,
// SOCK_NONBLOCK, accept4 or pipe2; the BSDs call tcgetattr TIOCGETA).

const tcGetattr = unix.TIOCGETA

// cloexec sets the flags under syscall.ForkLock, as package os does.
func cloexec(nonblock bool, fds ...int) error {
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if nonblock {
			if err := unix.SetNonblock(fd, true); err != nil {
				return err
			}
		}
	}
	return nil
}

func socketpairNB() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		err = cloexec(true, fds[:]...)
	}
	return fds, err
}

func pipe2(p []int) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	err := unix.Pipe(p)
	if err == nil {
		err = cloexec(true, p...)
	}
	return err
}

func socketCloexec(domain, typ int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := unix.Socket(domain, typ, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	return fd, err
}

func acceptCloexec(fd int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nfd, _, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	return nfd, err
}

// fdList lists this process's descriptors: /dev/fd on macOS; elsewhere
// (FreeBSD's /dev/fd may list only 0-2) the numbers below the limit that
// fcntl knows.
func fdList() ([]int, error) {
	if runtime.GOOS == "darwin" {
		return fdDirList("/dev/fd")
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return nil, err
	}
	n := 1 << 16
	if uint64(rl.Cur) < uint64(n) {
		n = int(rl.Cur)
	}
	var fds []int
	for fd := 0; fd < n; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds, nil
}

// niceValue is this process's nice value.
func niceValue() (int, error) { return unix.Getpriority(unix.PRIO_PROCESS, 0) }
