package hostile

import (
	"strconv"
	"time"

	"github.com/poe-go/poe/ikc"
	"github.com/poe-go/poe/poe"
)

// serverOptions adds the knobs of HOSTILE_OPTS to the child's options:
// stall (the stall timeout), high and low (output marks, octets).
func serverOptions(o ikc.ServerOptions) ikc.ServerOptions {
	if v, ok := knob("stall"); ok {
		o.Limits.StallTimeout, _ = time.ParseDuration(v)
	}
	if v, ok := knob("high"); ok {
		o.Limits.OutputHighMark, _ = strconv.Atoi(v)
	}
	if v, ok := knob("low"); ok {
		o.Limits.OutputLowMark, _ = strconv.Atoi(v)
	}
	return o
}

// responderOptions are the child's responder options: loginterval (the
// summary period of folded log lines).
func responderOptions(o ikc.ResponderOptions) ikc.ResponderOptions {
	if v, ok := knob("loginterval"); ok {
		o.LogInterval, _ = time.ParseDuration(v)
	}
	return o
}

// extraStats adds the responder's counters to the child's stats.
func extraStats(k *poe.Kernel, m map[string]any) {
	r := ikc.ResponderOf(k)
	if r == nil {
		return
	}
	s := r.Stats()
	m["refusedRequests"] = int64(s.RefusedRequests)
	m["refusedFrames"] = int64(s.RefusedFrames)
	m["foreignFrames"] = int64(s.ForeignFrames)
	m["pausedReads"] = int64(s.PausedReads)
	m["droppedPeers"] = int64(s.DroppedPeers)
	m["stalledPeers"] = int64(s.StalledPeers)
	m["thunksEvicted"] = int64(s.ThunksEvicted)
	m["thunks"] = int64(s.Thunks)
	m["connections"] = int64(s.Connections)
	m["logsFolded"] = int64(s.LogsFolded)
}

// foreignStats checks the responder counted n ignored frames.
func foreignStats(c *child, v *verdict, n int) {
	st, err := c.stats()
	if !v.check(err == nil, "stats: %v", err) {
		return
	}
	v.check(num(st, "foreignFrames") == int64(n), "%d frames counted as foreign, want %d", num(st, "foreignFrames"), n)
}
