package wheel

import (
	"fmt"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// selfExe is the path that starts this executable again: /proc/self/exe
// is it even if its file was replaced or removed since it started.
func selfExe() (string, error) { return "/proc/self/exe", nil }

// processNice is the calling thread's nice value (Linux keeps them per
// thread; the raw system call returns 20 - nice).
func processNice() (int, error) {
	p, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	return 20 - p, err
}

// startChild forks and execs. A Priority is applied by forking from a
// thread whose nice value is this one's plus the delta: Linux keeps nice
// values per thread and a new process inherits its creating thread's.
// Afterwards the thread gets its nice value back when that is permitted
// (lowering it needs privilege); otherwise it is discarded, its goroutine
// exiting while locked to it, so no other goroutine runs at the child's
// priority (the main thread cannot exit: the runtime parks it for good).
// SysProcAttr has no nice field, and setpriority on the child after the
// start would let it run (and exec) at the old priority first.
func startChild(path string, argv []string, attr *syscall.ProcAttr, priority int) (int, error) {
	if priority == 0 {
		return syscall.ForkExec(path, argv, attr)
	}
	type result struct {
		pid int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		tid := unix.Gettid()
		// The raw system call returns 20 - nice.
		prio, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
		nice := 20 - prio
		if err == nil {
			err = unix.Setpriority(unix.PRIO_PROCESS, tid, nice+priority)
		}
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, fmt.Errorf("priority %+d: %w", priority, err)}
			return
		}
		pid, err := syscall.ForkExec(path, argv, attr)
		ch <- result{pid, err}
		if unix.Setpriority(unix.PRIO_PROCESS, tid, nice) == nil {
			runtime.UnlockOSThread()
		}
	}()
	r := <-ch
	return r.pid, r.err
}
