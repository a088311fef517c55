//go:build unix

package loop

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// unpollable reports whether fd is of a kind whose I/O never blocks and
// that epoll refuses: a regular file, a directory or a block device. poll
// and kqueue would accept some of these (poll calls them always ready,
// kqueue's read filter on a file reports the bytes left to read), so those
// backends ask first and all three answer ErrNotPollable alike.
func unpollable(fd int) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, err
	}
	switch uint32(st.Mode) & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFBLK:
		return true, nil
	}
	return false, nil
}

// waker is a self-pipe (an eventfd on Linux) that makes a wait return. A
// storm of wake calls costs one write: woken is 1 while a wake-up is
// pending in the descriptor.
type waker struct {
	r, w   int // the same eventfd on Linux
	woken  atomic.Int32
	closed atomic.Bool
}

func (wk *waker) wake() error {
	if wk.closed.Load() {
		return ErrClosed
	}
	if !wk.woken.CompareAndSwap(0, 1) {
		return nil
	}
	// Eight bytes: an eventfd takes nothing shorter, a pipe does not care.
	one := [8]byte{1}
	for {
		_, err := unix.Write(wk.w, one[:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN: // full: a wake-up is pending anyway
			return nil
		}
		return err
	}
}

// drain consumes the pending wake-up. The flag is cleared after the read:
// a wake call in between is merged into the wait now returning, never lost
// with the flag stuck at 1.
func (wk *waker) drain() {
	var buf [64]byte
	unix.Read(wk.r, buf[:])
	wk.woken.Store(0)
}

func (wk *waker) close() {
	if wk.closed.Swap(true) {
		return
	}
	unix.Close(wk.r)
	if wk.w != wk.r {
		unix.Close(wk.w)
	}
}
