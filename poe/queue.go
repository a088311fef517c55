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

type item struct {
	id          uint64
	due         int64 // nanoseconds on the kernel's monotonic clock
	kind        itemKind
	dead        bool // removed while still in the ring
	dest, src   *Session
	event       string
	args        []any
	callerState string
	file        string
	line        int
	hidx        int   // index in the timer heap, -1 when not there
	epochBase   int64 // for alarms: due expressed against the wall clock (unused for posts)
	anext       *item // session alarm list
	aprev       *item
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

// timerHeap is a binary min-heap of timers keyed by (due, id), with each
// item's index kept for O(log n) removal and adjustment.
type timerHeap []*item

func (h *timerHeap) push(it *item) {
	it.hidx = len(*h)
	*h = append(*h, it)
	h.up(it.hidx)
}

func (h timerHeap) head() *item {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}

func (h *timerHeap) remove(i int) *item {
	old := *h
	n := len(old) - 1
	it := old[i]
	if i != n {
		old[i] = old[n]
		old[i].hidx = i
	}
	old[n] = nil
	*h = old[:n]
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
	it.hidx = -1
	return it
}

// fix restores order after it.due changed.
func (h timerHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h timerHeap) up(i int) {
	it := h[i]
	for i > 0 {
		p := (i - 1) / 2
		if !it.less(h[p]) {
			break
		}
		h[i] = h[p]
		h[i].hidx = i
		i = p
	}
	h[i] = it
	it.hidx = i
}

func (h timerHeap) down(i0 int) bool {
	i := i0
	it := h[i]
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && h[r].less(h[l]) {
			c = r
		}
		if !h[c].less(it) {
			break
		}
		h[i] = h[c]
		h[i].hidx = i
		i = c
	}
	h[i] = it
	it.hidx = i
	return i > i0
}
