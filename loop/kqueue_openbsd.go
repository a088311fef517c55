package loop

import "golang.org/x/sys/unix"

// OpenBSD has no EVFILT_USER: Wake uses a self-pipe.
const (
	hasUserFilter = false
	userFilter    = -100 // never registered
	noteTrigger   = 0
	hasOOBFilter  = true
	oobFilter     = unix.EVFILT_EXCEPT
	noteOOB       = unix.NOTE_OOB
)
