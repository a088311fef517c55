package poe

import (
	"fmt"
	"syscall"
	"time"

	"github.com/poe-go/poe/loop"
)

// Watch modes, as POE numbers them in ARG1 of a readiness event.
const (
	ModeRead     = 0
	ModeWrite    = 1
	ModeExpedite = 2
)

type fdWatch struct {
	s     *Session
	event string
	args  []any
	gone  bool
}

type fdRec struct {
	fd         int
	handle     any
	watchers   [3][]*fdWatch
	paused     [3]bool
	interest   loop.Events // what the watchers want now
	reg        loop.Events // what epoll was last told (while inPoller)
	inPoller   bool
	checked    bool // added to epoll once: known to be pollable
	dirty      bool // in Kernel.dirtyFds: interest and reg differ
	gone       bool // forgotten: nobody watches it any more
	unpollable bool // regular files: always ready, like select()
	internal   func()
	counted    bool // in watchedFds (user watches; internal ones are not)
}

// fileHandles is POE::Resource::FileHandles: the watched fds, what the
// poller was told of them, and the readiness it reported.
type fileHandles struct {
	recs    map[int]*fdRec
	watched int      // fds with at least one watcher (paused included)
	active  int      // fds with an unpaused mode registered in the poller
	dirty   []*fdRec // fds whose interest changed since the last wait
	always  int      // unpollable fds (regular files): always ready
	ready   []readyFd
	readyFn func(fd int, ev loop.Events) // onReady, bound once
	ioArgs  []any                        // a readiness event's arguments, reused
}

type readyFd struct {
	fd int
	ev loop.Events
}

var modeEvents = [3]loop.Events{loop.Readable, loop.Writable, loop.Priority}

// FD returns the file descriptor behind a handle: an int, a uintptr, or
// anything with SyscallConn (net.Conn, net.Listener, *os.File). It does not
// call os.File.Fd, which would switch the file to blocking mode.
func FD(h any) (int, error) {
	switch v := h.(type) {
	case int:
		return v, nil
	case uintptr:
		return int(v), nil
	case syscall.Conn:
		rc, err := v.SyscallConn()
		if err != nil {
			return -1, err
		}
		fd := -1
		if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
			return -1, err
		}
		return fd, nil
	}
	return -1, fmt.Errorf("poe: %T is not a file descriptor or syscall.Conn: %w", h, syscall.EBADF)
}

// SelectRead makes the active session watch h for readability: each
// timeslice in which h is readable dispatches event with ARG0 = h, ARG1 =
// ModeRead, then args. An empty event removes the watcher. As in POE,
// watching a handle the session already watches for reading does not
// change the event or args; it only resumes the watcher.
func (k *Kernel) SelectRead(h any, event string, args ...any) error {
	return k.selectMode(h, ModeRead, event, args)
}

// SelectWrite is SelectRead for writability (ModeWrite).
func (k *Kernel) SelectWrite(h any, event string, args ...any) error {
	return k.selectMode(h, ModeWrite, event, args)
}

// SelectExpedite is SelectRead for out-of-band data (ModeExpedite).
func (k *Kernel) SelectExpedite(h any, event string, args ...any) error {
	return k.selectMode(h, ModeExpedite, event, args)
}

// Select sets or clears (with "") all three watchers of h at once.
func (k *Kernel) Select(h any, readEvent, writeEvent, expediteEvent string, args ...any) error {
	for mode, ev := range []string{readEvent, writeEvent, expediteEvent} {
		if err := k.selectMode(h, mode, ev, args); err != nil {
			return err
		}
	}
	return nil
}

// SelectPauseRead stops polling h for reading without unregistering; any
// session may pause a handle. It reports whether anyone watches h for
// reading. A paused watcher still holds its session and the kernel alive.
func (k *Kernel) SelectPauseRead(h any) bool { return k.pause(h, ModeRead, true) }

// SelectResumeRead undoes SelectPauseRead.
func (k *Kernel) SelectResumeRead(h any) bool { return k.pause(h, ModeRead, false) }

// SelectPauseWrite stops polling h for writing.
func (k *Kernel) SelectPauseWrite(h any) bool { return k.pause(h, ModeWrite, true) }

// SelectResumeWrite undoes SelectPauseWrite.
func (k *Kernel) SelectResumeWrite(h any) bool { return k.pause(h, ModeWrite, false) }

