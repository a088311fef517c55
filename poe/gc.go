package poe

// Liveness, as POE decides it (docs/poe-semantics.md §1.9): a session
// lives while its refcount (queued items to and from it, children,
// aliases, extra references, watched fds, watched PIDs) is positive. A
// session whose count drops to zero is marked, and the sweep at the end
// of each batch stops it, so a handler that just lost its last hold can
// still make new ones.

func (k *Kernel) refInc(s *Session) {
	if s == k.self {
		return
	}
	s.refcount++
	if s.refcount == 1 {
		s.marked = false
	}
}

func (k *Kernel) refDec(s *Session) {
	if s == k.self {
		return
	}
	s.refcount--
	if s.refcount <= 0 {
		k.mark(s)
	}
}

func (k *Kernel) mark(s *Session) {
	if !s.marked && !s.freed {
		s.marked = true
		k.sessions.marks = append(k.sessions.marks, s)
	}
}

// gcSweep stops marked sessions, most recently marked first, until no mark
// is left (stopping one may mark its parent).
func (k *Kernel) gcSweep() {
	for len(k.sessions.marks) > 0 {
		round := k.sessions.marks
		k.sessions.marks = k.sessions.swept[:0]
		for i := len(round) - 1; i >= 0; i-- {
			s := round[i]
			round[i] = nil
			if s.marked && s.refcount <= 0 && !s.freed && !s.stopping {
				s.marked = false
				k.stopSession(s)
			}
		}
		k.sessions.swept = round[:0]
	}
}

// descendants returns s and every session below it, breadth first,
// children in ascending ID order.
func (k *Kernel) descendants(s *Session) []*Session {
	out := []*Session{s}
	for i := 0; i < len(out); i++ {
		out = out[i].appendChildren(out)
	}
	return out
}

// maybeIdle posts IDLE to the kernel when nothing can happen any more: no
// work queued (a new session's internal GC item counts, as in POE: it is
// popped in the next batch, so a session that holds nothing is stopped by
// the sweep before any IDLE), no fd watched (paused ones count), no extra
// reference anywhere and no child process awaited. Aliases and parent
// links do not count: IDLE is how they end.
func (k *Kernel) maybeIdle() {
	if k.queue.queued == 0 && k.fds.watched == 0 && k.extrefs.total == 0 && len(k.procs.pids) == 0 && k.sessions.n > 0 {
		k.enqueuePost(kindSignal, k.self, k.self, "IDLE", nil)
	}
}
