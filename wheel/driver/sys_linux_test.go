package driver

import (
	"testing"

	"golang.org/x/sys/unix"
)

func pipeNB(p []int) error { return unix.Pipe2(p, unix.O_NONBLOCK|unix.O_CLOEXEC) }

// smallPipe returns a pipe of one page, so that writes are partial.
func smallPipe(t *testing.T) (r, w int) {
	t.Helper()
	r, w = pipe(t)
	if _, err := unix.FcntlInt(uintptr(w), unix.F_SETPIPE_SZ, 4096); err != nil {
		t.Skip(err)
	}
	return r, w
}
