package poe

import (
	"math"
	"time"
)

// Seconds converts POE's floating seconds to a time.Duration, rounded to
// the nanosecond and clamped to the Duration range: Perl's
// delay(tick => 1.5) is k.Delay("tick", poe.Seconds(1.5)).
func Seconds(s float64) time.Duration {
	ns := math.Round(s * float64(time.Second))
	switch {
	case ns >= math.MaxInt64:
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64
	case math.IsNaN(ns):
		return 0
	}
	return time.Duration(ns)
}
