package poe

import (
	"math/rand/v2"
	"testing"
)

// The table must agree with a Go map through random inserts and deletes,
// including deletions inside probe runs that wrap around the table.
func TestIDMapAgainstMap(t *testing.T) {
	var m idMap[item, *item]
	ref := map[uint64]*item{}
	rng := rand.New(rand.NewPCG(7, 9))
	next := uint64(1)
	var live []uint64
	for step := 0; step < 200000; step++ {
		if rng.IntN(3) > 0 || len(live) == 0 {
			it := &item{id: next}
			m.put(next, it)
			ref[next] = it
			live = append(live, next)
			next += uint64(1 + rng.IntN(3))
		} else {
			i := rng.IntN(len(live))
			id := live[i]
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
			m.del(id)
			delete(ref, id)
		}
		if step%1000 == 0 {
			for id, it := range ref {
				if m.get(id) != it {
					t.Fatalf("step %d: get(%d) wrong", step, id)
				}
			}
			if m.len() != len(ref) {
				t.Fatalf("len %d want %d", m.len(), len(ref))
			}
		}
	}
	for id := uint64(1); id < next; id++ {
		if (m.get(id) != nil) != (ref[id] != nil) {
			t.Fatalf("final get(%d) disagrees", id)
		}
	}
}

// Live IDs that span far more than the table (a few long-lived timers among
// many short ones) must not build long probe runs: inserts stay near home,
// lookups of removed IDs stop early, and the table grows instead.
func TestIDMapWideSpan(t *testing.T) {
	var m idMap[item, *item]
	rng := rand.New(rand.NewPCG(3, 4))
	var live, gone []uint64
	next := uint64(1)
	for step := 0; step < 300000; step++ {
		id := next
		next += uint64(1 + rng.IntN(4))
		m.put(id, &item{id: id})
		live = append(live, id)
		if len(live) > 1000 {
			// Keep one in a hundred for good; drop the rest in random order.
			i := rng.IntN(len(live))
			if live[i]%100 != 0 {
				m.del(live[i])
				gone = append(gone, live[i])
			}
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
		}
		if m.maxDisp > farDisp {
			t.Fatalf("step %d: an entry sits %d slots from home", step, m.maxDisp)
		}
	}
	for _, id := range live {
		if id%100 != 0 && m.get(id) == nil {
			t.Fatalf("get(%d) lost", id)
		}
	}
	for _, id := range gone {
		if m.get(id) != nil {
			t.Fatalf("removed ID %d was found", id)
		}
	}
	if m.get(next+1) != nil {
		t.Fatal("an ID never added was found")
	}
}
