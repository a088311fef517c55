package poe

import (
	"math/bits"
	"slices"
)

// timerHeap holds the timers, ordered by (due, seq), where seq is the
// order of insertion: POE's queue puts an item after every item of equal
// priority, including when an adjustment re-inserts it.
//
// It is a hierarchy built for many pending timers. Timers due before
// limit sit in run, a sorted array consumed from its front, or (those
// placed there after run was sorted: past-due timers set during a batch)
// in a small 4-ary heap, near; those due within the next fineSlots buckets
// of about a millisecond each sit unsorted in their fine bucket; those due
// within the next two seconds or so in coarse buckets of fineSlots
// milliseconds; later ones in a second heap (far). Only run and near are
// ever popped: when both run dry, the next fine bucket is sorted into run
// and limit advances, and each time limit enters a coarse bucket's span
// that bucket is spread over the fine ones. Setting a timer within the
// next two seconds is an append, to one of a few dozen buckets whose ends
// stay in cache (with a thousand one-level buckets, each append was a
// cache miss), and firing it is a read from the front of run. A single
// heap of 100k timers spends its time in misses; a heap of a bucket's
// timers, in mispredicted comparisons.
//
// Removal is lazy: a removed or adjusted timer leaves its old entry
// behind, recognised as stale because its seq no longer matches the
// item's, and dropped when met. Removing a timer is O(1); the entries are
// compacted when stale ones outnumber live ones three to one: compaction
// reads every entry's item (a cache miss each), so waiting that long costs
// 1.33 reads per removal instead of 2, for at most 72 bytes of stale
// entries per live timer.
type timerHeap struct {
	seq      uint64
	live     int
	stale    int
	run      []heapEntry // a bucket's timers in order, consumed from ri
	ri       int
	counts   []int32 // sortBucket's counters
	near     heap4
	far      heap4
	fine     [][]heapEntry
	coarse   [][]heapEntry
	spare    [][]heapEntry // emptied coarse buckets' arrays, for the next bucket to fill
	inFine   int           // entries (stale included) in the fine buckets
	inCoarse int           // and in the coarse ones
	limit    int64         // run and near: due < limit; fine: limit <= due < limit+fineSpan; coarse: up to coarseEnd(); far: the rest
	touched  uint8         // written by advance so that its reads are not optimised away
}

const (
	fineShift   = 20 // fine buckets of 2^20 ns, about a millisecond
	fineSlots   = 32
	fineWidth   = int64(1) << fineShift
	fineSpan    = fineSlots * fineWidth // = coarseWidth
	coarseShift = fineShift + 5
	coarseSlots = 64
	coarseWidth = int64(1) << coarseShift
)

type heapEntry struct {
	due int64
	seq uint64
	it  *item
}

func (a *heapEntry) less(b *heapEntry) bool {
	return a.due < b.due || a.due == b.due && a.seq < b.seq
}

func (e *heapEntry) valid() bool { return e.it.hseq == e.seq }

func (t *timerHeap) push(it *item) {
	t.seq++
	it.hseq = t.seq
	t.live++
	t.place(heapEntry{it.due, t.seq, it})
}

// coarseEnd is where the coarse buckets end: coarseSlots spans of
// coarseWidth from the one holding limit (whose own bucket is empty: its
// timers were spread over the fine buckets when limit entered it).
func (t *timerHeap) coarseEnd() int64 {
	return t.limit&^(coarseWidth-1) + coarseSlots*coarseWidth
}

func (t *timerHeap) place(e heapEntry) {
	switch {
	case e.due < t.limit:
		t.near.push(e)
	case e.due < t.limit+fineSpan:
		if t.fine == nil {
			t.fine = make([][]heapEntry, fineSlots)
		}
		i := (e.due >> fineShift) & (fineSlots - 1)
		t.fine[i] = append(t.fine[i], e)
		t.inFine++
	case e.due < t.coarseEnd():
		if t.coarse == nil {
			t.coarse = make([][]heapEntry, coarseSlots)
		}
		i := (e.due >> coarseShift) & (coarseSlots - 1)
		b := t.coarse[i]
		if b == nil && len(t.spare) > 0 {
			b = t.spare[len(t.spare)-1]
			t.spare = t.spare[:len(t.spare)-1]
		}
		t.coarse[i] = append(b, e)
		t.inCoarse++
	default:
		t.far.push(e)
	}
}

// head returns the earliest live timer.
func (t *timerHeap) head() *item {
	if e, _ := t.first(); e != nil {
		return e.it
	}
	return nil
}