func (k *Kernel) selectMode(h any, mode int, event string, args []any) error {
	k.onGoroutine()
	s := k.active
	if s == k.self {
		return ErrNoActiveSession
	}
	fd, err := FD(h)
	if err != nil {
		return err
	}
	if event == "" {
		k.unwatch(s, fd, mode)
		return nil
	}
	if err := k.ensurePoller(); err != nil {
		return err
	}
	rec := k.fds.recs[fd]
	if rec == nil {
		rec = &fdRec{fd: fd, handle: h, counted: true}
		k.fds.recs[fd] = rec
		k.fds.watched++
	}
	for _, w := range rec.watchers[mode] {
		if w.s == s {
			rec.paused[mode] = false
			return k.updateInterest(rec)
		}
	}
	rec.watchers[mode] = append(rec.watchers[mode], &fdWatch{s: s, event: event, args: append([]any(nil), args...)})
	rec.paused[mode] = false
	if s.fdModes == nil {
		s.fdModes = map[int]uint8{}
	}
	if s.fdModes[fd] == 0 {
		k.refInc(s)
	}
	s.fdModes[fd] |= 1 << mode
	if err := k.updateInterest(rec); err != nil {
		k.unwatch(s, fd, mode)
		return err
	}
	return nil
}

func (k *Kernel) pause(h any, mode int, paused bool) bool {
	k.onGoroutine()
	fd, err := FD(h)
	if err != nil {
		return false
	}
	rec := k.fds.recs[fd]
	if rec == nil || len(rec.watchers[mode]) == 0 {
		return false
	}
	rec.paused[mode] = paused
	k.updateInterest(rec)
	return true
}

