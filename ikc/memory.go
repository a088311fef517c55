package ikc

import (
	"runtime/debug"
	"sync"
	"time"
)

// DefaultReleaseThreshold is ResponderOptions.ReleaseThreshold when zero:
// once connections that ended held this much (their largest frame and
// queued output, plus connCost each), the memory goes back to the
// operating system.
const DefaultReleaseThreshold = 4 << 20

// connCost is what a connection costs besides its buffers (its session,
// wheel, filters and negotiator), so that many small connections ending
// count as much as one large one.
const connCost = 8 << 10

// releaseInterval spaces the releases: each one is a full collection.
// releaseDelay lets the kernel drop the connection's wheel and buffers
// (they are still reachable while it closes) before the first one.
const (
	releaseInterval = 5 * time.Second
	releaseDelay    = 250 * time.Millisecond
)

// memRelease returns the memory of connections that held large buffers
// to the operating system once they end. The Go runtime would keep it
// until its next collection (up to two minutes in an idle server) and
// then release it slowly, so that a peer that made the server grow
// leaves it that big after it has gone.
type memRelease struct {
	threshold int // < 0: never
	free      func()

	mu      sync.Mutex
	freed   int // held by the connections that ended since the last release
	pending bool
	last    time.Time
}

func newMemRelease(threshold int) *memRelease {
	if threshold == 0 {
		threshold = DefaultReleaseThreshold
	}
	return &memRelease{threshold: threshold, free: debug.FreeOSMemory}
}

// ended is told how large the buffers of a connection that ended were;
// once the connections that ended add up to the threshold a release runs
// on its own goroutine (the kernel goes on), at most one per
// releaseInterval.
func (m *memRelease) ended(held int) {
	if m.threshold < 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.freed += held + connCost
	if m.pending || m.freed < m.threshold {
		return
	}
	m.pending, m.freed = true, 0
	wait := max(releaseDelay, releaseInterval-time.Since(m.last))
	time.AfterFunc(wait, func() {
		m.free()
		m.mu.Lock()
		m.pending, m.last = false, time.Now()
		m.mu.Unlock()
	})
}
