// Package ratelog folds log records that a peer can cause in bulk (refused
// requests, failed connections, ignored frames) into one line per interval
// for each kind and peer, so that a flood costs a few lines instead of one
// per message.
//
// The first record of a kind from a peer is written at once, with its
// text. Repeats within the interval are only counted; when the interval
// ends one summary line gives their number and the last text. A kind and
// peer that keep repeating produce one summary per interval; one that went
// quiet starts over with a line of its own next time.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultInterval is the summary interval when New is given 0.
const DefaultInterval = 10 * time.Second

// MaxKeys bounds the kinds and peers tracked in one interval; records
// beyond it are counted under the peer Others.
const MaxKeys = 1024

// Others is the peer under which records beyond MaxKeys are counted.
const Others = "(others)"

type key struct{ kind, peer string }

type entry struct {
	level slog.Level
	msg   string
	n     int    // repeats since the last line
	last  string // the last repeat's text
	quiet bool   // no repeat in the last interval: forget it at the next
}

// Logger aggregates records for one slog.Logger. It is safe for
// concurrent use; the summaries are written by a timer goroutine.
type Logger struct {
	log      *slog.Logger
	interval time.Duration

	mu         sync.Mutex
	entries    map[key]*entry
	timer      *time.Timer
	suppressed uint64
}

// New returns an aggregator writing to log (slog.Default() if nil) with
// the given summary interval (0: DefaultInterval).
func New(log *slog.Logger, interval time.Duration) *Logger {
	if log == nil {
		log = slog.Default()
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Logger{log: log, interval: interval, entries: map[key]*entry{}}
}

// Log records one event of kind caused by peer, at level, with text as
// its detail; msg is the message of the line written for it. Lines name
// the kind and the peer; a summary adds count and interval.
func (l *Logger) Log(level slog.Level, msg, kind, peer, text string) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.mu.Lock()
	k := key{kind, peer}
	e := l.entries[k]
	if e == nil && len(l.entries) >= MaxKeys {
		k.peer = Others
		e = l.entries[k]
	}
	if e != nil {
		e.n++
		e.last = text
		e.quiet = false
		l.suppressed++
		l.arm()
		l.mu.Unlock()
		return
	}
	l.entries[k] = &entry{level: level, msg: msg}
	l.arm()
	l.mu.Unlock()
	l.log.Log(context.Background(), level, msg, "kind", kind, "peer", peer, "error", text)
}

// Suppressed returns how many records were counted instead of written.
func (l *Logger) Suppressed() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.suppressed
}

// arm starts the interval's timer. Called with mu held.
func (l *Logger) arm() {
	if l.timer == nil {
		l.timer = time.AfterFunc(l.interval, l.flush)
	}
}

// summary is one line flush writes.
type summary struct {
	key
	*entry
	n    int
	last string
}

// flush writes the summaries of the interval that ended.
func (l *Logger) flush() {
	l.mu.Lock()
	l.timer = nil
	var out []summary
	for k, e := range l.entries {
		if e.n == 0 {
			if e.quiet {
				delete(l.entries, k)
			} else {
				e.quiet = true
			}
			continue
		}
		out = append(out, summary{k, e, e.n, e.last})
		e.n, e.last, e.quiet = 0, "", false
	}
	if len(l.entries) > 0 {
		l.arm()
	}
	l.mu.Unlock()
	for _, s := range out {
		l.log.Log(context.Background(), s.level, s.msg+" (repeated)", "kind", s.kind, "peer", s.peer, "count", s.n, "interval", l.interval, "last", s.last)
	}
}

// Close writes the pending summaries now and stops the timer.
func (l *Logger) Close() {
	l.mu.Lock()
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.mu.Unlock()
	l.flush()
	l.mu.Lock()
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.mu.Unlock()
}
