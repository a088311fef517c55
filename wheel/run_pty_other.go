//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd

package wheel

import "golang.org/x/sys/unix"

func openPtyPair() (int, int, error) { return -1, -1, ErrPtyUnsupported }

func getTermios(int) (*unix.Termios, error) { return nil, ErrPtyUnsupported }

func setTermios(int, *unix.Termios) error { return ErrPtyUnsupported }
