//go:build !netbsd

package bench

import (
	"time"

	"golang.org/x/sys/unix"
)

// cpuTime is the process's CPU time (all threads: the kernel's, the
// garbage collector's), as the scheduler accounts it.
func cpuTime() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}
