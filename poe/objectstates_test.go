package poe

import (
	"reflect"
	"runtime"
	"strings"
	"testing"
)

type boundCounter struct{ n int }

func (c *boundCounter) Start(e *Event) any { return nil }
func (c *boundCounter) Tick(e *Event) any  { c.n++; return c.n }

// Object and ObjectMap bind each method once at Create: the handler an
// event runs is a direct call, not reflect's method-value trampoline.
func TestObjectStatesBoundWithoutReflection(t *testing.T) {
	k := NewKernel(nil)
	c := &boundCounter{}
	s, err := k.Create(Spec{Objects: []States{
		Object(c, "_start"),
		ObjectMap(c, map[string]string{"tick": "Tick", "tock": "tick"}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{"_start", "tick", "tock"} {
		h := s.states[ev].h
		name := runtime.FuncForPC(reflect.ValueOf(h).Pointer()).Name()
		if strings.HasPrefix(name, "reflect.") {
			t.Errorf("%s dispatches through %s", ev, name)
		}
	}
	for i := 1; i <= 2; i++ {
		if got, err := k.Call(s, "tick"); err != nil || got != i {
			t.Fatalf("call %d: %v, %v", i, got, err)
		}
	}
	if got, _ := k.Call(s, "tock"); got != 3 {
		t.Fatalf("tock (a POE-style method name) = %v", got)
	}
	// States built by hand still work, through reflection.
	s2, err := k.Create(Spec{Objects: []States{{Object: c, Methods: map[string]string{"_start": "Start", "tick": "Tick"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := k.Call(s2, "tick"); got != 4 {
		t.Fatalf("hand-built States: tick = %v", got)
	}
}
