//go:build !linux

package poe

import "golang.org/x/sys/unix"

// openPidfd reports that the system has no pidfds: children are polled on
// SIGCHLD instead.
func openPidfd(int) (int, error) { return -1, unix.ENOSYS }
