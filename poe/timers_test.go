package poe

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"
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

// A fine bucket is sorted into a run by a counting sort with an insertion
// sort behind it: dense buckets full of ties (equal dues, whose order is
// their seq), stale entries, adjustments and past-due timers pushed while
// the run is being consumed must still pop in (due, seq) order.
func TestTimerRunDenseTies(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{3, 16, 17, 200, 5000} {
		var h timerHeap
		type key struct {
			due int64
			seq uint64
		}
		want := map[*item]key{}
		push := func(it *item) {
			h.push(it)
			want[it] = key{it.due, it.hseq}
		}
		for i := 0; i < n; i++ {
			// 3 ms of dues on a 20 µs grid: ties in every bucket.
			push(&item{id: uint64(i + 1), due: int64(rng.IntN(150)) * int64(20*time.Microsecond)})
		}
		for it := range want {
			switch rng.IntN(8) {
			case 0:
				h.remove(it)
				delete(want, it)
			case 1:
				it.due = int64(rng.IntN(150)) * int64(20*time.Microsecond)
				h.fix(it)
				want[it] = key{it.due, it.hseq}
			}
		}
		var last key
		popped := 0
		for h.live > 0 {
			it := h.pop()
			k, ok := want[it]
			if !ok {
				t.Fatalf("n=%d: popped a timer that is not pending", n)
			}
			if k.due < last.due || k.due == last.due && k.seq < last.seq {
				t.Fatalf("n=%d: popped (%d, %d) after (%d, %d)", n, k.due, k.seq, last.due, last.seq)
			}
			delete(want, it)
			last = k
			popped++
			// Now and then a timer already due, as a handler's
			// Delay(0) would set: it goes to the near heap and must
			// come after the ties left in the run, before the rest.
			if rng.IntN(10) == 0 {
				push(&item{due: k.due})
			}
		}
		if popped < n/2 {
			t.Fatalf("n=%d: only %d popped", n, popped)
		}
		if len(want) != 0 {
			t.Fatalf("n=%d: %d timers never popped", n, len(want))
		}
	}
}

// Many alarms for one instant, set partly while it was in a coarse bucket
// and partly once it was within the fine ones: the spread appends the
// older (lower seq) entries after the newer, and they must still fire
// oldest first. (sortBucket sorts such a crowded sub-bucket on its own,
// so that its insertion sort stays linear.)
func TestTimerOneInstantAcrossTiers(t *testing.T) {
	var h timerHeap
	base := int64(time.Hour) &^ (coarseWidth - 1)
	h.limit = base
	at := base + coarseWidth + int64(5*time.Millisecond) // the next coarse bucket
	var want []*item
	set := func(n int) {
		for i := 0; i < n; i++ {
			it := &item{due: at}
			h.push(it)
			want = append(want, it)
		}
	}
	set(3000)
	if h.inCoarse != 3000 {
		t.Fatalf("%d entries in the coarse buckets, want 3000", h.inCoarse)
	}
	// The clock moves on 10 ms: the instant is now within the fine
	// buckets' reach, but its coarse bucket is not spread yet.
	first := &item{due: base + int64(10*time.Millisecond)}
	h.push(first)
	if got := h.pop(); got != first {
		t.Fatal("the early timer did not fire first")
	}
	set(3000)
	if h.inFine != 3000 {
		t.Fatalf("%d entries in the fine buckets, want 3000", h.inFine)
	}
	for i, w := range want {
		if got := h.pop(); got != w {
			t.Fatalf("pop %d of %d: not the oldest timer left", i, len(want))
		}
	}
}

// A steady state of timers up to a second ahead, each fired timer setting
// a new one, must stop allocating once the wheel has turned: a coarse
// bucket's array, emptied when its span comes near, serves the next bucket
// to fill instead of each of the 64 slots growing its own.
func TestTimerWheelSteadyStateReusesArrays(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var h timerHeap
	now := int64(0)
	const pending = 20000
	items := make([]item, pending)
	for i := range items {
		items[i].due = rng.Int64N(int64(time.Second))
		h.push(&items[i])
	}
	// Fire for simulated time: every popped timer is re-armed up to a
	// second ahead, so pending stays constant.
	run := func(d time.Duration) {
		end := now + int64(d)
		for now < end {
			now += int64(50 * time.Microsecond)
			for {
				it := h.head()
				if it == nil || it.due > now {
					break
				}
				h.pop()
				it.due = now + rng.Int64N(int64(time.Second))
				h.push(it)
			}
		}
	}
	run(3 * time.Second) // warm up: the wheel turns once (2 s) and more
	allocs := testing.AllocsPerRun(5, func() { run(200 * time.Millisecond) })
	if allocs != 0 {
		t.Errorf("steady state allocated %.0f times per 200 ms", allocs)
	}
	if h.live != pending {
		t.Fatalf("live %d, want %d", h.live, pending)
	}
	owned := 0
	for _, b := range h.coarse {
		if cap(b) > 0 {
			owned++
		}
	}
	if owned+len(h.spare) > coarseSlots/2+2 {
		t.Errorf("%d coarse arrays (%d in buckets, %d spare), want about half the %d slots", owned+len(h.spare), owned, len(h.spare), coarseSlots)
	}
}

