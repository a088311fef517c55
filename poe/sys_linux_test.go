package poe

import (
	"testing"

	"golang.org/x/sys/unix"
)

// counterFd is an fd that a write makes readable: an eventfd on Linux
// (read and write end are one), named for the test's report.
func counterFd(t *testing.T) (rfd, wfd int, kind string) {
	t.Helper()
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(efd) })
	return efd, efd, "eventfd"
}
