package poe

import "time"

// The event queue. POE keeps one priority queue ordered by (due, id).
// Posted items get strictly increasing dues and are therefore FIFO among
// themselves; timers can land anywhere. We keep the same order with two
// structures: a ring for posted items (O(1), no clock read per post) and a
// tiered timer queue, timerHeap (removal O(1), setting a timer within two
// seconds O(1), the rest O(log n); POE's array queue is O(n)). The
// dispatcher merges the two heads by (due, id).

type itemKind uint8

const (
	kindPost   itemKind = iota // post, yield, sig_child events
	kindAlarm                  // alarm/delay timers
	kindSignal                 // signal(), OS signals, IDLE/ZOMBIE, DIE
	kindGC                     // the internal item that keeps a new session alive until its first batch
	kindStop                   // StopSession: stop the destination, children and all
)

func (k itemKind) String() string {
	switch k {
	case kindPost:
		return "post"
	case kindAlarm:
		return "alarm"
	case kindSignal:
		return "signal"
	case kindGC:
		return "gc"
	case kindStop:
		return "stop"
	}
	return "?"
}

// item is one queued event or timer. Fields are ordered so that what the
// timer paths touch shares the first cache line.
type item struct {
	id    uint64
	due   int64  // nanoseconds on the kernel's monotonic clock
	hseq  uint64 // the timer heap's seq of this item's live entry; 0 when not in the heap
	dest  *Session
	src   *Session
	kind  itemKind
	dead  bool  // removed while still in the ring
	aidx  int32 // index in dest.alarms while a timer (once the kernel keeps those lists)
	event string

	args        []any
	callerState string
	obs         *itemObs // only with Options.Trace or a Recorder
	arg0        [1]any   // args' storage for one argument: no separate cache line to miss
}

// setArgs copies args in. An item that has never carried more than one
// argument keeps them inside itself; one that has keeps its own array, so
// that reusing items never allocates.
func (it *item) setArgs(args []any) {
	if len(args) == 0 {
		if cap(it.args) > 1 {
			it.args = it.args[:0]
		} else {
			it.args = it.arg0[:0]
		}
		return
	}
	if cap(it.args) > 1 || len(args) > 1 {
		it.args = append(it.args[:0], args...)
		return
	}
	it.args = append(it.arg0[:0], args...)
}

// itemObs is what tracing wants of an item, kept out of item so that an
// item is two cache lines (128 bytes, and slabs of 64 are page-aligned).
type itemObs struct {
	file string
	line int
	enq  int64 // when it was queued, read only with a TraceRecorder
}

// where returns the file and line the item was queued from, when traced.
func (it *item) where() (string, int) {
	if it.obs == nil {
		return "", 0
	}
	return it.obs.file, it.obs.line
}

// less orders items as POE's queue does.
func (a *item) less(b *item) bool {
	return a.due < b.due || a.due == b.due && a.id < b.id
}

// ring is the growable FIFO of posted items. Slots outside [head, head+n) are nil,
// and buf is never empty (NewKernel sizes it), so buf[head] is nil exactly
// when the ring is empty.
type ring struct {
	buf  []*item
	head int
	n    int
}

