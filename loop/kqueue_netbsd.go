package loop

// EVFILT_USER came with NetBSD 10 and is missing from x/sys/unix: the
// values are those of NetBSD's <sys/event.h>. Older kernels refuse the
// filter and the poller falls back to a self-pipe. No out-of-band filter.
const (
	hasUserFilter = true
	userFilter    = 8
	noteTrigger   = 0x01000000
	hasOOBFilter  = false
	oobFilter     = 100 // never registered
	noteOOB       = 0
)
