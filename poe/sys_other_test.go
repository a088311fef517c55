//go:build !linux

package poe

import (
	"testing"

	"golang.org/x/sys/unix"
)

// counterFd is an fd that a write makes readable: a pipe where there is no
// eventfd.
func counterFd(t *testing.T) (rfd, wfd int, kind string) {
	t.Helper()
	p := nbPipe(t)
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1], "pipe"
}
