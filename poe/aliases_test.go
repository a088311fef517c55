package poe

import (
	"errors"
	"syscall"
	"testing"
)

// resolve remembers the last two aliases it found. Whatever it remembers
// must give way as soon as an alias goes away: removed, moved to another
// session, or gone with its session.
func TestAliasCacheForgets(t *testing.T) {
	k := NewKernel(nil)
	got := map[string][]string{}
	mk := func(name string, aliases ...string) *Session {
		s, err := k.Create(Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				for _, a := range aliases {
					e.Kernel.AliasSet(a)
				}
				return nil
			},
			"hit": func(e *Event) any {
				got[name] = append(got[name], e.String(ARG0))
				return nil
			},
			"take": func(e *Event) any { return e.Kernel.AliasSet(e.String(ARG0)) },
			"drop": func(e *Event) any { return e.Kernel.AliasRemove(e.String(ARG0)) },
		}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s1, s2, s3 := mk("s1", "a"), mk("s2", "b"), mk("s3")
	call := func(dest any, ev string, args ...any) any {
		t.Helper()
		r, err := k.Call(dest, ev, args...)
		if err != nil {
			t.Fatalf("call %v %s: %v", dest, ev, err)
		}
		return r
	}
	// Both cached, in turn.
	for _, a := range []string{"a", "b", "a", "b"} {
		call(a, "hit", a)
	}
	if k.resolve("a") != s1 || k.resolve("b") != s2 {
		t.Fatal("aliases resolve to the wrong sessions")
	}
	// Moved: a leaves s1 for s3.
	if err, _ := call(s1, "drop", "a").(error); err != nil {
		t.Fatal(err)
	}
	if s := k.resolve("a"); s != nil {
		t.Fatalf("a removed alias still resolves to %v", s)
	}
	if err, _ := call(s3, "take", "a").(error); err != nil {
		t.Fatal(err)
	}
	call("a", "hit", "a again")
	// Gone with its session: b.
	call("b", "hit", "b")
	if err := k.Signal(s2, "KILL"); err != nil {
		t.Fatal(err)
	}
	k.RunOneTimeslice() // the signal is queued: no wait
	if _, err := k.Call("b", "hit", "late"); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("call to a removed alias: %v, want ESRCH", err)
	}
	want := map[string][]string{"s1": {"a", "a"}, "s2": {"b", "b", "b"}, "s3": {"a again"}}
	for name, w := range want {
		if g := got[name]; len(g) != len(w) {
			t.Fatalf("%s saw %v, want %v", name, g, w)
		}
	}
}
