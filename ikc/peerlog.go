package ikc

import (
	"log/slog"
	"time"

	"github.com/poe-go/poe/ikc/internal/ratelog"
)

// peerLogs writes the log records a peer can cause in bulk (refusals,
// failed connections and sends, ignored frames): each kind and peer gets
// a line at first, then one summary per interval while it repeats
// (ResponderOptions.LogInterval). Monitors still hear of every event.
type peerLogs struct {
	agg *ratelog.Logger
}

func newPeerLogs(log *slog.Logger, interval time.Duration) peerLogs {
	return peerLogs{agg: ratelog.New(log, interval)}
}

func (p peerLogs) warn(msg, kind, peer, text string) {
	p.agg.Log(slog.LevelWarn, msg, kind, peer, text)
}

func (p peerLogs) info(msg, kind, peer, text string) {
	p.agg.Log(slog.LevelInfo, msg, kind, peer, text)
}

func (p peerLogs) debug(msg, kind, peer, text string) {
	p.agg.Log(slog.LevelDebug, msg, kind, peer, text)
}
