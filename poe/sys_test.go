package poe

import (
	"testing"

	"golang.org/x/sys/unix"
)

// Descriptors for tests, made the same way on every system (macOS has no
// SOCK_NONBLOCK, SOCK_CLOEXEC or pipe2).

// nbSocketpair returns a non-blocking, close-on-exec AF_UNIX stream pair.
func nbSocketpair(t *testing.T) [2]int {
	t.Helper()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	nbCloexec(t, sp[:]...)
	return sp
}

// nbPipe returns a non-blocking, close-on-exec pipe (read end, write end).
func nbPipe(t *testing.T) [2]int {
	t.Helper()
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	nbCloexec(t, p[:]...)
	return p
}

func nbCloexec(t *testing.T, fds ...int) {
	t.Helper()
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
}
