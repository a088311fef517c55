//go:build darwin || freebsd || netbsd || openbsd

package wheel

import "golang.org/x/sys/unix"

// The BSD names of tcgetattr and tcsetattr (Linux: TCGETS, TCSETS).

func getTermios(fd int) (*unix.Termios, error) { return unix.IoctlGetTermios(fd, unix.TIOCGETA) }

func setTermios(fd int, t *unix.Termios) error { return unix.IoctlSetTermios(fd, unix.TIOCSETA, t) }
