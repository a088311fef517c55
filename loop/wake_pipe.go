//go:build unix && !linux

package loop

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// openWaker makes a non-blocking self-pipe. pipe2 is missing on some
// systems (macOS), so the flags are set afterwards under the fork lock,
// as package os does.
func openWaker() (*waker, error) {
	var p [2]int
	syscall.ForkLock.RLock()
	err := unix.Pipe(p[:])
	if err == nil {
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, err
	}
	for _, fd := range p {
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(p[0])
			unix.Close(p[1])
			return nil, err
		}
	}
	return &waker{r: p[0], w: p[1]}, nil
}
