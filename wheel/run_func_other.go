//go:build !linux

package wheel

import "runtime"

// openFds lists this process's descriptors: /dev/fd on macOS, elsewhere
// (FreeBSD's /dev/fd may list only 0-2) scanFds.
func openFds() []int {
	if runtime.GOOS == "darwin" {
		if fds, ok := fdDir("/dev/fd"); ok {
			return fds
		}
	}
	return scanFds()
}
