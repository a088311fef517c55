package poe

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Snapshot is the kernel's state at one moment: the "kernel peek" (POE's
// POE::API::Peek) as plain values, for dumps, tests and monitoring.
type Snapshot struct {
	KernelID string
	Running  bool
	Taken    time.Time
	Sessions []SessionInfo
	Queue    []QueuedEvent // in dispatch order
	FDs      []FDInfo
	Signals  []SignalWatch
	Children []int // PIDs awaited with SigChild
}

// SessionInfo describes one session.
type SessionInfo struct {
	ID         SessionID
	Aliases    []string
	Parent     SessionID // 0: the kernel
	Children   []SessionID
	Refcount   int
	EventsTo   int // queued items addressed to it
	EventsFrom int // queued items it sent to others
	Handles    int // distinct fds watched
	Timers     int
	ExtraRefs  map[string]int
	PIDs       int
	Signals    []string
	Handlers   []string
}

// QueuedEvent is one pending item of the queue.
type QueuedEvent struct {
	ID     uint64
	Kind   string // post, alarm, signal, gc
	Event  string
	Source SessionID
	Dest   SessionID
	Due    time.Time
}

// FDInfo is one watched file descriptor.
type FDInfo struct {
	FD       int
	Session  SessionID
	Modes    []string // read, write, expedite
	Paused   []string
	Internal bool
}

// SignalWatch is one session's watcher of one signal.
type SignalWatch struct {
	Signal  string
	Session SessionID
	Event   string
}

// Peek returns a snapshot. Call it on the kernel's goroutine (a handler,
// or between Run calls); other goroutines post an event that calls it.
func (k *Kernel) Peek() Snapshot {
	snap := Snapshot{KernelID: k.id, Running: k.running, Taken: time.Now()}
	ids := make([]SessionID, 0, k.sids.len())
	k.sids.each(func(id uint64, _ *Session) { ids = append(ids, SessionID(id)) })
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		s := k.sids.get(uint64(id))
		info := SessionInfo{
			ID: id, Aliases: s.sortedAliases(), Refcount: s.refcount,
			EventsTo: s.pendTo, EventsFrom: s.pendFrom, Handles: len(s.fdModes),
			PIDs: s.pids, Handlers: s.HandlerNames(),
		}
		if s.parent != nil {
			info.Parent = s.parent.id
		}
		for _, c := range s.Children() {
			info.Children = append(info.Children, c.id)
		}
		info.Timers = s.ntimers
		if len(s.extra) > 0 {
			info.ExtraRefs = map[string]int{}
			for t, n := range s.extra {
				info.ExtraRefs[t] = n
			}
		}
		for name := range s.sigs {
			info.Signals = append(info.Signals, name)
			snap.Signals = append(snap.Signals, SignalWatch{Signal: name, Session: id, Event: s.sigs[name].event})
		}
		sort.Strings(info.Signals)
		snap.Sessions = append(snap.Sessions, info)
	}
	sort.Slice(snap.Signals, func(i, j int) bool {
		a, b := snap.Signals[i], snap.Signals[j]
		return a.Signal < b.Signal || a.Signal == b.Signal && a.Session < b.Session
	})
	var items []*item
	k.queue.fifo.each(func(it *item) {
		if !it.dead {
			items = append(items, it)
		}
	})
	k.alarms.heap.each(func(it *item) { items = append(items, it) })
	sortItems(items)
	for _, it := range items {
		snap.Queue = append(snap.Queue, QueuedEvent{
			ID: it.id, Kind: it.kind.String(), Event: it.event,
			Source: it.src.id, Dest: it.dest.id, Due: k.clock.toTime(it.due),
		})
	}
	modeNames := [3]string{"read", "write", "expedite"}
	for fd, rec := range k.fds.recs {
		if rec.internal != nil {
			snap.FDs = append(snap.FDs, FDInfo{FD: fd, Internal: true, Modes: []string{"read"}})
			continue
		}
		bySession := map[SessionID]*FDInfo{}
		var order []SessionID
		for mode, ws := range rec.watchers {
			for _, w := range ws {
				fi := bySession[w.s.id]
				if fi == nil {
					fi = &FDInfo{FD: fd, Session: w.s.id}
					bySession[w.s.id] = fi
					order = append(order, w.s.id)
				}
				fi.Modes = append(fi.Modes, modeNames[mode])
				if rec.paused[mode] {
					fi.Paused = append(fi.Paused, modeNames[mode])
				}
			}
		}
		for _, id := range order {
			snap.FDs = append(snap.FDs, *bySession[id])
		}
	}
	sort.Slice(snap.FDs, func(i, j int) bool {
		a, b := snap.FDs[i], snap.FDs[j]
		return a.FD < b.FD || a.FD == b.FD && a.Session < b.Session
	})
	for pid := range k.procs.pids {
		snap.Children = append(snap.Children, pid)
	}
	sort.Ints(snap.Children)
	return snap
}

// WriteText writes the snapshot as the human-readable dump the seed server
// prints on SIGUSR1 (verbose=false) and SIGUSR2 (verbose=true).
func (s Snapshot) WriteText(w io.Writer, verbose bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Kernel %s: %d sessions, %d queued events, %d watched fds, %d signal watchers\n",
		s.KernelID, len(s.Sessions), len(s.Queue), len(s.FDs), len(s.Signals))
	for _, ss := range s.Sessions {
		fmt.Fprintf(&b, "  session %d", ss.ID)
		if len(ss.Aliases) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(ss.Aliases, ", "))
		}
		fmt.Fprintf(&b, " parent=%d refcount=%d events_to=%d events_from=%d handles=%d timers=%d children=%d\n",
			ss.Parent, ss.Refcount, ss.EventsTo, ss.EventsFrom, ss.Handles, ss.Timers, len(ss.Children))
		if verbose {
			if len(ss.ExtraRefs) > 0 {
				fmt.Fprintf(&b, "    extra refs: %v\n", ss.ExtraRefs)
			}
			if len(ss.Signals) > 0 {
				fmt.Fprintf(&b, "    signals: %s\n", strings.Join(ss.Signals, " "))
			}
			fmt.Fprintf(&b, "    handlers: %s\n", strings.Join(ss.Handlers, " "))
		}
	}
	if verbose {
		for _, q := range s.Queue {
			fmt.Fprintf(&b, "  queued %d %s %q %d -> %d due %s\n", q.ID, q.Kind, q.Event, q.Source, q.Dest,
				q.Due.Sub(s.Taken).Round(time.Microsecond))
		}
		for _, f := range s.FDs {
			fmt.Fprintf(&b, "  fd %d session %d modes %v paused %v\n", f.FD, f.Session, f.Modes, f.Paused)
		}
		for _, sw := range s.Signals {
			fmt.Fprintf(&b, "  signal %s -> session %d event %q\n", sw.Signal, sw.Session, sw.Event)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
