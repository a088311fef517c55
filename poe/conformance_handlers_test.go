package poe

// Conformance cases C14–C19 (docs/poe-semantics.md §9.2, handlers,
// _default and state). Each case is a subtest named after its number; the
// comments name the Perl experiment (testdata/poe/experiments/eNN_*.pl)
// or the POE test the expectations come from.

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConformanceHandlers(t *testing.T) {
	// C14 — e09: _default receives every unhandled event, management
	// events included, and its return value stands in.
	t.Run("C14", func(t *testing.T) {
		k := NewKernel(nil)
		var l sqLog
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				sqCreate(t, k, Spec{Inline: map[string]Handler{
					"_start":   func(e *Event) any { return nil },
					"_default": func(e *Event) any { l.add("C _default %s", e.String(ARG0)); return "cd" },
				}})
				e.Kernel.Yield("foo", 1, 2)
				r, err := e.Kernel.Call(e.Session, "bar", 3)
				l.add("call bar returned %v err=%v", r, err)
				return nil
			},
			"_default": func(e *Event) any {
				l.add("P _default state=%s ARG0=%s ARG1=[%s]", e.State, e.String(ARG0), sqArgs(e.Slice(ARG1)))
				return "dflt"
			},
		}})
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		sqWant(t, []string{
			"P _default state=_default ARG0=_child ARG1=[create S2 nil]",
			"P _default state=_default ARG0=bar ARG1=[3]",
			"call bar returned dflt err=<nil>",
			"P _default state=_default ARG0=foo ARG1=[1 2]",
			"C _default _stop",
			"P _default state=_default ARG0=_child ARG1=[lose S2 cd]",
			"P _default state=_default ARG0=_stop ARG1=[]",
		}, l.lines)
	})

	// C15 — rt14444-arg1.t: _default's ARG1 is a fresh slice holding the
	// arguments; passing it on, by reference or as a copy, keeps them.
	t.Run("C15", func(t *testing.T) {
		k := NewKernel(nil)
		want := []any{"some", "random", "args"}
		var got [][]any
		var names []string
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				e.Kernel.Yield("some_random_state", "some", "random", "args")
				return nil
			},
			"_default": func(e *Event) any {
				names = append(names, e.String(ARG0))
				orig := e.Slice(ARG1)
				got = append(got, slices.Clone(orig))
				e.Kernel.Yield("check_ref", orig)
				e.Kernel.Yield("check_copy", slices.Clone(orig))
				return nil
			},
			"check_ref":  func(e *Event) any { got = append(got, slices.Clone(e.Slice(ARG0))); return nil },
			"check_copy": func(e *Event) any { got = append(got, slices.Clone(e.Slice(ARG0))); return nil },
		}})
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		// _default also receives _stop (with no arguments), after the checks.
		sqWant(t, []string{"some_random_state", "_stop"}, names)
		if len(got) < 3 {
			t.Fatalf("got %d argument lists, want at least 3", len(got))
		}
		if diff := cmp.Diff([][]any{want, want, want}, got[:3]); diff != "" {
			t.Errorf("arguments (-want +got):\n%s", diff)
		}
	})

	// C16 — e09: option "default" warns about unhandled events; Call
	// returns nil with no error (POE: undef, errno 0 afterwards).
	t.Run("C16", func(t *testing.T) {
		logger, buf := sqLogger()
		k := NewKernel(&Options{Logger: logger})
		var r any = "unset"
		var callErr error = errors.New("unset")
		sqCreate(t, k, Spec{Options: map[string]any{"default": 1}, Inline: map[string]Handler{
			"_start": func(e *Event) any {
				r, callErr = e.Kernel.Call(e.Session, "nohandler")
				e.Kernel.Yield("nohandler2")
				return nil
			},
		}})
		if r != nil || callErr != nil {
			t.Errorf("Call(self, nohandler) = (%v, %v), want (nil, nil)", r, callErr)
		}
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		lines := buf.Lines()
		for _, ev := range []string{"nohandler", "nohandler2", "_stop"} {
			if sqFindLine(lines, "WARN", "event="+ev+" ", `session="session 1"`, "sender=") == "" {
				t.Errorf("no warning naming event %s, its sender and session 1; log:\n%s", ev, strings.Join(lines, "\n"))
			}
		}
		// Without the option there is no warning.
		logger2, buf2 := sqLogger()
		k2 := NewKernel(&Options{Logger: logger2})
		sqCreate(t, k2, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { e.Kernel.Call(e.Session, "nohandler"); return nil },
		}})
		if _, err := sqRun(t, k2, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if l := sqFindLine(buf2.Lines(), "nohandler"); l != "" {
			t.Errorf("warning without option default: %s", l)
		}
	})

	// C17 — e25: package_states (OBJECT = the package name), object_states
	// (OBJECT = the object, renamed methods), args.
	t.Run("C17", func(t *testing.T) {
		k := NewKernel(nil)
		var l sqLog
		sqCreate(t, k, Spec{Packages: []States{
			Package("main", map[string]Handler{
				"_start": func(e *Event) any {
					l.add("pkg _start OBJECT=%v STATE=%s", e.Object, e.State)
					e.Kernel.Yield("tick")
					e.Kernel.Yield("tock")
					return nil
				},
				"tick": func(e *Event) any { l.add("pkg tick OBJECT=%v STATE=%s", e.Object, e.State); return nil },
			}),
			Package("main", map[string]Handler{
				// main => { tock => 'renamed' }: the handler is another
				// function; STATE is still the event name.
				"tock": func(e *Event) any {
					l.add("pkg renamed handler for state %s OBJECT=%v", e.State, e.Object)
					return nil
				},
			}),
		}})
		c := &sqCounter{log: &l}
		sqCreate(t, k, Spec{
			Objects: []States{ObjectMap(c, map[string]string{"_start": "_start", "inc": "inc_method", "_stop": "_stop"})},
			Args:    []any{7},
		})
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		sqWant(t, []string{
			"pkg _start OBJECT=main STATE=_start",
			"Counter _start obj=*poe.sqCounter heap=map[string]interface {} args=7",
			"pkg tick OBJECT=main STATE=tick",
			"pkg renamed handler for state tock OBJECT=main",
			"inc via method, n=1, state=inc, object is counter=true",
			"Counter _stop",
		}, l.lines)
	})

	// C18 — e25: invalid session definitions make Create fail and create
	// nothing. POE's "unknown parameter" and "odd-length parameter list"
	// cannot be written in Go (Spec is a struct): the compiler rejects
	// them, so there is nothing to test at run time.
	t.Run("C18", func(t *testing.T) {
		k := NewKernel(nil)
		start := func(e *Event) any { return nil }
		var l sqLog
		cases := []struct {
			name string
			spec Spec
			is   error
		}{
			{"object lacks a named method", Spec{Objects: []States{
				ObjectMap(&sqCounter{log: &l}, map[string]string{"_start": "_start", "nosuch": "nosuch"}),
			}}, nil},
			{"Object() lacks the method", Spec{Objects: []States{Object(&sqCounter{log: &l}, "_start", "nosuch")}}, nil},
			{"method with the wrong signature", Spec{Objects: []States{
				ObjectMap(&sqCounter{log: &l}, map[string]string{"_start": "_start", "x": "WrongSignature"}),
			}}, nil},
			{"package handler is nil", Spec{Packages: []States{
				Package("main", map[string]Handler{"_start": start, "nosuch": nil}),
			}}, nil},
			{"inline handler is not code", Spec{Inline: map[string]Handler{"_start": nil}}, nil},
			{"inline _signal", Spec{Inline: map[string]Handler{"_start": start, "_signal": start}}, ErrReservedState},
			{"package _signal", Spec{Packages: []States{
				Package("main", map[string]Handler{"_start": start, "_signal": start}),
			}}, ErrReservedState},
		}
		for _, c := range cases {
			s, err := k.Create(c.spec)
			if err == nil || s != nil {
				t.Errorf("%s: Create = (%v, %v), want an error", c.name, s, err)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("%s: error %v, want %v", c.name, err, c.is)
			}
		}
		if n := len(k.Peek().Sessions); n != 0 {
			t.Errorf("%d sessions exist after failed creations, want 0", n)
		}
		if len(l.lines) != 0 {
			t.Errorf("handlers ran for failed creations: %q", l.lines)
		}
		if s := sqCreate(t, k, Spec{Inline: map[string]Handler{"_start": start}}); s.ID() != 1 {
			t.Errorf("first valid session has ID %d, want 1", s.ID())
		}
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	})

	// C19 — e10, 12_assert_retval.t: state() adds and removes handlers at
	// run time, affecting events already queued; outside a session it
	// fails with ESRCH.
	t.Run("C19", func(t *testing.T) {
		k := NewKernel(nil)
		var l sqLog
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				err := e.Kernel.State("dyn", func(e *Event) any {
					l.add("dyn called state=%s args=%s", e.State, sqArgs(e.Args))
					return nil
				})
				l.add("state add returned %s", sqErrno(err))
				e.Kernel.Yield("dyn", 1)
				e.Kernel.Yield("remove")
				e.Kernel.Yield("dyn", 2)
				return nil
			},
			"remove": func(e *Event) any {
				l.add("state remove returned %s", sqErrno(e.Kernel.State("dyn", nil)))
				return nil
			},
			"_default": func(e *Event) any { l.add("_default got %s %s", e.String(ARG0), sqArgs(e.Slice(ARG1))); return nil },
		}})
		err := k.State("outside", func(e *Event) any { return nil })
		l.add("state outside session returned %s", sqErrno(err))
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		sqWant(t, []string{
			"state add returned ok",
			"state outside session returned ESRCH",
			"dyn called state=dyn args=1",
			"state remove returned ok",
			"_default got dyn 2",
			"_default got _stop ",
		}, l.lines)
	})
}
