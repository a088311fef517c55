//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package loop

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// kqueuer is the Poller of macOS and the BSDs. kqueue watches a filter per
// condition (read, write, out-of-band), so one fd may come back as several
// events from one wait: they are merged into one report. Deadlines are
// kevent's timespec, precise to the nanosecond. Wake triggers an
// EVFILT_USER event where the system has one (not OpenBSD, nor NetBSD
// before 10), else writes to a self-pipe.
type kqueuer struct {
	kq     int
	events []unix.Kevent_t
	// fds[fd] is what fd is registered for, with watched set while it is
	// registered at all (Modify to 0 keeps it).
	fds []kqfd
	gen uint32 // one per wait, to merge one fd's events
	out []readyFd
	// user: Wake triggers EVFILT_USER; woken is 1 while that trigger is
	// pending, so that a storm of Wake calls costs one system call.
	user   bool
	woken  atomic.Int32
	closed atomic.Bool
	wk     *waker // the self-pipe, when !user
}

type kqfd struct {
	reg  Events
	gen  uint32 // the wait that last reported this fd
	slot int32  // its place in out during that wait
}

const watched Events = 1 << 31

// userIdent is the ident of the wake-up event (in its own filter, so it
// does not clash with fd 0).
const userIdent = 0

// ErrPriorityUnsupported is returned by the kqueue backend's Add and
// Modify for Priority on systems whose kqueue has no out-of-band filter
// (FreeBSD, NetBSD); the poll backend (POE_LOOP=poll) has it.
var ErrPriorityUnsupported = fmt.Errorf("loop: kqueue on this system cannot watch for out-of-band data: %w", errors.ErrUnsupported)

func init() {
	register("kqueue", 0, func() (Poller, error) { return newKqueuer() })
}

