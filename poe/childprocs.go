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
	chld *chldPoll // SIGCHLD polling: of pids without a pidfd, and for all
	// all: a session watches CHLD (Sig), so every child is reaped as it
	// exits, as POE reaps with waitpid(-1) while CHLD is watched.
	all bool
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
// The kernel reaps pid itself, so the caller must not also Wait for it
// (os/exec's Cmd.Wait would fail). On Linux it watches a pidfd; where
// there is none (macOS, the BSDs, Linux before 5.3) every SIGCHLD makes
// it try wait4(pid, WNOHANG) for each pid it was given. SigChild alone
// reaps only the pids it is given; a blanket Sig("CHLD") reaps every
// child (see reapAllChanged).
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
	k.startChld()
	k.procs.chld.n++
	// The child may have exited before SIGCHLD was caught: look once now.
	k.procs.chld.requestScan(k)
	return rec, nil
}

// startChld starts catching SIGCHLD, if not yet.
func (k *Kernel) startChld() {
	if k.procs.chld == nil {
		k.procs.chld = &chldPoll{ch: make(chan os.Signal, 1), done: make(chan struct{})}
		signal.Notify(k.procs.chld.ch, unix.SIGCHLD)
		go k.forwardChld(k.procs.chld)
	}
}

// stopChld stops catching SIGCHLD once nothing needs it.
func (k *Kernel) stopChld() {
	c := k.procs.chld
	if c == nil || c.n > 0 || k.procs.all {
		return
	}
	signal.Stop(c.ch)
	close(c.done)
	k.procs.chld = nil
}

// reapAllChanged follows the blanket CHLD watchers (Sig). While at least
// one session watches CHLD, POE reaps every child with waitpid(-1) on
// each SIGCHLD, registered with sig_child or not, and raises CHLD for
// each; so does the kernel, looking once at once as POE polls once when
// the watch begins. Without a watcher it reaps only the pids given to
// SigChild, never wait(-1): that would take the exit status from
// os/exec's Cmd.Wait, which a Go program calls from any goroutine, where
// Perl's system and waitpid run between POE's handlers. A program that
// watches CHLD has asked for POE's reaping and must not Wait for its
// children; one that watches nothing keeps its unwaited children as
// zombies, as POE does until run returns (where POE reaps and warns).
func (k *Kernel) reapAllChanged() {
	all := k.signals.watchers["CHLD"] > 0
	if all == k.procs.all {
		return
	}
	k.procs.all = all
	if !all {
		k.stopChld()
		return
	}
	k.startChld()
	k.procs.chld.requestScan(k)
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

// scanPids tries to reap each polled pid, or every child while CHLD is
// watched.
func (k *Kernel) scanPids() {
	if k.procs.all {
		k.reapAll()
	}
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
	k.reaped(rec, status)
}

// reapAll reaps every child that has exited, as POE's _data_sig_reap_pids
// does: the sig_child watchers of a registered pid get their events, and
// every pid raises CHLD.
func (k *Kernel) reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return // ECHILD: no children; 0: none has exited
		}
		if rec := k.procs.pids[pid]; rec != nil {
			k.reaped(rec, int(ws))
			continue
		}
		k.enqueuePost(kindSignal, k.self, k.self, "CHLD", []any{pid, int(ws)})
	}
}

// reaped delivers the exit of a watched pid.
func (k *Kernel) reaped(rec *pidRec, status int) {
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
	k.procs.chld.n--
	k.stopChld()
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
