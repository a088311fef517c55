//go:build linux || openbsd

package loop

import (
	"time"

	"golang.org/x/sys/unix"
)

// pollPrecise: ppoll takes a nanosecond deadline.
const pollPrecise = true

func ppoll(fds []unix.PollFd, timeout time.Duration) (int, error) {
	if timeout < 0 {
		return unix.Ppoll(fds, nil, nil)
	}
	ts := unix.NsecToTimespec(int64(timeout))
	return unix.Ppoll(fds, &ts, nil)
}
