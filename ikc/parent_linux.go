package ikc

import "golang.org/x/sys/unix"

// watchParent returns a pidfd of ppid: readable once it exits. It fails
// with ENOSYS before Linux 5.3 (the caller then polls).
func watchParent(ppid int) (int, error) {
	return unix.PidfdOpen(ppid, 0)
}
