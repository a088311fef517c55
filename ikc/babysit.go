package ikc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poe-go/poe/poe"
)

// The babysitter (spec 13.2): every Babysit the parent looks its workers up
// in /proc. Missing ones are replaced; ones that used more CPU than
// RogueLimit are rogues, sent INT, then TERM, then KILL (one step every
// 2×Babysit), then given up on and replaced.
//
// Differences from Perl, on purpose: the CPU time is checked whatever the
// state in /proc says, because a Go worker's main thread may sleep while
// another thread spins; and a zombie is left to the kernel, which reaps
// every worker through its pidfd and then delivers the real CHLD.

// rogue is a worker over the CPU limit.
type rogue struct {
	tries int
}

// procStat is what the babysitter reads of /proc/<pid>/stat.
type procStat struct {
	state byte
	cpu   time.Duration // user + system
}

// clockTick is USER_HZ: /proc reports times in these (100 on Linux).
const clockTick = time.Second / 100

// readProcStat parses /proc/<pid>/stat; ok is false when the process is
// absent.
func readProcStat(pid int) (procStat, bool, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if os.IsNotExist(err) {
			return procStat{}, false, nil
		}
		return procStat{}, false, err
	}
	return parseProcStat(b)
}

// parseProcStat reads the state (field 3) and utime+stime (14, 15) after
// the command name, which may itself hold spaces and parentheses.
func parseProcStat(b []byte) (procStat, bool, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false, fmt.Errorf("ikc: malformed /proc stat")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return procStat{}, false, fmt.Errorf("ikc: short /proc stat")
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil || len(f[0]) != 1 {
		return procStat{}, false, fmt.Errorf("ikc: malformed /proc stat")
	}
	return procStat{state: f[0][0], cpu: time.Duration(ut+st) * clockTick}, true, nil
}

// babysit: look the workers up; queue fake CHLDs for missing ones and a
// rogues run for new rogues.
func (s *Server) babysit(e *poe.Event) any {
	k := e.Kernel
	if s.die || s.isChild {
		return nil
	}
	s.vlog("ikc: babysitting", "workers", len(s.children))
	var newRogues bool
	for pid := range s.children {
		st, ok, err := readProcStat(pid)
		switch {
		case err != nil:
			s.log.Warn("ikc: babysit", "worker", pid, "err", err)
		case !ok:
			s.vlog("ikc: worker missing; faking a CHLD", "worker", pid)
			k.Yield("sig_CHLD", "CHLD", pid, 0, true)
		case st.state == 'Z':
			// The kernel's pidfd watch reaps it and sends the real CHLD.
		case st.cpu > s.opts.RogueLimit:
			if s.rogues == nil {
				s.rogues = map[int]*rogue{}
			}
			if s.rogues[pid] == nil {
				s.log.Warn("ikc: worker has gone rogue", "worker", pid, "cpu", st.cpu)
				s.rogues[pid] = &rogue{}
				newRogues = true
			}
		default:
			delete(s.rogues, pid)
		}
	}
	if newRogues && !s.roguesArmed {
		s.roguesArmed = true
		k.Yield("rogues")
	}
	k.Delay("babysit", s.opts.Babysit)
	return nil
}

// rogues: one escalation step per rogue: INT, TERM, KILL, then give up.
func (s *Server) roguesRun(e *poe.Event) any {
	k := e.Kernel
	s.roguesArmed = false
	if s.die || s.isChild || len(s.rogues) == 0 {
		return nil
	}
	for pid, r := range s.rogues {
		var sig unix.Signal
		switch r.tries {
		case 0:
			sig = unix.SIGINT
		case 1:
			sig = unix.SIGTERM
		case 2:
			sig = unix.SIGKILL
		}
		r.tries++
		if sig == 0 {
			s.log.Warn("ikc: giving up on rogue worker; faking a CHLD", "worker", pid)
			k.Yield("sig_CHLD", "CHLD", pid, 0, true)
			delete(s.rogues, pid)
			continue
		}
		s.log.Warn("ikc: signalling rogue worker", "worker", pid, "signal", unix.SignalName(sig))
		if err := unix.Kill(pid, sig); err != nil {
			s.log.Warn("ikc: signalling rogue worker", "worker", pid, "err", err)
			delete(s.rogues, pid)
		}
	}
	if len(s.rogues) > 0 {
		s.roguesArmed = true
		k.Delay("rogues", 2*s.opts.Babysit)
	}
	return nil
}
