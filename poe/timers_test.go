package poe

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The tiered timer queue (near heap, wheel, far heap; lazy removal) must
// pop exactly what a sorted list of (due, seq) would, through random
// pushes over the past, the next second and hours ahead, removals,
// adjustments and pops.
func TestTimerHeapAgainstSortedList(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var h timerHeap
	var live []*item
	var seqs = map[*item]uint64{}
	nextID := uint64(0)
	randDue := func() int64 {
		now := h.limit
		switch rng.IntN(5) {
		case 0:
			return now - rng.Int64N(int64(time.Second)) // past
		case 1:
			return now + rng.Int64N(int64(2*time.Millisecond))
		case 2:
			return now + rng.Int64N(int64(time.Second))
		case 3:
			return now + rng.Int64N(int64(3*time.Hour)) // far
		default:
			return now + rng.Int64N(int64(10*time.Second))
		}
	}
	check := func(step int) {
		if h.live != len(live) {
			t.Fatalf("step %d: live %d, want %d", step, h.live, len(live))
		}
		var want *item
		for _, it := range live {
			if want == nil || it.due < want.due || it.due == want.due && seqs[it] < seqs[want] {
				want = it
			}
		}
		if got := h.head(); got != want {
			t.Fatalf("step %d: head %+v, want %+v", step, got, want)
		}
	}
	for step := 0; step < 20000; step++ {
		switch op := rng.IntN(10); {
		case op < 5 || len(live) == 0: // push
			nextID++
			it := &item{id: nextID, due: randDue()}
			h.push(it)
			seqs[it] = it.hseq
			live = append(live, it)
		case op < 7: // pop
			want := h.head()
			it := h.pop()
			if it != want {
				t.Fatalf("step %d: pop differs from head", step)
			}
			i := slices.Index(live, it)
			live = slices.Delete(live, i, i+1)
		case op < 9: // remove a random one
			i := rng.IntN(len(live))
			h.remove(live[i])
			live = slices.Delete(live, i, i+1)
		default: // adjust a random one
			it := live[rng.IntN(len(live))]
			it.due = randDue()
			h.fix(it)
			seqs[it] = it.hseq
		}
		check(step)
	}
	// Remove everything: compaction must cope with heaps that end empty.
	for _, it := range live {
		h.remove(it)
	}
	live = nil
	check(-1)
	n := 0
	h.each(func(*item) { n++ })
	if n != len(live) {
		t.Fatalf("each saw %d timers, want %d", n, len(live))
	}
}
