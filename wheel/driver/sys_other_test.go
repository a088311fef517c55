//go:build !linux

package driver

import (
	"testing"

	"golang.org/x/sys/unix"
)

func pipeNB(p []int) error {
	if err := unix.Pipe(p); err != nil {
		return err
	}
	for _, fd := range p {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(p[0])
			unix.Close(p[1])
			return err
		}
	}
	return nil
}

// smallPipe returns a stream whose writes are partial beyond a few KiB:
// without F_SETPIPE_SZ a pipe's capacity is fixed, so a socket pair with
// small buffers stands in.
func smallPipe(t *testing.T) (r, w int) {
	t.Helper()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(sp[0]); unix.Close(sp[1]) })
	for _, fd := range sp {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
	unix.SetsockoptInt(sp[1], unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	unix.SetsockoptInt(sp[0], unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
	return sp[0], sp[1]
}
