package poe

import "testing"

// Items purged from the FIFO stay in the ring, marked dead, until they
// reach its head; the head itself must never be dead (fifoHead does not
// look). A session killed while its events sit right behind the kill, and
// one whose events sit behind a live item, cover both places that drop
// them: purge and runBatch's pop.
func TestFIFODeadItemsAtHead(t *testing.T) {
	for _, tc := range []struct {
		name string
		// between is yielded by the killer after the KILL and before the
		// victim's events: when set, the dead items reach the head only
		// once it has been popped.
		between string
	}{
		{"dead right behind the kill", ""},
		{"dead behind a live item", "k1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := NewKernel(nil)
			var l sqLog
			var checked bool
			check := func(e *Event) {
				h := e.Kernel.queue.fifoHead()
				if h != nil && h.dead {
					t.Errorf("in %s: the ring's head is dead", e.State)
				}
				checked = true
			}
			k.Create(Spec{Inline: map[string]Handler{
				"_start": func(e *Event) any { e.Kernel.AliasSet("victim"); return nil },
				"queue": func(e *Event) any {
					e.Kernel.Yield("v2")
					e.Kernel.Yield("v3")
					return nil
				},
				"v2":    func(e *Event) any { l.add("v2"); return nil },
				"v3":    func(e *Event) any { l.add("v3"); return nil },
				"_stop": func(e *Event) any { check(e); l.add("victim stopped"); return nil },
			}})
			k.Create(Spec{Inline: map[string]Handler{
				"_start": func(e *Event) any { e.Kernel.Yield("go"); return nil },
				"go": func(e *Event) any {
					if err := e.Kernel.Signal("victim", "KILL"); err != nil {
						t.Error(err)
					}
					if tc.between != "" {
						e.Kernel.Yield(tc.between)
					}
					if _, err := e.Kernel.Call("victim", "queue"); err != nil {
						t.Error(err)
					}
					e.Kernel.Yield("k2")
					return nil
				},
				"k1": func(e *Event) any { check(e); l.add("k1"); return nil },
				"k2": func(e *Event) any { check(e); l.add("k2"); return nil },
			}})
			if err := k.Run(); err != nil {
				t.Fatal(err)
			}
			want := []string{"victim stopped", "k2"}
			if tc.between != "" {
				want = []string{"victim stopped", "k1", "k2"}
			}
			sqWant(t, want, l.lines)
			if !checked || k.queue.fifo.n != 0 || k.queue.fifoHead() != nil {
				t.Errorf("after Run: ring holds %d items, head %v", k.queue.fifo.n, k.queue.fifoHead())
			}
		})
	}
}
