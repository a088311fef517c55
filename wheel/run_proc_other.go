//go:build !linux

package wheel

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// selfExe is the path that starts this executable again: the one it was
// started from (macOS and the BSDs have no /proc/self/exe; a file replaced
// since is the new one).
func selfExe() (string, error) { return os.Executable() }

// startChild forks and execs. A Priority is applied to the child by the
// parent after the fork (startChildRenice): outside Linux nice values are
// per process, so the Linux way (fork from a thread reniced for the
// occasion) would renice this whole process.
func startChild(path string, argv []string, attr *syscall.ProcAttr, priority int) (int, error) {
	return startChildRenice(path, argv, attr, priority)
}

// processNice is this process's nice value.
func processNice() (int, error) { return unix.Getpriority(unix.PRIO_PROCESS, 0) }
