//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package ikc

import "golang.org/x/sys/unix"

// watchParent has no way to watch a parent here: the caller polls.
func watchParent(int) (int, error) { return -1, unix.ENOSYS }
