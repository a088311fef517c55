package ikc

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poe-go/poe/poe"
)

// The babysitter (ikc-protocol.md §13.2): every Babysit the parent looks its workers up
// (/proc on Linux, ps(1) elsewhere: see lookupWorkers). Missing ones are
// replaced; ones that used more CPU than RogueLimit are rogues, sent INT,
// then TERM, then KILL (one step every 2×Babysit), then given up on and
// replaced.
//
// Differences from Perl, on purpose: the CPU time is checked whatever the
// process state says, because a Go worker's main thread may sleep while
// another thread spins; and a zombie is left to the kernel, which reaps
// every worker it watches (SigChild) and then delivers the real CHLD.

// rogue is a worker over the CPU limit.
type rogue struct {
	tries int
}

// procStat is what the babysitter learns of a process.
type procStat struct {
	state byte          // 'Z' for a zombie; 0 when unknown
	cpu   time.Duration // user + system; 0 when unknown
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

// psStats asks ps(1) once for the state and CPU time of pids (the
// babysitter's way where there is no /proc). A pid missing from the map
// is not running.
func psStats(pids []int) (map[int]procStat, error) {
	list := make([]string, len(pids))
	for i, p := range pids {
		list[i] = strconv.Itoa(p)
	}
	out, err := exec.Command("ps", "-o", "pid=", "-o", "stat=", "-o", "time=", "-p", strings.Join(list, ",")).Output()
	if err != nil {
		// Status 1: some pid (perhaps every one) was not found.
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			return nil, fmt.Errorf("ikc: ps: %w", err)
		}
	}
	return parsePS(out)
}

// parsePS reads "pid stat time" lines. The time is [[dd-]hh:]mm:ss with
// optional hundredths (procps prints hh:mm:ss, BSD ps mm:ss.hh).
func parsePS(out []byte) (map[int]procStat, error) {
	m := map[int]procStat{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil || len(f) < 2 {
			return nil, fmt.Errorf("ikc: ps: malformed line %q", line)
		}
		st := procStat{state: f[1][0]}
		if len(f) > 2 {
			if st.cpu, err = parseCPUTime(f[2]); err != nil {
				return nil, fmt.Errorf("ikc: ps: malformed line %q", line)
			}
		}
		m[pid] = st
	}
	return m, nil
}

func parseCPUTime(s string) (time.Duration, error) {
	var d time.Duration
	if days, rest, ok := strings.Cut(s, "-"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, err
		}
		d, s = time.Duration(n)*24*time.Hour, rest
	}
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return 0, fmt.Errorf("ikc: ps: bad time %q", s)
	}
	sec, err := strconv.ParseFloat(parts[len(parts)-1], 64)
	if err != nil || sec < 0 {
		return 0, fmt.Errorf("ikc: ps: bad time %q", s)
	}
	d += time.Duration(sec * float64(time.Second))
	unit := time.Minute
	for i := len(parts) - 2; i >= 0; i-- {
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("ikc: ps: bad time %q", s)
		}
		d += time.Duration(n) * unit
		unit *= 60
	}
	return d, nil
}

// lookupWorkersFn is lookupWorkers (a variable so that tests can take
// the ps path on Linux too).
var lookupWorkersFn = lookupWorkers

// psLookup returns how the babysitter looks workers up without /proc:
// one ps(1) run for all of them. When ps fails, only presence is known
// (kill 0): no rogue is detected in that round.
func psLookup(pids []int, log *slog.Logger) func(pid int) (procStat, bool, error) {
	stats, err := psStats(pids)
	if err == nil {
		return func(pid int) (procStat, bool, error) {
			st, ok := stats[pid]
			return st, ok, nil
		}
	}
	log.Warn("ikc: babysit: no CPU times this round", "err", err)
	return func(pid int) (procStat, bool, error) {
		if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
			return procStat{}, false, nil
		}
		return procStat{}, true, nil
	}
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
	pids := make([]int, 0, len(s.children))
	for pid := range s.children {
		pids = append(pids, pid)
	}
	lookup := lookupWorkersFn(pids, s.log)
	for _, pid := range pids {
		st, ok, err := lookup(pid)
		switch {
		case err != nil:
			s.log.Warn("ikc: babysit", "worker", pid, "err", err)
		case !ok:
			s.vlog("ikc: worker missing; faking a CHLD", "worker", pid)
			k.Yield("sig_CHLD", "CHLD", pid, 0, true)
		case st.state == 'Z':
			// The kernel's SigChild watch reaps it and sends the real CHLD.
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