// first returns the earliest live entry and whether it is run's (else
// near's), dropping stale entries on the way.
func (t *timerHeap) first() (*heapEntry, bool) {
	for {
		var r *heapEntry
		if t.ri < len(t.run) {
			r = &t.run[t.ri]
		}
		q := t.near.top()
		switch {
		case r != nil && (q == nil || r.less(q)):
			if r.valid() {
				return r, true
			}
			*r = heapEntry{}
			t.ri++
			t.stale--
		case q != nil:
			if q.valid() {
				return q, false
			}
			t.near.popTop()
			t.stale--
		default:
			if !t.advance() {
				return nil, false
			}
		}
	}
}

// advance sorts the next fine bucket into run (or, with empty buckets,
// jumps to the far heap's first timer). It reports whether anything is
// left.
func (t *timerHeap) advance() bool {
	if t.inFine == 0 && t.inCoarse == 0 {
		e := t.far.top()
		if e == nil {
			return false
		}
		t.limit = e.due &^ (fineWidth - 1)
		t.fromFar()
		return true
	}
	if t.inFine > 0 {
		i := (t.limit >> fineShift) & (fineSlots - 1)
		b := t.fine[i]
		// First only load both cache lines of every item of the
		// bucket: the loads are independent, so their misses overlap
		// (the dispatch reads both lines; one miss at a time there,
		// or here between heap pushes, would not overlap).
		var touch uint64
		for j := range b {
			it := b[j].it
			touch += it.hseq + uint64(len(it.args))
		}
		t.touched += uint8(touch)
		t.sortBucket(b)
		t.inFine -= len(b)
		clear(b)
		t.fine[i] = b[:0]
	}
	t.limit += fineWidth
	if t.limit&(coarseWidth-1) == 0 && t.inCoarse > 0 {
		t.spread()
	}
	t.fromFar()
	return true
}

// sortBucket puts the live entries of b, a fine bucket due within
// [limit, limit+fineWidth), into run in (due, seq) order; run is empty.
// A counting sort on the due's high bits spreads them over about as many
// sub-buckets as there are entries, so sorting each sub-bucket (and the
// ties in seq) is next to nothing.
func (t *timerHeap) sortBucket(b []heapEntry) {
	w := 0
	for j := range b {
		if b[j].valid() {
			b[w] = b[j]
			w++
		} else {
			t.stale--
		}
	}
	b = b[:w]
	run := t.run[:0]
	if cap(run) < w {
		run = make([]heapEntry, 0, max(w, 2*cap(run)))
	}
	run = run[:w]
	t.run, t.ri = run, 0
	if w <= 16 {
		copy(run, b)
		sortEntries(run)
		return
	}
	bits := min(bits.Len(uint(w-1)), 12)
	shift := fineShift - bits
	mask := int64(1)<<bits - 1
	if t.counts == nil {
		t.counts = make([]int32, 1<<12)
	}
	cnt := t.counts[:1<<bits]
	clear(cnt)
	for j := range b {
		cnt[(b[j].due>>shift)&mask]++
	}
	sum := int32(0)
	for k, c := range cnt {
		cnt[k] = sum
		sum += c
	}
	for j := range b {
		k := (b[j].due >> shift) & mask
		run[cnt[k]] = b[j]
		cnt[k]++
	}
	// A crowded sub-bucket (many alarms for one instant, set over time
	// so that their seqs arrive out of order) is sorted on its own, so
	// that the insertion sort of the whole run never moves an entry
	// further than a short sub-bucket.
	start := int32(0)
	for _, end := range cnt {
		if end-start > 16 {
			slices.SortFunc(run[start:end], func(a, b heapEntry) int {
				switch {
				case a.less(&b):
					return -1
				case b.less(&a):
					return 1
				}
				return 0
			})
		}
		start = end
	}
	sortEntries(run)
}

// sortEntries sorts es by (due, seq) by insertion: for short or nearly
// sorted arrays.
func sortEntries(es []heapEntry) {
	for j := 1; j < len(es); j++ {
		if !es[j].less(&es[j-1]) {
			continue
		}
		e := es[j]
		k := j
		for k > 0 && e.less(&es[k-1]) {
			es[k] = es[k-1]
			k--
		}
		es[k] = e
	}
}