// Timers are indexed by ID and listed by session only from the first
// operation that needs it. Timers set, fired and removed before that must
// be found exactly by the first AlarmRemove, AlarmRemoveAll, removal by
// name and session stop, with other sessions' timers untouched.
func TestTimerIndexesBuiltLate(t *testing.T) {
	far := time.Now().Add(time.Hour)
	timersOf := func(k *Kernel, s *Session) int {
		for _, si := range k.Peek().Sessions {
			if si.ID == s.ID() {
				return si.Timers
			}
		}
		return -1
	}
	k := NewKernel(nil)
	var ids []AlarmID
	var removed, again error
	var all []string
	var afterSet, afterNamed, otherLeft int
	other, _ := k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			e.Kernel.AlarmSet("o_far", far)
			e.Kernel.AlarmSet("o_far", far)
			return nil
		},
	}})
	k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			for i := 0; i < 6; i++ {
				id, _ := e.Kernel.AlarmSet(fmt.Sprintf("a%d", i), far, i)
				ids = append(ids, id)
			}
			e.Kernel.DelaySet("soon", time.Millisecond)
			return nil
		},
		"soon": func(e *Event) any {
			kk := e.Kernel
			if kk.alarms.bySession || kk.alarms.indexed {
				t.Error("indexes built before any lookup")
			}
			_, removed = kk.AlarmRemove(ids[1]) // builds the ID index
			_, again = kk.AlarmRemove(ids[1])
			kk.AlarmRemove(ids[4])
			if kk.alarms.bySession {
				t.Error("session lists built by a removal by ID")
			}
			list, _ := kk.AlarmRemoveAll() // builds the session lists
			for _, a := range list {
				all = append(all, a.Name)
			}
			kk.AlarmSet("x", far)
			kk.AlarmSet("x", far)
			kk.AlarmSet("y", far)
			afterSet = timersOf(kk, e.Session)
			kk.Alarm("x", time.Time{}) // removes both x
			afterNamed = timersOf(kk, e.Session)
			otherLeft = timersOf(kk, other)
			// The other one stopped with its two pending, then this one
			// with "y" (in that order: a stopped session's posts are
			// dropped).
			kk.Signal(other, "KILL")
			kk.Signal(e.Session, "KILL")
			return nil
		},
	}})
	if err := k.Run(); err != nil {
		t.Fatal(err)
	}
	if removed != nil || again == nil {
		t.Fatalf("AlarmRemove: first %v, second %v (want nil, ESRCH)", removed, again)
	}
	if want := []string{"a0", "a2", "a3", "a5"}; !slices.Equal(all, want) {
		t.Fatalf("AlarmRemoveAll gave %v, want %v", all, want)
	}
	if afterSet != 3 || afterNamed != 1 || otherLeft != 2 {
		t.Fatalf("timers: %d after x, x, y (want 3), %d after removing x by name (want 1), other session %d (want 2)", afterSet, afterNamed, otherLeft)
	}
	if n := k.alarms.heap.live; n != 0 {
		t.Fatalf("%d timers left after both sessions stopped", n)
	}
	// A session stopping with timers is the first to need the lists.
	k = NewKernel(nil)
	k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			for i := 0; i < 3; i++ {
				e.Kernel.AlarmSet("a", far)
			}
			e.Kernel.Signal(e.Session, "KILL")
			return nil
		},
	}})
	if err := k.Run(); err != nil {
		t.Fatal(err)
	}
	if n := k.alarms.heap.live; n != 0 || !k.alarms.bySession {
		t.Fatalf("%d timers left after the session stopped (lists built: %v)", n, k.alarms.bySession)
	}
}

// An item is two whole cache lines: the timer paths count on it (slabs of
// 64 items are page-aligned, so no item straddles a third line).
func TestItemIsTwoCacheLines(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the layout is planned for 64-bit systems")
	}
	if n := unsafe.Sizeof(item{}); n != 128 {
		t.Fatalf("item is %d bytes, want 128", n)
	}
}
