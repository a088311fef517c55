package ikc

import (
	"testing"

	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/poe"
)

// TestResponderOf: the kernel's responder is the heap of the session
// aliased IKC: none before Spawn, the same one while it runs, none after
// Shutdown, a new one spawned again (ikc-protocol.md §16 #20), and each kernel has
// its own.
func TestResponderOf(t *testing.T) {
	other := ikctest.StartNode(t, nil)
	n := ikctest.StartNode(t, nil)
	n.Do(func(k *poe.Kernel) {
		if r := ResponderOf(k); r != nil {
			t.Errorf("ResponderOf before Spawn = %p", r)
		}
		r, err := Spawn(k, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := ResponderOf(k); got != r {
			t.Errorf("ResponderOf = %p, want the spawned %p", got, r)
		}
		if again, _ := Spawn(k, nil); again != r {
			t.Errorf("Spawn again = %p, want %p", again, r)
		}
		other.Do(func(k2 *poe.Kernel) {
			if got := ResponderOf(k2); got != nil {
				t.Errorf("another kernel's ResponderOf = %p", got)
			}
		})
		Shutdown(k)
		if got := ResponderOf(k); got != nil {
			t.Errorf("ResponderOf after Shutdown = %p", got)
		}
		if _, err := Post(k, "poe://x/s/t"); err != ErrNoResponder {
			t.Errorf("Post after Shutdown: %v, want ErrNoResponder", err)
		}
		r2, err := Spawn(k, nil)
		if err != nil || r2 == r || ResponderOf(k) != r2 {
			t.Errorf("Spawn after Shutdown = %p, %v (old %p, ResponderOf %p)", r2, err, r, ResponderOf(k))
		}
	})
}
