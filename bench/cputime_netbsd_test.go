package bench

import (
	"time"

	"golang.org/x/sys/unix"
)

// cpuTime is the process's CPU time (all threads), from getrusage: x/sys
// has no CLOCK_PROCESS_CPUTIME_ID for NetBSD. Microseconds.
func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
