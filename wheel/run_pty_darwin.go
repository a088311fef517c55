package wheel

import (
	"bytes"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openPtyPair is what macOS's posix_openpt, grantpt, unlockpt and ptsname
// do: /dev/ptmx, then TIOCPTYGRANT, TIOCPTYUNLK and TIOCPTYGNAME.
func openPtyPair() (master, slave int, err error) {
	master, err = unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, -1, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	fail := func(what string, err error) (int, int, error) {
		unix.Close(master)
		return -1, -1, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.IoctlSetInt(master, unix.TIOCPTYGRANT, 0); err != nil {
		return fail("grantpt", err)
	}
	if err := unix.IoctlSetInt(master, unix.TIOCPTYUNLK, 0); err != nil {
		return fail("unlockpt", err)
	}
	// x/sys/unix has no ioctl that fills a buffer here; package syscall's
	// Syscall goes through libSystem on macOS.
	var name [128]byte
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(master),
		uintptr(unix.TIOCPTYGNAME), uintptr(unsafe.Pointer(&name[0]))); errno != 0 {
		return fail("ptsname", errno)
	}
	n := bytes.IndexByte(name[:], 0)
	if n < 0 {
		n = len(name)
	}
	return openSlave(master, string(name[:n]))
}
