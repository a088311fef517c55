package wheel

import (
	"bytes"
	"fmt"

	"golang.org/x/sys/unix"
)

// openPtyPair is NetBSD's posix_openpt (/dev/ptmx), grantpt (TIOCGRANTPT)
// and ptsname (TIOCPTSNAME); unlockpt has nothing to do.
func openPtyPair() (master, slave int, err error) {
	master, err = unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, -1, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetInt(master, unix.TIOCGRANTPT, 0); err != nil {
		unix.Close(master)
		return -1, -1, fmt.Errorf("grantpt: %w", err)
	}
	pm, err := unix.IoctlGetPtmget(master, unix.TIOCPTSNAME)
	if err != nil {
		unix.Close(master)
		return -1, -1, fmt.Errorf("ptsname: %w", err)
	}
	n := bytes.IndexByte(pm.Sn[:], 0)
	if n < 0 {
		n = len(pm.Sn)
	}
	return openSlave(master, string(pm.Sn[:n]))
}
