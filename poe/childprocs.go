package poe

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// childProcs is the child process side of POE::Resource::Signals
// (sig_child): the pids awaited, and how their exits are learnt.
type childProcs struct {
	pids map[int]*pidRec
	chld *chldPoll // SIGCHLD polling of pids without a pidfd
}

type pidWatch struct {
	s     *Session
	event string
	args  []any
}

type pidRec struct {
	pid      int
	fd       int // pidfd; -1 when the kernel polls the pid on SIGCHLD
	watchers []pidWatch
}

// SigChild makes the active session receive event once child process pid
// exits: ARG0 = "CHLD", ARG1 = pid, ARG2 = the wait status as Perl's $?
// (exit code << 8 | signal), then args; SENDER is the kernel. The watch
// holds the session alive and the kernel busy until then. Afterwards a
// CHLD signal (pid, status) is broadcast to every Sig("CHLD") watcher.
// An empty event cancels this session's watch.
//
// The kernel reaps pid itself (never wait(-1)), so the caller must not
// also Wait for it (os/exec's Cmd.Wait would fail). On Linux it watches a
// pidfd; where there is none (macOS, the BSDs, Linux before 5.3) every
// SIGCHLD makes it try wait4(pid, WNOHANG) for each pid it was given.
func (k *Kernel) SigChild(pid int, event string, args ...any) error {
	s := k.active
	if s == k.self {
		return ErrNoActiveSession
	}
	rec := k.procs.pids[pid]
	if event == "" {
		if rec != nil {
			k.dropPidWatch(rec, s)
		}
		return nil
	}
	if rec == nil {
		var err error
		if rec, err = k.watchPid(pid); err != nil {
			return fmt.Errorf("poe: sig_child(%d): %w", pid, err)
		}
	}
	w := pidWatch{s: s, event: event, args: append([]any(nil), args...)}
	for i := range rec.watchers {
		if rec.watchers[i].s == s {
			// POE counts a second registration twice and releases once
			// (its session never stops); we replace the first.
			rec.watchers[i] = w
			return nil
		}
	}
	rec.watchers = append(rec.watchers, w)
	s.pids++
	k.refInc(s)
	return nil
}

// pidfdOpen opens a non-blocking pidfd (a variable so that tests can take
// the SIGCHLD path on Linux too).
var pidfdOpen = openPidfd

// watchPid starts watching pid: through a pidfd where the system has them,
// else by polling on SIGCHLD.
func (k *Kernel) watchPid(pid int) (*pidRec, error) {
	fd, err := pidfdOpen(pid)
	if err == nil {
		rec := &pidRec{pid: pid, fd: fd}
		k.procs.pids[pid] = rec
		if err := k.watchInternal(fd, func() { k.reap(rec) }); err != nil {
			delete(k.procs.pids, pid)
			unix.Close(fd)
			return nil, err
		}
		return rec, nil
	}
	// ENOSYS: no pidfd_open (not Linux, or older than 5.3); EPERM: a
	// seccomp filter refused it.
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) {
		return nil, err
	}
	if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
		return nil, err // as pidfd_open: no such process
	}
	rec := &pidRec{pid: pid, fd: -1}
	k.procs.pids[pid] = rec
	if k.procs.chld == nil {
		k.procs.chld = &chldPoll{ch: make(chan os.Signal, 1), done: make(chan struct{})}
		signal.Notify(k.procs.chld.ch, unix.SIGCHLD)
		go k.forwardChld(k.procs.chld)
	}
	k.procs.chld.n++
	// The child may have exited before SIGCHLD was caught: look once now.
	k.procs.chld.requestScan(k)
	return rec, nil
}

// chldPoll is the SIGCHLD side of child reaping where pidfds are missing.
type chldPoll struct {
	ch      chan os.Signal
	done    chan struct{}
	n       int         // pids polled (kernel goroutine only)
	pending atomic.Bool // a scan is queued on the kernel
}

func (k *Kernel) forwardChld(c *chldPoll) {
	for {
		select {
		case <-c.ch:
			c.requestScan(k)
		case <-c.done:
			return
		}
	}
}

// requestScan queues one scan of the polled pids on the kernel; signals
// that arrive before it runs are folded into it.
func (c *chldPoll) requestScan(k *Kernel) {
	if !c.pending.CompareAndSwap(false, true) {
		return
	}
	// inject rather than onKernel: a kernel between two Runs keeps the
	// scan for the next one.
	k.inject(injected{fn: func(ok bool) {
		c.pending.Store(false)
		if ok {
			k.scanPids()
		}
	}})
}

// scanPids tries to reap each polled pid.
func (k *Kernel) scanPids() {
	for _, rec := range k.procs.pids {
		if rec.fd < 0 {
			k.reap(rec)
		}
	}
}

func (k *Kernel) reap(rec *pidRec) {
	var ws unix.WaitStatus
	wpid, err := unix.Wait4(rec.pid, &ws, unix.WNOHANG, nil)
	if wpid == 0 && err == nil {
		return // not yet
	}
	status := int(ws)
	if err != nil {
		// Reaped by someone else: the status is lost.
		k.log.Warn("poe: child was reaped elsewhere; status unknown", "pid", rec.pid, "err", err)
		status = -1
	}
	k.closePid(rec)
	for _, w := range rec.watchers {
		args := append([]any{"CHLD", rec.pid, status}, w.args...)
		k.enqueuePost(kindPost, w.s, k.self, w.event, args)
		w.s.pids--
		k.refDec(w.s)
	}
	rec.watchers = nil
	k.enqueuePost(kindSignal, k.self, k.self, "CHLD", []any{rec.pid, status})
}

func (k *Kernel) closePid(rec *pidRec) {
	delete(k.procs.pids, rec.pid)
	if rec.fd >= 0 {
		k.unwatchInternal(rec.fd)
		unix.Close(rec.fd)
		return
	}
	if k.procs.chld.n--; k.procs.chld.n == 0 {
		signal.Stop(k.procs.chld.ch)
		close(k.procs.chld.done)
		k.procs.chld = nil
	}
}

func (k *Kernel) dropPidWatch(rec *pidRec, s *Session) {
	for i, w := range rec.watchers {
		if w.s == s {
			rec.watchers = append(rec.watchers[:i], rec.watchers[i+1:]...)
			s.pids--
			k.refDec(s)
			break
		}
	}
	if len(rec.watchers) == 0 {
		k.closePid(rec)
	}
}

func (k *Kernel) dropPidWatches(s *Session) {
	if s.pids == 0 {
		return
	}
	for _, rec := range k.procs.pids {
		k.dropPidWatch(rec, s)
	}
}
