//go:build linux || darwin || freebsd || netbsd

package wheel

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// openSlave opens the slave side named by ptsname, or closes master.
func openSlave(master int, name string) (int, int, error) {
	slave, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(master)
		return -1, -1, fmt.Errorf("open %s: %w", name, err)
	}
	return master, slave, nil
}
