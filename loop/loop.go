// Package loop is the reactor under the POE kernel: one poller that waits
// for readiness on raw, non-blocking file descriptors, with a wake-up that
// other goroutines may trigger and a deadline precise to well under a
// millisecond.
//
// The kernel in package poe owns the timer queue and the dispatch order; a
// Poller only answers "which fds are ready, waiting at most until this
// instant". That keeps the interface small enough to reimplement on another
// system (kqueue) without touching the kernel.
package loop

import "time"

// Events is a set of readiness conditions.
type Events uint32

// Readiness conditions. Hangup and Error are reported whatever the interest
// set, as epoll does; POE treats them as readable (and writable for write
// watchers).
const (
	Readable Events = 1 << iota
	Writable
	Priority // out-of-band data: POE's "expedite"
	Hangup
	Error
)

// Poller waits for readiness of registered file descriptors.
//
// Every method except Wake must be called from the goroutine that runs the
// loop. Wake is safe from any goroutine and makes a blocked or the next Wait
// return early.
type Poller interface {
	// Add starts watching fd for the conditions in ev (level-triggered).
	Add(fd int, ev Events) error
	// Modify replaces the interest set of a watched fd; an empty set keeps
	// the fd registered but silent (a paused watcher).
	Modify(fd int, ev Events) error
	// Delete stops watching fd.
	Delete(fd int) error
	// Wait blocks until at least one fd is ready, Wake is called, or
	// timeout passes (timeout < 0 waits without limit, 0 only polls). It
	// calls fn once per ready fd and returns how many fds were reported.
	// It may also return early with nothing reported (a signal
	// interrupted the wait); callers wait again.
	Wait(timeout time.Duration, fn func(fd int, ev Events)) (int, error)
	// Wake interrupts a Wait in progress, or the next one.
	Wake() error
	// Close releases the poller's own descriptors.
	Close() error
}

// New returns the default poller of this system.
func New() (Poller, error) { return newPoller() }
