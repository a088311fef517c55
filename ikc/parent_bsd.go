//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package ikc

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// watchParent returns a kqueue that watches ppid for its exit: a kqueue
// is readable while it holds an event. ESRCH: ppid is gone already.
func watchParent(ppid int) (int, error) {
	syscall.ForkLock.RLock()
	kq, err := unix.Kqueue()
	if err == nil {
		unix.CloseOnExec(kq)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	ev := make([]unix.Kevent_t, 1)
	unix.SetKevent(&ev[0], ppid, unix.EVFILT_PROC, unix.EV_ADD|unix.EV_ONESHOT)
	ev[0].Fflags = unix.NOTE_EXIT
	if _, err := unix.Kevent(kq, ev, nil, nil); err != nil {
		unix.Close(kq)
		return -1, err
	}
	return kq, nil
}
