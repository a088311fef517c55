package ikc

// Stats are a responder's counters of trouble with peers, since it was
// spawned: what was refused, ignored, dropped and let go. Read them with
// Responder.Stats.
type Stats struct {
	// RefusedRequests counts requests refused in any phase (unpublished
	// session or state, unknown session, bad IKC:proxy params, arguments
	// that cannot be converted); each was also reported to the error
	// monitors and, unless it was an error report, to its sender.
	RefusedRequests uint64
	// RefusedFrames counts frames that did not decode, were not a hash or
	// were over a decoding budget (Limits); each closed its connection.
	RefusedFrames uint64
	// RefusedConnections counts TCP connections closed as they were
	// accepted: a peer outside ServerOptions.AllowNetworks, or over
	// MaxConnsPerAddr.
	RefusedConnections uint64
	// ForeignFrames counts frames addressed to a kernel that is not this
	// one, ignored.
	ForeignFrames uint64
	// PausedReads counts the times a connection was no longer read
	// because its output was above the high-water mark.
	PausedReads uint64
	// DroppedPeers counts connections closed for their peer's conduct: a
	// refused frame, or output the peer did not read (StalledPeers of
	// them).
	DroppedPeers, StalledPeers uint64
	// ThunksEvicted counts thunks let go for the cap or for being idle;
	// Thunks is how many are current.
	ThunksEvicted uint64
	Thunks        int
	// Connections is the number of open connections, negotiating ones
	// included.
	Connections int
	// LogsFolded counts log records counted into a summary line instead
	// of being written.
	LogsFolded uint64
}

// peerStats are the counters the responder's parts keep.
type peerStats struct {
	refusedRequests, refusedFrames, foreignFrames uint64
	pausedReads, droppedPeers, stalledPeers       uint64
	refusedConns                                  uint64
}

// Stats returns the responder's counters. Call it on the kernel's
// goroutine.
func (r *Responder) Stats() Stats {
	return Stats{
		RefusedRequests:    r.stats.refusedRequests,
		RefusedFrames:      r.stats.refusedFrames,
		ForeignFrames:      r.stats.foreignFrames,
		RefusedConnections: r.stats.refusedConns,
		PausedReads:        r.stats.pausedReads,
		DroppedPeers:       r.stats.droppedPeers,
		StalledPeers:       r.stats.stalledPeers,
		ThunksEvicted:      r.thunks.evicted,
		Thunks:             r.thunks.count(),
		Connections:        len(r.kernels.all),
		LogsFolded:         r.logs.agg.Suppressed(),
	}
}
