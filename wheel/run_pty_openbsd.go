package wheel

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ptmget is OpenBSD's struct ptmget (sys/tty.h).
type ptmget struct {
	cfd, sfd int32
	cn, sn   [16]byte
}

// ptmGet is PTMGET, _IOR('t', 1, struct ptmget): x/sys/unix lacks it.
const ptmGet = 0x40000000 | uintptr(unsafe.Sizeof(ptmget{}))<<16 | 't'<<8 | 1

// openPtyPair is what OpenBSD's openpty does: PTMGET on /dev/ptm opens
// both ends (granted and unlocked). They come without close-on-exec, so
// the flag is set under syscall.ForkLock as package os does.
func openPtyPair() (master, slave int, err error) {
	ptm, err := unix.Open("/dev/ptm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, -1, fmt.Errorf("open /dev/ptm: %w", err)
	}
	defer unix.Close(ptm)
	var pm ptmget
	syscall.ForkLock.RLock()
	// Package syscall routes SYS_IOCTL through libc on OpenBSD.
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(ptm), ptmGet, uintptr(unsafe.Pointer(&pm)))
	if errno == 0 {
		unix.CloseOnExec(int(pm.cfd))
		unix.CloseOnExec(int(pm.sfd))
	}
	syscall.ForkLock.RUnlock()
	if errno != 0 {
		return -1, -1, fmt.Errorf("PTMGET: %w", errno)
	}
	return int(pm.cfd), int(pm.sfd), nil
}
