package wheel_test

import "golang.org/x/sys/unix"

// System calls the tests make, per system (macOS has no SOCK_CLOEXEC,
// SOCK_NONBLOCK, accept4 or pipe2; the BSDs call tcgetattr TIOCGETA).

const tcGetattr = unix.TCGETS

func socketpairNB() ([2]int, error) {
	return unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

func pipe2(p []int) error { return unix.Pipe2(p, unix.O_NONBLOCK|unix.O_CLOEXEC) }

func socketCloexec(domain, typ int) (int, error) {
	return unix.Socket(domain, typ|unix.SOCK_CLOEXEC, 0)
}

func acceptCloexec(fd int) (int, error) {
	nfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
	return nfd, err
}

// fdList lists this process's descriptors.
func fdList() ([]int, error) { return fdDirList("/proc/self/fd") }

// niceValue is this process's nice value (the raw system call returns
// 20 - nice).
func niceValue() (int, error) {
	p, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	return 20 - p, err
}
