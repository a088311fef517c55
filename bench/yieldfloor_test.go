package bench

import (
	"sync/atomic"
	"testing"
)

// BenchmarkYieldFloor measures a model of a POE yield cut down to the
// bookkeeping POE's rules cannot do without, to show how far below the
// real kernel's yield a POE yield can go at all (bench/README.md, "Bare
// loop"). It is not a kernel: no timers, signals, I/O, tracing, exception
// trap, _default or item kinds. What it keeps, per event:
//
//   - a pooled queue item with an ID, sender, destination, caller state
//     and a FIFO due (max of the last clock reading and the last due, +1);
//   - the destination's pending count and refcount, held and released;
//   - the batch cut-off: an event yielded during a batch waits for the
//     next timeslice, so every yield is a timeslice of its own;
//   - the timeslice's checks: cross-goroutine posts, pending work, I/O to
//     poll, deferred work, sessions to collect;
//   - the handler found by name through a one-entry cache;
//   - a pooled Event filled with SESSION, HEAP, STATE, SENDER, CALLER_STATE
//     and the arguments, and the active session saved and restored.
func BenchmarkYieldFloor(b *testing.B) {
	b.ReportAllocs()
	k := &floorKernel{self: &floorSession{}, nsessions: 1}
	s := &floorSession{}
	seen := 0
	s.states = map[string]func(*floorEvent){"step": func(e *floorEvent) {
		if seen++; seen < b.N {
			e.k.yield("step")
		}
	}}
	k.active = s
	k.yield("step")
	k.active = k.self
	b.ResetTimer()
	for k.nsessions > 0 {
		k.timeslice()
	}
	b.StopTimer()
	if seen != b.N {
		b.Fatalf("saw %d of %d", seen, b.N)
	}
}

type floorSession struct {
	refcount, pendTo int
	heap             any
	cacheEvent       string
	cacheH           func(*floorEvent)
	states           map[string]func(*floorEvent)
	marked           bool
}

type floorItem struct {
	id          uint64
	due         int64
	dest, src   *floorSession
	event       string
	callerState string
	args        []any
	argsStorage [1]any
}

type floorEvent struct {
	k                  *floorKernel
	session, sender    *floorSession
	heap               any
	state, callerState string
	args               []any
}

type floorKernel struct {
	ring             [256]*floorItem
	head, n          uint32
	free             []*floorItem
	freeEvents       []*floorEvent
	lastID, batchCut uint64
	now, lastFifo    int64
	queued           int
	active, self     *floorSession
	activeEvent      string
	injected         atomic.Int32
	activeFds        int
	deferred         []func()
	marks            []*floorSession
	nsessions        int
}

// takeFree pops a pooled value, or makes one when the pool is empty.
func takeFree[T any](pool *[]*T) *T {
	if n := len(*pool); n > 0 {
		v := (*pool)[n-1]
		*pool = (*pool)[:n-1]
		return v
	}
	return new(T)
}

func (k *floorKernel) yield(event string) {
	it := takeFree(&k.free)
	k.lastID++
	it.id = k.lastID
	it.dest, it.src, it.event, it.callerState = k.active, k.active, event, k.activeEvent
	it.args = it.argsStorage[:0]
	it.due = max(k.now, k.lastFifo) + 1
	k.lastFifo = it.due
	k.queued++
	if d := it.dest; d.pendTo == 0 {
		d.refcount++
	}
	it.dest.pendTo++
	k.ring[(k.head+k.n)&255] = it
	k.n++
}

func (s *floorSession) lookup(event string) func(*floorEvent) {
	if s.cacheH != nil && s.cacheEvent == event {
		return s.cacheH
	}
	h := s.states[event]
	if h != nil {
		s.cacheEvent, s.cacheH = event, h
	}
	return h
}

func (k *floorKernel) timeslice() {
	if k.injected.Load() != 0 {
		panic("floor: no cross-goroutine posts in this model")
	}
	if k.queued == 0 {
		k.nsessions = 0
		return
	}
	if k.activeFds > 0 || k.n == 0 {
		panic("floor: no I/O in this model")
	}
	k.batchCut = k.lastID
	k.runBatch()
	for _, s := range k.marks {
		s.marked = false
		if s.refcount <= 0 {
			k.nsessions--
		}
	}
	k.marks = k.marks[:0]
	if len(k.deferred) > 0 {
		panic("floor: no deferred work in this model")
	}
}

// runBatch is not inlined into timeslice, as the kernel's is not.
//
//go:noinline
func (k *floorKernel) runBatch() {
	for k.n > 0 {
		it := k.ring[k.head&255]
		if it.id > k.batchCut {
			return
		}
		k.ring[k.head&255] = nil
		k.head++
		k.n--
		d := it.dest
		k.queued--
		if d.pendTo--; d.pendTo == 0 {
			d.refcount--
		}
		if h := d.lookup(it.event); h != nil {
			ev := takeFree(&k.freeEvents)
			ev.k, ev.session, ev.heap, ev.state, ev.sender = k, d, d.heap, it.event, it.src
			ev.callerState, ev.args = it.callerState, it.args
			prevS, prevE := k.active, k.activeEvent
			k.active, k.activeEvent = d, it.event
			h(ev)
			k.active, k.activeEvent = prevS, prevE
			ev.args, ev.heap, ev.session, ev.sender = nil, nil, nil, nil
			k.freeEvents = append(k.freeEvents, ev)
		}
		clear(it.args)
		it.dest, it.src = nil, nil
		k.free = append(k.free, it)
		if d.refcount <= 0 && !d.marked {
			d.marked = true
			k.marks = append(k.marks, d)
		}
	}
}
