//go:build !linux

package ikc

import "log/slog"

// lookupWorkers returns how the babysitter looks workers up: ps(1), as
// there is no /proc here (see psLookup).
func lookupWorkers(pids []int, log *slog.Logger) func(pid int) (procStat, bool, error) {
	return psLookup(pids, log)
}