func newKqueuer() (*kqueuer, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(kq)
	p := &kqueuer{kq: kq, events: make([]unix.Kevent_t, 128)}
	if hasUserFilter {
		var k unix.Kevent_t
		unix.SetKevent(&k, userIdent, userFilter, unix.EV_ADD|unix.EV_CLEAR)
		p.user = p.change(k) == nil
	}
	if !p.user {
		// No EVFILT_USER, or the kernel refused it (NetBSD 9).
		if p.wk, err = openWaker(); err == nil {
			err = p.setFilter(p.wk.r, unix.EVFILT_READ, true)
		}
		if err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

// change applies one change; kevent reports its failure as the call's.
func (p *kqueuer) change(k unix.Kevent_t) error {
	for {
		_, err := unix.Kevent(p.kq, []unix.Kevent_t{k}, nil, nil)
		if err != unix.EINTR {
			return err
		}
	}
}

func (p *kqueuer) setFilter(fd, filter int, on bool) error {
	var k unix.Kevent_t
	flags := unix.EV_DELETE
	if on {
		flags = unix.EV_ADD // level-triggered: no EV_CLEAR
	}
	unix.SetKevent(&k, fd, filter, flags)
	if filter == oobFilter && hasOOBFilter {
		k.Fflags = noteOOB
	}
	return p.change(k)
}

func (p *kqueuer) rec(fd int) *kqfd {
	for fd >= len(p.fds) {
		p.fds = append(p.fds, make([]kqfd, len(p.fds)+64)...)
	}
	return &p.fds[fd]
}

// set registers exactly the filters of ev. With all, every wanted filter
// is added whatever the record says: after a close the system dropped
// them, and the fd number may be back for another file.
func (p *kqueuer) set(fd int, ev Events, all bool) error {
	if ev&Priority != 0 && !hasOOBFilter {
		return ErrPriorityUnsupported
	}
	r := p.rec(fd)
	filters := [...]struct {
		ev     Events
		filter int
	}{{Readable, unix.EVFILT_READ}, {Writable, unix.EVFILT_WRITE}, {Priority, oobFilter}}
	for _, f := range filters {
		if f.ev == Priority && !hasOOBFilter {
			continue
		}
		want, has := ev&f.ev != 0, r.reg&f.ev != 0
		if want == has && !(all && want) {
			continue
		}
		err := p.setFilter(fd, f.filter, want)
		switch {
		case err == unix.ENOENT && !want:
			// gone already (the fd was closed)
		case err == unix.EINVAL || err == unix.ENODEV || err == unix.EOPNOTSUPP:
			// A valid fd kqueue cannot watch (a device on macOS).
			return ErrNotPollable
		case err != nil:
			return err
		}
		r.reg = r.reg&^f.ev | ev&f.ev
	}
	r.reg |= watched
	return nil
}

func (p *kqueuer) Add(fd int, ev Events) error {
	if fd < 0 {
		return unix.EBADF
	}
	switch no, err := unpollable(fd); {
	case err != nil:
		return err
	case no:
		return ErrNotPollable
	}
	if err := p.set(fd, ev, true); err != nil {
		p.set(fd, 0, false) // undo a partial registration
		p.fds[fd].reg = 0
		return err
	}
	return nil
}

func (p *kqueuer) Modify(fd int, ev Events) error {
	if fd < 0 || fd >= len(p.fds) || p.fds[fd].reg&watched == 0 {
		return unix.ENOENT
	}
	return p.set(fd, ev, false)
}

func (p *kqueuer) Delete(fd int) error {
	if fd < 0 || fd >= len(p.fds) || p.fds[fd].reg&watched == 0 {
		return unix.ENOENT
	}
	err := p.set(fd, 0, false)
	p.fds[fd].reg = 0
	return err
}

func fromKevent(k *unix.Kevent_t) Events {
	var ev Events
	switch int(k.Filter) {
	case unix.EVFILT_READ:
		ev = Readable
	case unix.EVFILT_WRITE:
		ev = Writable
	default: // the out-of-band filter
		ev = Priority
	}
	if k.Flags&unix.EV_EOF != 0 {
		ev |= Hangup
		if k.Fflags != 0 { // a socket error, in fflags
			ev |= Error
		}
	}
	if k.Flags&unix.EV_ERROR != 0 {
		ev |= Error
	}
	return ev
}

func (p *kqueuer) Wait(timeout time.Duration, fn func(fd int, ev Events)) (int, error) {
	var tsp *unix.Timespec
	if timeout >= 0 {
		ts := unix.NsecToTimespec(int64(min(timeout, maxWait)))
		tsp = &ts
	}
	n, err := unix.Kevent(p.kq, nil, p.events, tsp)
	if err == unix.EINTR {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	p.gen++
	p.out = p.out[:0]
	for i := 0; i < n; i++ {
		k := &p.events[i]
		fd := int(k.Ident)
		switch {
		case p.user && int(k.Filter) == userFilter && fd == userIdent:
			p.woken.Store(0)
			continue
		case !p.user && fd == p.wk.r && int(k.Filter) == unix.EVFILT_READ:
			p.wk.drain()
			continue
		case fd >= len(p.fds) || p.fds[fd].reg&watched == 0:
			continue // deleted since the kernel queued it
		}
		r := &p.fds[fd]
		if r.gen == p.gen {
			p.out[r.slot].ev |= fromKevent(k)
			continue
		}
		r.gen, r.slot = p.gen, int32(len(p.out))
		p.out = append(p.out, readyFd{fd, fromKevent(k)})
	}
	for _, r := range p.out {
		fn(r.fd, r.ev)
	}
	if n == len(p.events) && n < 4096 {
		p.events = make([]unix.Kevent_t, 2*n)
	}
	return len(p.out), nil
}

func (p *kqueuer) Wake() error {
	if !p.user {
		return p.wk.wake()
	}
	if p.closed.Load() {
		return ErrClosed
	}
	if !p.woken.CompareAndSwap(0, 1) {
		return nil
	}
	var k unix.Kevent_t
	unix.SetKevent(&k, userIdent, userFilter, 0)
	k.Fflags = noteTrigger
	return p.change(k)
}

func (p *kqueuer) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	if p.wk != nil {
		p.wk.close()
	}
	return unix.Close(p.kq)
}