// spread moves the coarse bucket that limit has just entered into the
// fine buckets.
func (t *timerHeap) spread() {
	c := (t.limit >> coarseShift) & (coarseSlots - 1)
	b := t.coarse[c]
	for j := range b {
		i := (b[j].due >> fineShift) & (fineSlots - 1)
		if t.fine == nil {
			t.fine = make([][]heapEntry, fineSlots)
		}
		t.fine[i] = append(t.fine[i], b[j])
		b[j] = heapEntry{}
	}
	t.inCoarse -= len(b)
	t.inFine += len(b)
	// The array goes to whichever bucket fills next rather than waiting
	// a whole turn of the wheel for its own slot: only the half of the
	// slots that hold timers then own arrays, and a wheel turning
	// through fresh slots does not allocate (and fault in) new memory.
	t.coarse[c] = nil
	if cap(b) > 0 {
		t.spare = append(t.spare, b[:0])
	}
}

// fromFar moves the far timers that now fall inside the buckets into
// them.
func (t *timerHeap) fromFar() {
	end := t.coarseEnd()
	for {
		e := t.far.top()
		if e == nil || e.due >= end {
			return
		}
		x := *e
		t.far.popTop()
		if x.valid() {
			t.place(x)
		} else {
			t.stale--
		}
	}
}

// pop removes and returns the earliest live timer.
func (t *timerHeap) pop() *item {
	e, fromRun := t.first()
	if e == nil {
		return nil
	}
	it := e.it
	if fromRun {
		*e = heapEntry{}
		t.ri++
	} else {
		t.near.popTop()
	}
	it.hseq = 0
	t.live--
	return it
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
	if t.stale < 256 || t.stale <= 3*t.live {
		return
	}
	if t.live == 0 {
		// Everything is stale: drop it without looking at the items.
		clear(t.run)
		t.run, t.ri = t.run[:0], 0
		t.near.reset()
		t.far.reset()
		for _, bs := range [][][]heapEntry{t.fine, t.coarse} {
			for i, b := range bs {
				clear(b)
				bs[i] = b[:0]
			}
		}
		t.inFine, t.inCoarse, t.stale = 0, 0, 0
		return
	}
	kept := t.run[:0]
	for _, e := range t.run[t.ri:] {
		if e.valid() {
			kept = append(kept, e)
		}
	}
	clear(t.run[len(kept):])
	t.run, t.ri = kept, 0
	t.near.compact()
	t.far.compact()
	t.inFine = compactBuckets(t.fine)
	t.inCoarse = compactBuckets(t.coarse)
	t.stale = 0
}

// compactBuckets drops the stale entries of bs and returns how many are
// left.
func compactBuckets(bs [][]heapEntry) int {
	n := 0
	for i, b := range bs {
		kept := b[:0]
		for _, e := range b {
			if e.valid() {
				kept = append(kept, e)
			}
		}
		clear(b[len(kept):])
		bs[i] = kept
		n += len(kept)
	}
	return n
}

// each calls fn for every live timer, in no particular order.
func (t *timerHeap) each(fn func(*item)) {
	for _, h := range [][]heapEntry{t.run[t.ri:], t.near.h, t.far.h} {
		for i := range h {
			if h[i].valid() {
				fn(h[i].it)
			}
		}
	}
	for _, bs := range [][][]heapEntry{t.fine, t.coarse} {
		for _, b := range bs {
			for i := range b {
				if b[i].valid() {
					fn(b[i].it)
				}
			}
		}
	}
}

// heap4 is a 4-ary min-heap of entries: four children per node halve the
// depth of a binary heap and sit in one or two cache lines.
type heap4 struct{ h []heapEntry }

func (q *heap4) push(e heapEntry) {
	q.h = append(q.h, e)
	q.up(len(q.h) - 1)
}

func (q *heap4) top() *heapEntry {
	if len(q.h) == 0 {
		return nil
	}
	return &q.h[0]
}

func (q *heap4) popTop() {
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h[n] = heapEntry{}
	q.h = q.h[:n]
	if n > 0 {
		q.down(0)
	}
}

func (q *heap4) reset() {
	clear(q.h)
	q.h = q.h[:0]
}

// compact drops stale entries and restores the heap order.
func (q *heap4) compact() {
	kept := q.h[:0]
	for _, e := range q.h {
		if e.valid() {
			kept = append(kept, e)
		}
	}
	clear(q.h[len(kept):])
	q.h = kept
	if len(q.h) < 2 {
		return // (-1)/4 is 0 in Go: no loop for them
	}
	for i := (len(q.h) - 2) / 4; i >= 0; i-- {
		q.down(i)
	}
}

func (q *heap4) up(i int) {
	h := q.h
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

func (q *heap4) down(i int) {
	h := q.h
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
