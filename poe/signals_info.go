//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package poe

import "syscall"

func init() { osSignalByName["INFO"] = syscall.SIGINFO }
