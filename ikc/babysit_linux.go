package ikc

import "log/slog"

// lookupWorkers returns how the babysitter looks a worker up: in /proc.
func lookupWorkers([]int, *slog.Logger) func(pid int) (procStat, bool, error) {
	return readProcStat
}
