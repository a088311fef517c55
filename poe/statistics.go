package poe

import "time"

// Stats are the kernel's running counters: POE::Resource::Statistics,
// reduced to what costs nothing to count.
type Stats struct {
	Timeslices uint64        // loop iterations
	Dispatched uint64        // queued items dispatched (posts, timers, signals)
	Polls      uint64        // reactor waits and polls
	Waited     time.Duration // time spent blocked in the reactor: the rest of Run's time is work
}

// Stats returns the kernel's counters since it was created.
func (k *Kernel) Stats() Stats { return k.stats }
