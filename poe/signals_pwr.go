//go:build linux || netbsd

package poe

import "syscall"

func init() { osSignalByName["PWR"] = syscall.SIGPWR }
