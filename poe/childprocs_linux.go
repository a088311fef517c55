package poe

import "golang.org/x/sys/unix"

func openPidfd(pid int) (int, error) { return unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK) }
