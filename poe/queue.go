package poe

// The event queue. POE keeps one priority queue ordered by (due, id).
// Posted items get strictly increasing dues and are therefore FIFO among
// themselves; timers can land anywhere. We keep the same order with two
// structures: a ring for posted items (O(1), no clock read per post) and a
// binary heap for timers (O(log n) set, fire, adjust and remove; POE's
// array queue is O(n)). The dispatcher merges the two heads by (due, id).

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
	anext *item // session alarm list
	aprev *item
	kind  itemKind
	dead  bool // removed while still in the ring

	event       string
	args        []any
	callerState string
	file        string
	line        int
}

// less orders items as POE's queue does.
func (a *item) less(b *item) bool {
	return a.due < b.due || a.due == b.due && a.id < b.id
}

// ring is a growable FIFO of posted items.
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

// peek returns the first live item, discarding dead ones (the caller
// frees them through drop).
func (r *ring) peek(drop func(*item)) *item {
	for r.n > 0 {
		it := r.buf[r.head]
		if !it.dead {
			return it
		}
		r.pop()
		drop(it)
	}
	return nil
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

// timerHeap is a 4-ary min-heap of timers keyed by (due, seq), where seq
// is the order of insertion: POE's queue puts an item after every item of
// equal priority, including when an adjustment re-inserts it.
//
// The keys live in the heap array, and removal is lazy: a removed or
// adjusted timer leaves its old entry behind, recognised as stale because
// its seq no longer matches the item's, and skipped when it reaches the
// top. Sifting therefore never touches the items themselves, which keeps a
// heap of 100k timers fast (an index kept in each item would cost a cache
// miss per level), and removing a timer is O(1). The heap is rebuilt when
// stale entries outnumber live ones.
type timerHeap struct {
	h     []heapEntry
	seq   uint64
	live  int
	stale int
}

type heapEntry struct {
	due int64
	seq uint64
	it  *item
}

func (a *heapEntry) less(b *heapEntry) bool {
	return a.due < b.due || a.due == b.due && a.seq < b.seq
}

func (t *timerHeap) valid(e *heapEntry) bool { return e.it.hseq == e.seq }

func (t *timerHeap) push(it *item) {
	t.seq++
	it.hseq = t.seq
	t.h = append(t.h, heapEntry{it.due, t.seq, it})
	t.up(len(t.h) - 1)
	t.live++
}

// head returns the earliest live timer, discarding stale entries above it.
func (t *timerHeap) head() *item {
	for len(t.h) > 0 {
		if e := &t.h[0]; t.valid(e) {
			return e.it
		}
		t.popTop()
		t.stale--
	}
	return nil
}

// pop removes and returns the earliest live timer.
func (t *timerHeap) pop() *item {
	it := t.head()
	if it != nil {
		t.popTop()
		it.hseq = 0
		t.live--
	}
	return it
}

func (t *timerHeap) popTop() {
	n := len(t.h) - 1
	t.h[0] = t.h[n]
	t.h[n] = heapEntry{}
	t.h = t.h[:n]
	if n > 0 {
		t.down(0)
	}
}

// remove takes a live timer out (lazily).
func (t *timerHeap) remove(it *item) {
	if it.hseq == 0 {
		return
	}
	it.hseq = 0
	t.live--
	t.stale++
	t.maybeCompact()
}

// fix re-sorts a live timer after its due changed: it goes after the
// timers of equal due, as POE re-inserts it.
func (t *timerHeap) fix(it *item) {
	if it.hseq == 0 {
		return
	}
	t.live--
	t.stale++
	t.push(it)
	t.maybeCompact()
}

func (t *timerHeap) maybeCompact() {
	if t.stale < 256 || t.stale <= t.live {
		return
	}
	kept := t.h[:0]
	for _, e := range t.h {
		if t.valid(&e) {
			kept = append(kept, e)
		}
	}
	clear(t.h[len(kept):])
	t.h = kept
	t.stale = 0
	for i := (len(t.h) - 2) / 4; i >= 0; i-- {
		t.down(i)
	}
}

// each calls fn for every live timer, in no particular order.
func (t *timerHeap) each(fn func(*item)) {
	for i := range t.h {
		if e := &t.h[i]; t.valid(e) {
			fn(e.it)
		}
	}
}

func (t *timerHeap) up(i int) {
	h := t.h
	e := h[i]
	for i > 0 {
		p := (i - 1) / 4
		if !e.less(&h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = e
}

func (t *timerHeap) down(i int) {
	h := t.h
	e := h[i]
	n := len(h)
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		best := c
		for j := c + 1; j < c+4 && j < n; j++ {
			if h[j].less(&h[best]) {
				best = j
			}
		}
		if !h[best].less(&e) {
			break
		}
		h[i] = h[best]
		i = best
	}
	h[i] = e
}
