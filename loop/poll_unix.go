//go:build unix

package loop

import (
	"time"

	"golang.org/x/sys/unix"
)

// poller is the poll(2) backend, the fallback of every Unix: it scans the
// whole set on each wait, so it is slower than epoll or kqueue with many
// fds, but it needs nothing beyond POSIX. Deadlines are precise to the
// nanosecond where ppoll exists (Linux, OpenBSD); elsewhere they are
// rounded up to the next millisecond, so that a wait never ends before
// its deadline and a sub-millisecond one does not spin.
type poller struct {
	// pfds[0] is the waker; the watched fds follow in no order.
	pfds []unix.PollFd
	// at[fd] is fd's position in pfds plus one, 0 if not watched.
	at    []int32
	wk    *waker
	ready []readyFd // one wait's results, reported after the scan
}

type readyFd struct {
	fd int
	ev Events
}

func init() {
	register("poll", 10, func() (Poller, error) { return newPollPoller() })
}

func newPollPoller() (*poller, error) {
	wk, err := openWaker()
	if err != nil {
		return nil, err
	}
	p := &poller{wk: wk}
	p.pfds = append(p.pfds, unix.PollFd{Fd: int32(wk.r), Events: unix.POLLIN})
	return p, nil
}

// pollBits is the type-neutral form of a PollFd's event field (int16 on
// most systems, uint16 on AIX, where POLLNVAL is 0x8000).
type pollBits interface{ ~int16 | ~uint16 }

func setPoll[T pollBits](dst *T, ev Events) { *dst = T(uint16(toPoll(ev))) }

func toPoll(ev Events) int {
	var e int
	if ev&Readable != 0 {
		e |= unix.POLLIN
	}
	if ev&Writable != 0 {
		e |= unix.POLLOUT
	}
	if ev&Priority != 0 {
		e |= unix.POLLPRI
	}
	return e
}

func fromPoll[T pollBits](revents T) Events {
	e := int(uint16(revents))
	var ev Events
	if e&unix.POLLIN != 0 {
		ev |= Readable
	}
	if e&unix.POLLOUT != 0 {
		ev |= Writable
	}
	if e&unix.POLLPRI != 0 {
		ev |= Priority
	}
	if e&unix.POLLHUP != 0 {
		ev |= Hangup
	}
	// POLLNVAL: the fd was closed while watched; epoll would have dropped
	// it, poll keeps reporting it until the caller deletes it.
	if e&(unix.POLLERR|unix.POLLNVAL) != 0 {
		ev |= Error
	}
	return ev
}

func (p *poller) slot(fd int) int {
	if fd < 0 || fd >= len(p.at) {
		return -1
	}
	return int(p.at[fd]) - 1
}

func (p *poller) Add(fd int, ev Events) error {
	if p.slot(fd) >= 0 {
		return unix.EEXIST
	}
	if fd < 0 {
		return unix.EBADF
	}
	switch no, err := unpollable(fd); {
	case err != nil:
		return err
	case no:
		return ErrNotPollable
	}
	for fd >= len(p.at) {
		p.at = append(p.at, make([]int32, len(p.at)+64)...)
	}
	p.pfds = append(p.pfds, unix.PollFd{Fd: int32(fd)})
	setPoll(&p.pfds[len(p.pfds)-1].Events, ev)
	p.at[fd] = int32(len(p.pfds))
	return nil
}

func (p *poller) Modify(fd int, ev Events) error {
	i := p.slot(fd)
	if i < 0 {
		return unix.ENOENT
	}
	setPoll(&p.pfds[i].Events, ev)
	return nil
}

func (p *poller) Delete(fd int) error {
	i := p.slot(fd)
	if i < 0 {
		return unix.ENOENT
	}
	last := len(p.pfds) - 1
	if i != last {
		p.pfds[i] = p.pfds[last]
		p.at[p.pfds[i].Fd] = int32(i + 1)
	}
	p.pfds = p.pfds[:last]
	p.at[fd] = 0
	return nil
}

func (p *poller) Wait(timeout time.Duration, fn func(fd int, ev Events)) (int, error) {
	if timeout > maxWait {
		timeout = maxWait
	}
	n, err := ppoll(p.pfds, timeout)
	if err == unix.EINTR {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	// Collected first, reported after: fn may Add or Delete, which
	// reorders pfds.
	p.ready = p.ready[:0]
	for i := 0; n > 0 && i < len(p.pfds); i++ {
		pf := &p.pfds[i]
		if pf.Revents == 0 {
			continue
		}
		n--
		if i == 0 {
			p.wk.drain()
			continue
		}
		p.ready = append(p.ready, readyFd{int(pf.Fd), fromPoll(pf.Revents)})
	}
	for _, r := range p.ready {
		fn(r.fd, r.ev)
	}
	return len(p.ready), nil
}

func (p *poller) Wake() error { return p.wk.wake() }

func (p *poller) Close() error {
	p.wk.close()
	return nil
}
