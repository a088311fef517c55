//go:build linux

package loop

import (
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// epoller is the Linux Poller: epoll for readiness, an eventfd for Wake and
// epoll_pwait2 for deadlines finer than epoll_wait's millisecond (a
// timerfd on kernels older than 5.11). It is modelled
// on gnet's pkg/netpoll but, unlike netpoll's Polling loop, hands control
// back to the caller after every wait so the kernel can run its batch and
// choose the next timeout (see docs/design.md).
type epoller struct {
	epfd    int
	wakefd  int
	timerfd int
	events  []unix.EpollEvent
	// woken is 1 while a wake-up is pending in the eventfd, so that a
	// storm of Wake calls costs one write.
	woken  atomic.Int32
	armed  bool // timerfd is armed
	closed atomic.Bool
	// noPwait2 is set once epoll_pwait2 (Linux 5.11+, nanosecond
	// timeouts in one system call) has answered ENOSYS.
	noPwait2 bool
	// The epoll fd as a file registered with the Go runtime's netpoller:
	// long waits park the goroutine on it instead of blocking a thread
	// in epoll_wait (see park). nil when the runtime refused it.
	pf     *os.File
	rc     syscall.RawConn
	readFn func(fd uintptr) bool // p.pollNow, bound once
	pn     int                   // pollNow's results
	perr   error
}

func init() {
	register("epoll", 0, func() (Poller, error) { return newEpoller() })
}

func newEpoller() (*epoller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &epoller{epfd: epfd, wakefd: -1, timerfd: -1, events: make([]unix.EpollEvent, 128)}
	if unix.SetNonblock(epfd, true) == nil {
		// The runtime polls a non-blocking fd given to NewFile; the file
		// owns epfd from now on.
		p.pf = os.NewFile(uintptr(epfd), "epoll")
		if rc, err := p.pf.SyscallConn(); err == nil {
			p.rc, p.readFn = rc, p.pollNow
		}
	}
	if p.wakefd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		p.Close()
		return nil, err
	}
	if p.timerfd, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC); err != nil {
		p.Close()
		return nil, err
	}
	for _, fd := range []int{p.wakefd, p.timerfd} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

func toEpoll(ev Events) uint32 {
	var e uint32
	if ev&Readable != 0 {
		e |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if ev&Writable != 0 {
		e |= unix.EPOLLOUT
	}
	if ev&Priority != 0 {
		e |= unix.EPOLLPRI
	}
	return e
}

func fromEpoll(e uint32) Events {
	var ev Events
	if e&(unix.EPOLLIN|unix.EPOLLRDHUP) != 0 {
		ev |= Readable
	}
	if e&unix.EPOLLOUT != 0 {
		ev |= Writable
	}
	if e&unix.EPOLLPRI != 0 {
		ev |= Priority
	}
	if e&unix.EPOLLHUP != 0 {
		ev |= Hangup
	}
	if e&unix.EPOLLERR != 0 {
		ev |= Error
	}
	return ev
}

func (p *epoller) Add(fd int, ev Events) error {
	e := unix.EpollEvent{Events: toEpoll(ev), Fd: int32(fd)}
	err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &e)
	if errors.Is(err, unix.EPERM) {
		// Regular files and some ttys cannot be polled; like select(),
		// treat them as always ready by reporting them from Wait.
		return ErrNotPollable
	}
	return err
}

func (p *epoller) Modify(fd int, ev Events) error {
	e := unix.EpollEvent{Events: toEpoll(ev), Fd: int32(fd)}
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &e)
}

