package poe

import "time"

// kernelClock is POE::Resource::Clock: the kernel's monotonic clock, in
// nanoseconds since the kernel was created. Item dues are readings of it.
type kernelClock struct {
	epoch time.Time
	now   int64 // the last reading
	// fresh: now was read as the reactor's wait ended, and nothing ran
	// since (the batch can use it instead of reading the clock again).
	fresh bool
	// posted: a post read the clock since the batch began (timers were
	// pending); the next batch starts from that reading.
	posted bool
	batch  int64 // the reading the batch being dispatched compares timers with
}

// read reads the clock and remembers the reading.
func (c *kernelClock) read() int64 {
	c.now = int64(time.Since(c.epoch))
	return c.now
}

func (c *kernelClock) toTime(due int64) time.Time { return c.epoch.Add(time.Duration(due)) }

// fromTime converts an alarm's time to the kernel clock. A time carrying
// a monotonic reading (time.Now().Add(...)) converts exactly; a wall-clock
// time (time.Unix(...)) is taken against the wall clock at the kernel's
// creation, as POE converts epoch times with an offset measured once.
func (c *kernelClock) fromTime(t time.Time) int64 { return int64(t.Sub(c.epoch)) }

// ClockNow returns the kernel's last clock reading as a time: when the
// batch being dispatched began (or a later post stamped while timers were
// pending). It reads no clock, so code that needs a time per event, such
// as idle bookkeeping, can use it instead of time.Now; it lags the real
// time by at most the batch's length.
func (k *Kernel) ClockNow() time.Time { return k.clock.toTime(k.clock.now) }
