package ikc

import (
	"fmt"
	"syscall"
	"time"

	"github.com/poe-go/poe/poe"
)

// Output marks of a connection (Limits.OutputHighMark, OutputLowMark,
// StallTimeout when zero). Above the high mark the peer's requests are
// no longer read, so that a peer that sends but does not read cannot make
// replies pile up here; below the low mark reading resumes. A peer that
// stays above the high mark for the stall timeout is dropped, its queued
// output with it.
const (
	DefaultOutputHighMark = 8 << 20
	DefaultOutputLowMark  = 1 << 20
	DefaultStallTimeout   = 30 * time.Second
)

// marks returns the wheel's HighMark and LowMark for limits l (0, 0: no
// backpressure).
func marks(l Limits) (high, low int) {
	high, low = l.OutputHighMark, l.OutputLowMark
	if high < 0 {
		return 0, 0
	}
	if high == 0 {
		high = DefaultOutputHighMark
	}
	if low <= 0 {
		low = DefaultOutputLowMark
	}
	if low >= high {
		low = high / 2
	}
	if low <= 0 {
		return 0, 0
	}
	return high, low
}

// throttle stops reading the peer: its output reached the high-water mark.
func (c *channel) throttle() {
	if c.throttled || c.closed || c.rw == nil {
		return
	}
	c.throttled = true
	c.r.stats.pausedReads++
	c.rw.PauseInput()
	c.armStall()
}

// unthrottle reads the peer again: its output went below the low mark.
func (c *channel) unthrottle() {
	if !c.throttled || c.closed {
		return
	}
	c.throttled = false
	if !c.closing { // closing: the stall timer bounds the wait for the last output
		c.disarmStall()
		c.rw.ResumeInput()
	}
}

// armStall starts the stall timer (in the channel's session: write runs
// in whichever session sends).
func (c *channel) armStall() {
	if c.stallArmed || c.cfg.limits.StallTimeout < 0 {
		return
	}
	c.stallArmed = true
	d := c.cfg.limits.StallTimeout
	if d == 0 {
		d = DefaultStallTimeout
	}
	c.sess.Do(func() { c.stallAlarm, _ = c.r.k.DelaySet("stalled", d) })
}

func (c *channel) disarmStall() {
	if !c.stallArmed {
		return
	}
	id := c.stallAlarm
	c.stallArmed = false
	if c.sess.Alive() {
		c.sess.Do(func() { c.r.k.AlarmRemove(id) })
	}
}

// high is the wheel's HighEvent.
func (c *channel) high(e *poe.Event) any { c.throttle(); return nil }

// low is the wheel's LowEvent.
func (c *channel) low(e *poe.Event) any { c.unthrottle(); return nil }

// stalled: the peer read too little of its output for the stall timeout,
// above the high mark or while the connection waited to close.
func (c *channel) stalled(e *poe.Event) any {
	c.stallArmed = false
	if c.closed || !c.throttled && !c.closing {
		return nil
	}
	c.r.stats.droppedPeers++
	c.r.stats.stalledPeers++
	queued := 0
	if c.rw != nil {
		queued = c.rw.DriverOutOctets()
	}
	c.fail("write", int(syscall.ETIMEDOUT), fmt.Sprintf("peer not reading: %d octets queued for %v", queued, c.stallTimeout()))
	return nil
}

func (c *channel) stallTimeout() time.Duration {
	if d := c.cfg.limits.StallTimeout; d > 0 {
		return d
	}
	return DefaultStallTimeout
}