func (k *Kernel) unwatch(s *Session, fd, mode int) {
	rec := k.fds.recs[fd]
	if rec == nil {
		return
	}
	ws := rec.watchers[mode]
	for i, w := range ws {
		if w.s == s {
			w.gone = true
			rec.watchers[mode] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if bits := s.fdModes[fd] &^ (1 << mode); bits != s.fdModes[fd] {
		if bits == 0 {
			delete(s.fdModes, fd)
			k.refDec(s)
		} else {
			s.fdModes[fd] = bits
		}
	}
	k.updateInterest(rec)
}

func (k *Kernel) unwatchAll(s *Session, fd int) {
	for mode := 0; mode < 3; mode++ {
		k.unwatch(s, fd, mode)
	}
}

// updateInterest works out what rec wants of the poller and forgets rec
// when nobody watches it. A first registration is made at once (so that an
// fd epoll refuses is known to the caller) and so is a removal (the fd may
// be closed next); changes in between are applied by applyInterest just
// before the reactor waits, so that a pause and resume, or the watch-then-
// pause of a new wheel, within one timeslice cost no system call.
func (k *Kernel) updateInterest(rec *fdRec) error {
	var want loop.Events
	n := 0
	for mode := 0; mode < 3; mode++ {
		if len(rec.watchers[mode]) > 0 {
			n++
			if !rec.paused[mode] {
				want |= modeEvents[mode]
			}
		}
	}
	if rec.internal != nil {
		n++
		want |= loop.Readable
	}
	if n == 0 {
		k.fds.setActive(rec, 0)
		if rec.inPoller {
			k.poller.Delete(rec.fd) // the fd may be closed already
			rec.inPoller = false
		}
		rec.gone = true
		delete(k.fds.recs, rec.fd)
		if rec.counted {
			k.fds.watched--
		}
		return nil
	}
	if !rec.inPoller && !rec.checked && !rec.unpollable && want != 0 {
		err := k.poller.Add(rec.fd, want)
		switch {
		case err == loop.ErrNotPollable:
			rec.unpollable = true
		case err != nil:
			return fmt.Errorf("poe: watching fd %d: %w", rec.fd, err)
		default:
			rec.inPoller, rec.reg = true, want
		}
		rec.checked = true
	}
	k.fds.setActive(rec, want)
	if !rec.unpollable && !rec.dirty && (want != rec.reg || rec.inPoller != (want != 0)) {
		rec.dirty = true
		k.fds.dirty = append(k.fds.dirty, rec)
	}
	return nil
}

// applyInterest brings the poller up to date with the fds whose interest
// changed since the last wait. A watcher whose every mode is paused takes
// its fd out of epoll altogether, since epoll reports hangups and errors
// whatever the interest set, and a paused watcher on a dead fd would spin
// the loop.
func (k *Kernel) applyInterest() {
	for i, rec := range k.fds.dirty {
		k.fds.dirty[i] = nil
		rec.dirty = false
		if rec.gone {
			continue
		}
		want := rec.interest
		var err error
		switch {
		case want == 0:
			if rec.inPoller {
				err = k.poller.Delete(rec.fd)
				rec.inPoller = false
			}
		case !rec.inPoller:
			if err = k.poller.Add(rec.fd, want); err == nil {
				rec.inPoller, rec.reg = true, want
			}
		case want != rec.reg:
			if err = k.poller.Modify(rec.fd, want); err == nil {
				rec.reg = want
			}
		}
		if err != nil {
			k.log.Warn("poe: updating the watch of a file descriptor failed (was it closed while watched?)", "fd", rec.fd, "err", err)
		}
	}
	k.fds.dirty = k.fds.dirty[:0]
}

func (t *fileHandles) setActive(rec *fdRec, want loop.Events) {
	was, is := rec.interest != 0, want != 0
	rec.interest = want
	if was == is {
		return
	}
	d := 1
	if !is {
		d = -1
	}
	t.active += d
	if rec.unpollable {
		t.always += d
	}
}

func (t *fileHandles) onReady(fd int, ev loop.Events) {
	t.ready = append(t.ready, readyFd{fd, ev})
}

// poll waits for I/O up to timeout and dispatches readiness: all read
// watchers, then write, then expedite, each group followed by a sweep.
//
// The clock is read once on each side of a wait that may block, for
// Stats.Waited: before it only if the last reading is not fresh (clocked:
// the caller just read it, and no interest change went to the poller
// since), after it always, which dispatchDue then uses unless I/O
// handlers ran.
func (k *Kernel) poll(timeout time.Duration, clocked bool) {
	k.fds.ready = k.fds.ready[:0]
	k.stats.Polls++
	if len(k.fds.dirty) > 0 {
		k.applyInterest()
		clocked = false
	}
	var t0 int64
	if timeout != 0 {
		if t0 = k.clock.now; !clocked {
			t0 = k.clock.read()
		}
		k.bridge.guard.Or(guardWaiting) // from here only other goroutines can call in (bridge.go)
	}
	_, err := k.poller.Wait(timeout, k.fds.readyFn)
	if timeout != 0 {
		k.bridge.guard.And(^uint32(guardWaiting))
	}
	if err != nil {
		k.log.Error("poe: reactor wait failed", "err", err)
	}
	if timeout != 0 {
		k.stats.Waited += time.Duration(k.clock.read() - t0)
		k.clock.fresh = true
	}
	if k.fds.always > 0 {
		for _, rec := range k.fds.recs {
			if rec.unpollable && rec.interest != 0 {
				k.fds.ready = append(k.fds.ready, readyFd{rec.fd, rec.interest})
			}
		}
	}
	if len(k.fds.ready) == 0 {
		return
	}
	k.clock.fresh = false
	for mode := 0; mode < 3; mode++ {
		for i := 0; i < len(k.fds.ready); i++ {
			r := k.fds.ready[i]
			rec := k.fds.recs[r.fd]
			if rec == nil {
				continue
			}
			if rec.internal != nil {
				if mode == ModeRead {
					rec.internal()
				}
				continue
			}
			var hit bool
			switch mode {
			case ModeRead:
				hit = r.ev&(loop.Readable|loop.Hangup|loop.Error) != 0
			case ModeWrite:
				hit = r.ev&(loop.Writable|loop.Hangup|loop.Error) != 0
			case ModeExpedite:
				hit = r.ev&loop.Priority != 0
			}
			if !hit || rec.paused[mode] || len(rec.watchers[mode]) == 0 {
				continue
			}
			ws := rec.watchers[mode]
			if len(ws) == 1 {
				k.fire(ws[0], rec, mode)
				continue
			}
			for _, w := range append([]*fdWatch(nil), ws...) {
				k.fire(w, rec, mode)
			}
		}
		k.gcSweep()
	}
}

func (k *Kernel) fire(w *fdWatch, rec *fdRec, mode int) {
	if w.gone || w.s.freed || rec.paused[mode] {
		return
	}
	k.fds.ioArgs = append(append(k.fds.ioArgs[:0], rec.handle, mode), w.args...)
	k.dispatch(w.s, w.s, w.event, k.fds.ioArgs, "", "", 0, modeQueued)
	clear(k.fds.ioArgs)
}

// watchInternal registers an fd the kernel itself services (pidfds).
func (k *Kernel) watchInternal(fd int, fn func()) error {
	if err := k.ensurePoller(); err != nil {
		return err
	}
	rec := &fdRec{fd: fd, internal: fn}
	k.fds.recs[fd] = rec
	return k.updateInterest(rec)
}

func (k *Kernel) unwatchInternal(fd int) {
	rec := k.fds.recs[fd]
	if rec == nil || rec.internal == nil {
		return
	}
	rec.internal = nil
	k.updateInterest(rec)
}
