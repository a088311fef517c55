package wheel

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// openPtyPair is FreeBSD's posix_openpt (a system call there) and ptsname
// (the pts number); grantpt and unlockpt have nothing to do for pts(4).
func openPtyPair() (master, slave int, err error) {
	fd, _, errno := unix.Syscall(unix.SYS_POSIX_OPENPT, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC), 0, 0)
	if errno != 0 {
		return -1, -1, fmt.Errorf("posix_openpt: %w", errno)
	}
	master = int(fd)
	n, err := unix.IoctlGetInt(master, unix.TIOCGPTN)
	if err != nil {
		unix.Close(master)
		return -1, -1, fmt.Errorf("ptsname: %w", err)
	}
	return openSlave(master, fmt.Sprintf("/dev/pts/%d", n))
}
