//go:build unix && !linux && !openbsd

package loop

import (
	"time"

	"golang.org/x/sys/unix"
)

// pollPrecise: without ppoll in x/sys/unix, poll's deadline is in
// milliseconds.
const pollPrecise = false

// ppoll rounds the deadline up to the next millisecond: rounding down
// would end a wait before its deadline, and turn every wait shorter than
// a millisecond into a spin.
func ppoll(fds []unix.PollFd, timeout time.Duration) (int, error) {
	msec := -1
	if timeout >= 0 {
		msec = int((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	return unix.Poll(fds, msec)
}
