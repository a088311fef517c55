// Package loop is the reactor under the POE kernel: one poller that waits
// for readiness on raw, non-blocking file descriptors, with a wake-up that
// other goroutines may trigger and a deadline precise to well under a
// millisecond where the system allows it.
//
// The kernel in package poe owns the timer queue and the dispatch order; a
// Poller only answers "which fds are ready, waiting at most until this
// instant". That keeps the interface small enough to implement once per
// platform family: epoll on Linux, kqueue on macOS and the BSDs, and
// poll(2) on every Unix as the fallback. New picks the system's default;
// the environment variable POE_LOOP (epoll, kqueue or poll) chooses
// another where it exists.
package loop

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Events is a set of readiness conditions.
type Events uint32

// Readiness conditions. Hangup and Error are reported whatever the
// (non-empty) interest set, as epoll does; POE treats them as readable (and
// writable for write watchers).
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
// return early; any number of Wake calls before a Wait make one wake-up.
type Poller interface {
	// Add starts watching fd for the conditions in ev (level-triggered).
	// It returns ErrNotPollable for descriptors that cannot be polled
	// (regular files, directories, block devices): their I/O never
	// blocks, and callers treat them as always ready, as select() does.
	Add(fd int, ev Events) error
	// Modify replaces the interest set of a watched fd; an empty set keeps
	// the fd registered but silent to data (a paused watcher). epoll and
	// poll still report Hangup and Error for it, kqueue does not: callers
	// that want silence on a dead fd Delete it.
	Modify(fd int, ev Events) error
	// Delete stops watching fd.
	Delete(fd int) error
	// Wait blocks until at least one fd is ready, Wake is called, or
	// timeout passes (timeout < 0 waits without limit, 0 only polls). It
	// calls fn once per ready fd and returns how many fds were reported.
	// It may also return early with nothing reported (a signal
	// interrupted the wait); callers wait again.
	Wait(timeout time.Duration, fn func(fd int, ev Events)) (int, error)
	// Wake interrupts a Wait in progress, or the next one. After Close it
	// returns ErrClosed.
	Wake() error
	// Close releases the poller's own descriptors. Closing twice is
	// harmless.
	Close() error
}

var (
	// ErrNotPollable is returned by Add for descriptors the system cannot
	// poll, such as regular files. It is returned as is, never wrapped.
	ErrNotPollable = errors.New("loop: file descriptor cannot be polled")
	// ErrUnknownBackend is wrapped by the error of New and NewBackend
	// when the backend named does not exist on this system.
	ErrUnknownBackend = errors.New("loop: unknown or unavailable poller backend")
	// ErrClosed is returned by Wake after Close.
	ErrClosed = errors.New("loop: poller closed")
)

// allBackends are the backend names this package knows, on any system.
var allBackends = []string{"epoll", "kqueue", "poll"}

type backend struct {
	name string
	rank int // the lowest rank is the default
	open func() (Poller, error)
}

// backends is filled by the init functions of the backend files present
// on this system.
var backends []backend

func register(name string, rank int, open func() (Poller, error)) {
	backends = append(backends, backend{name, rank, open})
	slices.SortStableFunc(backends, func(a, b backend) int { return a.rank - b.rank })
}

// Backends lists the pollers available on this system, the default first.
func Backends() []string {
	names := make([]string, len(backends))
	for i, b := range backends {
		names[i] = b.name
	}
	return names
}

// NewBackend returns a poller of the named backend ("epoll", "kqueue",
// "poll"); the error wraps ErrUnknownBackend if this system has none of
// that name.
func NewBackend(name string) (Poller, error) {
	for _, b := range backends {
		if b.name == name {
			return b.open()
		}
	}
	return nil, &backendError{name: name}
}

// New returns the default poller of this system, or the one the
// environment variable POE_LOOP names.
func New() (Poller, error) {
	env := os.Getenv("POE_LOOP")
	if env == "" {
		if len(backends) == 0 {
			return nil, &backendError{}
		}
		return backends[0].open()
	}
	p, err := NewBackend(strings.ToLower(strings.TrimSpace(env)))
	if be, ok := err.(*backendError); ok {
		be.env = true
		be.name = env
	}
	return p, err
}

// backendError names a backend this system lacks and the ones it has.
type backendError struct {
	name string
	env  bool // the name came from POE_LOOP
}

func (e *backendError) Error() string {
	var b strings.Builder
	if e.env {
		fmt.Fprintf(&b, "loop: POE_LOOP=%q names no poller backend of this system", e.name)
	} else {
		fmt.Fprintf(&b, "loop: no poller backend %q on this system", e.name)
	}
	name := strings.ToLower(strings.TrimSpace(e.name))
	if slices.Contains(allBackends, name) {
		fmt.Fprintf(&b, " (%s is not available on %s", name, runtime.GOOS)
	} else {
		fmt.Fprintf(&b, " (the backends are %s", strings.Join(allBackends, ", "))
	}
	fmt.Fprintf(&b, "; choices on %s: %s)", runtime.GOOS, strings.Join(Backends(), ", "))
	return b.String()
}

func (e *backendError) Unwrap() error { return ErrUnknownBackend }

// maxWait bounds one wait, so that no system's timeout arithmetic
// overflows; a longer wait returns early with nothing, as Wait allows.
const maxWait = 24 * time.Hour