func (p *epoller) Delete(fd int) error {
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

func (p *epoller) Wait(timeout time.Duration, fn func(fd int, ev Events)) (int, error) {
	n, err := p.wait(timeout)
	if err == unix.EINTR {
		// Interrupted by a signal (Go's preemption signals included):
		// nothing to report. The caller waits again for what is left,
		// which it knows without this wait reading the clock each time.
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	reported := 0
	for i := 0; i < n; i++ {
		e := &p.events[i]
		fd := int(e.Fd)
		switch fd {
		case p.wakefd:
			var buf [8]byte
			unix.Read(p.wakefd, buf[:])
			p.woken.Store(0)
			continue
		case p.timerfd:
			var buf [8]byte
			unix.Read(p.timerfd, buf[:])
			p.armed = false
			continue
		}
		fn(fd, fromEpoll(e.Events))
		reported++
	}
	if p.armed && n > 0 {
		// Woken by something else first: disarm so a stale expiry does
		// not cut a later wait short.
		unix.TimerfdSettime(p.timerfd, 0, &unix.ItimerSpec{}, nil)
		p.armed = false
	}
	if n == len(p.events) && n < 4096 {
		p.events = make([]unix.EpollEvent, 2*n)
	}
	return reported, nil
}

// rawWaitMax bounds the waits made without telling the Go scheduler. A
// blocking system call normally hands the goroutine's P to another thread
// after 20µs, which then spins looking for work: for the short waits
// between dense timers that costs more CPU than the wait itself. Waits
// shorter than this keep the P (delaying a GC stop-the-world by at most
// this long); longer ones use the ordinary, scheduler-aware call.
const rawWaitMax = 500 * time.Microsecond

// parkMargin is how long before a deadline a parked wait hands over to a
// precise one: the runtime's netpoller wakes with millisecond resolution.
const parkMargin = 2 * time.Millisecond

func (p *epoller) wait(timeout time.Duration) (int, error) {
	timeout = min(timeout, maxWait)
	if p.rc != nil && (timeout < 0 || timeout > 2*parkMargin) {
		var until time.Time
		if timeout > 0 {
			until = time.Now().Add(timeout)
		}
		if n, err, done := p.park(until); done {
			return n, err
		}
		if timeout > 0 {
			if timeout = time.Until(until); timeout <= 0 {
				return 0, nil
			}
		}
	}
	if timeout <= 0 {
		msec := 0
		if timeout < 0 {
			msec = -1
		}
		return unix.EpollWait(p.epfd, p.events, msec)
	}
	if !p.noPwait2 {
		ts := unix.NsecToTimespec(int64(timeout))
		call := unix.Syscall6
		if timeout < rawWaitMax {
			call = unix.RawSyscall6
		}
		r, _, errno := call(unix.SYS_EPOLL_PWAIT2, uintptr(p.epfd),
			uintptr(unsafe.Pointer(&p.events[0])), uintptr(len(p.events)),
			uintptr(unsafe.Pointer(&ts)), 0, 0)
		if errno != unix.ENOSYS {
			if errno != 0 {
				return 0, errno
			}
			return int(r), nil
		}
		p.noPwait2 = true
	}
	if timeout%time.Millisecond == 0 {
		return unix.EpollWait(p.epfd, p.events, int(timeout/time.Millisecond))
	}
	// Sub-millisecond precision without epoll_pwait2: a timerfd ends the
	// wait.
	ts := unix.NsecToTimespec(int64(timeout))
	if err := unix.TimerfdSettime(p.timerfd, 0, &unix.ItimerSpec{Value: ts}, nil); err != nil {
		return 0, err
	}
	p.armed = true
	return unix.EpollWait(p.epfd, p.events, -1)
}

// park waits for readiness with the goroutine parked on the runtime
// netpoller rather than a thread blocked in epoll_wait. A blocked thread
// loses its P to sysmon and each wake-up then goes through the scheduler's
// slow path (tens of µs); a parked goroutine is woken like a net.Conn
// reader. done is false when the wait stopped parkMargin short of until
// (the caller finishes it precisely) or parking is unavailable.
func (p *epoller) park(until time.Time) (n int, err error, done bool) {
	var deadline time.Time
	if !until.IsZero() {
		deadline = until.Add(-parkMargin)
	}
	if p.pf.SetReadDeadline(deadline) != nil {
		p.rc = nil
		return 0, nil, false
	}
	rerr := p.rc.Read(p.readFn)
	n, err = p.pn, p.perr
	switch {
	case rerr == nil:
		return n, err, true
	case errors.Is(rerr, os.ErrDeadlineExceeded):
		return 0, nil, false
	}
	p.rc = nil // not pollable after all: block in epoll_wait from now on
	return 0, nil, false
}

// pollNow is park's RawConn.Read callback: true once epoll has something.
func (p *epoller) pollNow(fd uintptr) bool {
	p.pn, p.perr = unix.EpollWait(int(fd), p.events, 0)
	if p.perr == unix.EINTR {
		p.pn, p.perr = 0, nil
	}
	return p.pn > 0 || p.perr != nil
}

func (p *epoller) Wake() error {
	if p.closed.Load() {
		return ErrClosed
	}
	if !p.woken.CompareAndSwap(0, 1) {
		return nil
	}
	one := uint64(1)
	_, err := unix.Write(p.wakefd, (*[8]byte)(unsafe.Pointer(&one))[:])
	if err == unix.EAGAIN {
		err = nil
	}
	return err
}

func (p *epoller) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	for _, fd := range []int{p.wakefd, p.timerfd} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	if p.pf != nil {
		return p.pf.Close()
	}
	if p.epfd >= 0 {
		unix.Close(p.epfd)
	}
	return nil
}
