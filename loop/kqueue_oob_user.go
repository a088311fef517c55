//go:build darwin || dragonfly

package loop

import "golang.org/x/sys/unix"

const (
	hasUserFilter = true
	userFilter    = unix.EVFILT_USER
	noteTrigger   = unix.NOTE_TRIGGER
	hasOOBFilter  = true
	oobFilter     = unix.EVFILT_EXCEPT
	noteOOB       = unix.NOTE_OOB
)