func (r *ring) push(it *item) {
	if r.n == len(r.buf) {
		nb := make([]*item, max(16, 2*len(r.buf)))
		for i := 0; i < r.n; i++ {
			nb[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = nb, 0
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = it
	r.n++
}

func (r *ring) pop() *item {
	it := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	return it
}

// each calls fn for every item still in the ring, oldest first.
func (r *ring) each(fn func(*item)) {
	for i := 0; i < r.n; i++ {
		fn(r.buf[(r.head+i)&(len(r.buf)-1)])
	}
}

// eventQueue is POE::Resource::Events: the items waiting for dispatch
// (posted ones here in a FIFO, timers in Kernel.alarms), the counter every
// item's ID comes from, and the pool items are reused from.
type eventQueue struct {
	fifo    ring    // posted items
	lastID  uint64  // the last item ID given out
	lastDue int64   // the due of the last posted item
	queued  int     // live items, timers included
	gcItems int     // live internal GC items (they count as work for the idle check, as in POE)
	pool    []*item // items to reuse
}

// EventCount returns the number of queued items (internal ones included).
func (k *Kernel) EventCount() int { return k.queue.queued }

// NextEventTime returns when the queue's next item is due, if any.
func (k *Kernel) NextEventTime() (time.Time, bool) {
	var best *item
	if f := k.queue.fifoHead(); f != nil {
		best = f
	}
	if t := k.alarms.heap.head(); t != nil && (best == nil || t.less(best)) {
		best = t
	}
	if best == nil {
		return time.Time{}, false
	}
	return k.clock.toTime(best.due), true
}

// fifoHead returns the first posted item, or nil. The head is never dead:
// purge and runBatch drop dead items as soon as they reach it. Slots
// outside the ring's live span are nil (see ring), so an empty ring needs
// no test of its own.
func (q *eventQueue) fifoHead() *item { return q.fifo.buf[q.fifo.head] }

// dropDeadHead frees the dead items at the head of the ring.
func (q *eventQueue) dropDeadHead() {
	r := &q.fifo
	for r.n > 0 {
		it := r.buf[r.head]
		if !it.dead {
			return
		}
		r.pop()
		q.recycle(it)
	}
}

// recycle puts an item that left the queue back in the pool.
func (q *eventQueue) recycle(it *item) {
	clear(it.args)
	it.args = it.args[:0]
	it.dest, it.src = nil, nil
	if cap(it.args) > 64 {
		it.args = nil
	}
	if len(q.pool) < 1<<17 {
		q.pool = append(q.pool, it)
	}
}

// enqueue adds a posted item (FIFO among posted items).
func (k *Kernel) enqueuePost(kind itemKind, dest, src *Session, event string, args []any) *item {
	k.onGoroutine() // for Post, Yield, Signal, Postback.Post (not inlined: Yield is)
	it := k.newItem()
	it.kind, it.dest, it.src, it.event = kind, dest, src, event
	it.setArgs(args)
	// Posted dues strictly increase and never pass the real clock: each
	// post is 1ns after the last reading or the previous post. POE stamps
	// a post with the time it is made, so that a timer falling due while
	// a handler runs goes before what the handler posts afterwards; with
	// no timer pending there is nothing to order against and the cached
	// reading does. With one pending the clock is read here, and the
	// batch that follows uses the reading instead of making its own
	// (dispatchDue): a yield chain beside a pending timer still reads the
	// clock once per event, as it did at each batch start.
	q := &k.queue
	if k.alarms.heap.live > 0 {
		k.clock.read()
		k.clock.posted = true
	}
	d := max(k.clock.now, q.lastDue) + 1
	q.lastDue = d
	it.due = d
	k.hold(it)
	q.fifo.push(it)
	if k.trace != nil {
		k.trace.enqueue(k, it)
	}
	return it
}

// newItem takes an item from the pool and gives it the next ID.
func (k *Kernel) newItem() *item {
	q := &k.queue
	var it *item
	if n := len(q.pool); n > 0 {
		it = q.pool[n-1]
		q.pool = q.pool[:n-1]
	} else {
		// Allocate in slabs: one allocation per 64 items.
		slab := make([]item, 64)
		for i := range slab[1:] {
			q.pool = append(q.pool, &slab[i+1])
		}
		it = &slab[0]
	}
	q.lastID++
	it.id = q.lastID
	it.hseq = 0
	it.dead = false
	if k.active != k.self {
		it.callerState = k.activeEvent
	} else {
		it.callerState = ""
	}
	if k.observed {
		k.observeItem(it)
	} else {
		it.obs = nil
	}
	return it
}

// hold makes a queued item keep its destination (and a different sender)
// alive, as POE's pending-to / pending-from counts do.
func (k *Kernel) hold(it *item) {
	k.queue.queued++
	if it.kind == kindGC {
		k.queue.gcItems++
	}
	if d := it.dest; d != k.self {
		if d.pendTo == 0 {
			k.refInc(d)
		}
		d.pendTo++
	}
	if s := it.src; s != it.dest && s != k.self {
		if s.pendFrom == 0 {
			k.refInc(s)
		}
		s.pendFrom++
	}
}

// release undoes hold when an item leaves the queue.
func (k *Kernel) release(it *item) { k.releaseItem(it, true) }

// releaseItem is release; with markDest false the destination is not
// marked for collection (see runBatch).
func (k *Kernel) releaseItem(it *item, markDest bool) {
	k.queue.queued--
	if it.kind == kindGC {
		k.queue.gcItems--
	}
	if d := it.dest; d != k.self {
		d.pendTo--
		if d.pendTo == 0 {
			if markDest {
				k.refDec(d)
			} else {
				d.refcount--
			}
		}
	}
	if s := it.src; s != it.dest && s != k.self {
		s.pendFrom--
		if s.pendFrom == 0 {
			k.refDec(s)
		}
	}
}
