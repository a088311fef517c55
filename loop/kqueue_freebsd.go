package loop

import "golang.org/x/sys/unix"

// FreeBSD's kqueue has no out-of-band filter.
const (
	hasUserFilter = true
	userFilter    = unix.EVFILT_USER
	noteTrigger   = unix.NOTE_TRIGGER
	hasOOBFilter  = false
	oobFilter     = -100 // never registered
	noteOOB       = 0
)
