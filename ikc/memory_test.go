package ikc

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestMemRelease: connections that end add up until the threshold, then
// one release runs; a second comes no sooner than releaseInterval after.
func TestMemRelease(t *testing.T) {
	var n atomic.Int32
	m := newMemRelease(1 << 20)
	m.free = func() { n.Add(1) }
	m.ended(100 << 10) // small: counted only
	time.Sleep(50 * time.Millisecond)
	if n.Load() != 0 {
		t.Fatal("released below the threshold")
	}
	m.ended(1 << 20)
	deadline := time.Now().Add(time.Second)
	for n.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n.Load() != 1 {
		t.Fatalf("%d releases, want 1", n.Load())
	}
	m.ended(2 << 20) // due, but within the interval of the last one
	time.Sleep(100 * time.Millisecond)
	if n.Load() != 1 {
		t.Fatalf("a release within releaseInterval of the last")
	}
	off := newMemRelease(-1)
	off.free = func() { t.Error("released with the threshold off") }
	off.ended(1 << 30)
	time.Sleep(20 * time.Millisecond)
}
