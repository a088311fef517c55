package poe

import (
	"fmt"

	"golang.org/x/sys/unix"
)

type pidWatch struct {
	s     *Session
	event string
	args  []any
}

type pidRec struct {
	pid      int
	fd       int // pidfd
	watchers []pidWatch
}

// SigChild makes the active session receive event once child process pid
// exits: ARG0 = "CHLD", ARG1 = pid, ARG2 = the wait status as Perl's $?
// (exit code << 8 | signal), then args; SENDER is the kernel. The watch
// holds the session alive and the kernel busy until then. Afterwards a
// CHLD signal (pid, status) is broadcast to every Sig("CHLD") watcher.
// An empty event cancels this session's watch.
//
// The kernel reaps pid itself (through a pidfd, never wait(-1)), so the
// caller must not also Wait for it (os/exec's Cmd.Wait would fail).
func (k *Kernel) SigChild(pid int, event string, args ...any) error {
	s := k.active
	if s == k.self {
		return ErrNoActiveSession
	}
	rec := k.pids[pid]
	if event == "" {
		if rec != nil {
			k.dropPidWatch(rec, s)
		}
		return nil
	}
	if rec == nil {
		fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
		if err != nil {
			return fmt.Errorf("poe: sig_child(%d): %w", pid, err)
		}
		rec = &pidRec{pid: pid, fd: fd}
		k.pids[pid] = rec
		if err := k.watchInternal(fd, func() { k.reap(rec) }); err != nil {
			delete(k.pids, pid)
			unix.Close(fd)
			return err
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
	delete(k.pids, rec.pid)
	k.unwatchInternal(rec.fd)
	unix.Close(rec.fd)
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
	for _, rec := range k.pids {
		k.dropPidWatch(rec, s)
	}
}
