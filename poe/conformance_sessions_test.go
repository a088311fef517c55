package poe

// Conformance cases C01–C13 (docs/poe-semantics.md §9.1, identity and
// creation). Each case is a subtest named after its number; the comments
// name the Perl experiment (testdata/poe/experiments/eNN_*.pl) or the POE
// test the expectations come from. Sibling order is never asserted.

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConformanceSessions(t *testing.T) {
	// C01 — sids.pm; e01: IDs 1, 2, 3 in creation order; the kernel ID is
	// a non-numeric string, distinct from every session ID, resolving to
	// the kernel.
	t.Run("C01", func(t *testing.T) {
		k := NewKernel(nil)
		var ids []SessionID
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				ids = append(ids, e.Session.ID())
				sqCreate(t, k, Spec{Inline: map[string]Handler{
					"_start": func(e *Event) any {
						ids = append(ids, e.Session.ID())
						sqCreate(t, k, Spec{Inline: map[string]Handler{
							"_start": func(e *Event) any {
								ids = append(ids, e.Session.ID())
								return nil
							},
						}})
						return nil
					},
				}})
				return nil
			},
		}})
		if diff := cmp.Diff([]SessionID{1, 2, 3}, ids); diff != "" {
			t.Errorf("session IDs (-want +got):\n%s", diff)
		}
		kid := k.ID()
		if kid == "" || isDigits(kid) {
			t.Errorf("kernel ID %q must be a non-numeric string", kid)
		}
		if _, err := strconv.ParseFloat(kid, 64); err == nil {
			t.Errorf("kernel ID %q parses as a number", kid)
		}
		for _, id := range ids {
			if kid == strconv.FormatUint(uint64(id), 10) {
				t.Errorf("kernel ID collides with session ID %d", id)
			}
		}
		if got := k.AliasResolve(kid); got != k.Session() || !got.IsKernel() {
			t.Errorf("AliasResolve(kernel ID) = %v, want the kernel", got)
		}
		if err := k.Post(kid, "anything"); err != nil {
			t.Errorf("Post(kernel ID) = %v, want nil (resolves to the kernel)", err)
		}
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	})

	// C02 — e12: host-hex-hex-hex, stable during a run.
	t.Run("C02", func(t *testing.T) {
		k := NewKernel(nil)
		re := regexp.MustCompile(`^[^-]+(-[^-]+)*-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$`)
		before := k.ID()
		if !re.MatchString(before) {
			t.Errorf("kernel ID %q does not match %s", before, re)
		}
		var during []string
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				during = append(during, e.Kernel.ID())
				e.Kernel.Delay("tick", 10*time.Millisecond)
				return nil
			},
			"tick": func(e *Event) any { during = append(during, e.Kernel.ID()); return nil },
		}})
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		sqWant(t, []string{before, before}, during)
		if k.ID() != before {
			t.Errorf("kernel ID changed from %q to %q", before, k.ID())
		}
	})

	// C03 — e01: creation and stop order, _child return values, no
	// _parent at creation.
	t.Run("C03", func(t *testing.T) {
		k := NewKernel(nil)
		var l sqLog
		parent := func(who string) Handler {
			return func(e *Event) any { l.add("%s _parent (never expected)", who); return nil }
		}
		sqCreate(t, k, Spec{
			Args: []any{"a", "b"},
			Inline: map[string]Handler{
				"_start": func(e *Event) any {
					l.add("P _start sender=%s args=%s", sqName(e.Sender), sqArgs(e.Args))
					sqCreate(t, k, Spec{Inline: map[string]Handler{
						"_start": func(e *Event) any {
							l.add("C _start sender=%s", sqName(e.Sender))
							sqCreate(t, k, Spec{Inline: map[string]Handler{
								"_start":  func(e *Event) any { l.add("G _start"); return "gret" },
								"_stop":   func(e *Event) any { l.add("G _stop"); return "gstop" },
								"_parent": parent("G"),
							}})
							e.Kernel.Yield("bye")
							return "cret"
						},
						"bye": func(e *Event) any { l.add("C bye"); return nil },
						"_child": func(e *Event) any {
							l.add("C _child %s %s ret=%v", e.String(ARG0), sqName(e.SessionArg(ARG1)), e.Arg(ARG2))
							return nil
						},
						"_stop":   func(e *Event) any { l.add("C _stop"); return "cstop" },
						"_parent": parent("C"),
					}})
					return "pret"
				},
				"_child": func(e *Event) any {
					l.add("P _child %s %s ret=%v", e.String(ARG0), sqName(e.SessionArg(ARG1)), e.Arg(ARG2))
					return nil
				},
				"_stop":   func(e *Event) any { l.add("P _stop"); return nil },
				"_parent": parent("P"),
			},
		})
		l.add("P: constructor returned")
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		sqWant(t, []string{
			"P _start sender=K args=a b",
			"C _start sender=1",
			"G _start",
			"C _child create 3 ret=gret",
			"P _child create 2 ret=cret",
			"P: constructor returned",
			"C bye",
			"G _stop",
			"C _child lose 3 ret=gstop",
			"C _stop",
			"P _child lose 2 ret=cstop",
			"P _stop",
		}, l.lines)
	})

	// C04 — meh-startstop-return.t: _start/_stop return values of an
	// object_states child reach the parent's _child as ARG2.
	t.Run("C04", func(t *testing.T) {
		k := NewKernel(nil)
		var got [][2]any
		var l sqLog
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				sqCreate(t, k, Spec{Objects: []States{Object(&sqCounter{log: &l}, "_start", "_stop")}})
				return nil
			},
			"_child": func(e *Event) any { got = append(got, [2]any{e.Arg(ARG0), e.Arg(ARG2)}); return nil },
		}})
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([][2]any{{"create", "_start"}, {"lose", "_stop"}}, got); diff != "" {
			t.Errorf("_child [ARG0, ARG2] (-want +got):\n%s", diff)
		}
	})

	// C05 — 17_detach_start.t: a session detaching in its _start gets
	// _parent inside _start; its old parent never gets _child for it.
	t.Run("C05", func(t *testing.T) {
		k := NewKernel(nil)
		var l sqLog
		names := map[*Session]string{}
		childCalls := 0
		var detachErr error = errors.New("not called")
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				e.Kernel.AliasSet("Parent")
				names[e.Session] = "Parent"
				l.add("Parent _start")
				sqCreate(t, k, Spec{Inline: map[string]Handler{
					"_start": func(e *Event) any {
						e.Kernel.AliasSet("Child")
						names[e.Session] = "Child"
						l.add("Child _start")
						return nil
					},
					"_stop": func(e *Event) any { l.add("Child _stop"); return nil },
				}})
				sqCreate(t, k, Spec{Inline: map[string]Handler{
					"_start": func(e *Event) any {
						e.Kernel.AliasSet("Detached")
						names[e.Session] = "Detached"
						l.add("Detached _start")
						detachErr = e.Kernel.DetachMyself()
						return nil
					},
					"_parent": func(e *Event) any {
						l.add("Detached _parent old=%s new=%s", names[e.SessionArg(ARG0)], sqName(e.SessionArg(ARG1)))
						return nil
					},
					"_stop": func(e *Event) any { l.add("Detached _stop"); return nil },
				}})
				return nil
			},
			"_child": func(e *Event) any {
				childCalls++
				l.add("Parent _child %s %s", e.String(ARG0), names[e.SessionArg(ARG1)])
				return nil
			},
			"_stop": func(e *Event) any { l.add("Parent _stop"); return nil },
		}})
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if detachErr != nil {
			t.Errorf("DetachMyself in _start = %v, want nil (POE returns 1)", detachErr)
		}
		if childCalls != 2 {
			t.Errorf("Parent's _child ran %d times, want 2", childCalls)
		}
		if len(l.lines) != 9 {
			t.Fatalf("log has %d lines, want 9: %q", len(l.lines), l.lines)
		}
		sqWant(t, []string{
			"Parent _start",
			"Child _start",
			"Parent _child create Child",
			"Detached _start",
			"Detached _parent old=Parent new=K",
			"Child _stop",
			"Parent _child lose Child",
		}, l.lines[:7])
		// Parent and Detached are siblings under the kernel: either order.
		last := slices.Sorted(slices.Values(l.lines[7:]))
		sqWant(t, []string{"Detached _stop", "Parent _stop"}, last)
	})

	// C06 — neyuki_detach.t: detach_myself from a later event: the parent
	// gets _child lose, then the child gets _parent (old, kernel).
	t.Run("C06", func(t *testing.T) {
		k := NewKernel(nil)
		var l sqLog
		var parentS, childS *Session
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				parentS = e.Session
				l.add("parent _start")
				e.Kernel.Yield("parent")
				return nil
			},
			"_stop":   func(e *Event) any { l.add("parent _stop"); return nil },
			"_parent": func(e *Event) any { l.add("parent _parent (never expected)"); return nil },
			"_child": func(e *Event) any {
				l.add("parent _child %s child=%v", e.String(ARG0), e.SessionArg(ARG1) == childS)
				return nil
			},
			"parent": func(e *Event) any {
				l.add("parent spawns child")
				sqCreate(t, k, Spec{Inline: map[string]Handler{
					"_start": func(e *Event) any {
						childS = e.Session
						l.add("child _start")
						e.Kernel.Yield("child")
						return nil
					},
					"_stop": func(e *Event) any { l.add("child _stop"); return nil },
					"_parent": func(e *Event) any {
						l.add("child _parent old=parent:%v new=%s", e.SessionArg(ARG0) == parentS, sqName(e.SessionArg(ARG1)))
						return nil
					},
					"_child": func(e *Event) any { l.add("child _child (never expected)"); return nil },
					"child": func(e *Event) any {
						l.add("child detaching itself")
						if err := e.Kernel.DetachMyself(); err != nil {
							t.Errorf("DetachMyself: %v", err)
						}
						e.Kernel.Yield("done")
						return nil
					},
					"done": func(e *Event) any { l.add("child done"); return nil },
				}})
				return nil
			},
		}})
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		sqWant(t, []string{
			"parent _start",
			"parent spawns child",
			"child _start",
			"parent _child create child=true",
			"child detaching itself",
			"parent _child lose child=true",
			"child _parent old=parent:true new=K",
			"parent _stop",
			"child done",
			"child _stop",
		}, l.lines)
	})

	// C07 — e14: the detach API's return values and events.
	t.Run("C07", func(t *testing.T) {
		k := NewKernel(nil)
		var l sqLog
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				l.add("P detach_myself (parent is kernel): %s", sqErrno(e.Kernel.DetachMyself()))
				sqCreate(t, k, Spec{Inline: map[string]Handler{
					"_start": func(e *Event) any { l.add("C start"); e.Kernel.AliasSet("C"); return nil },
					"_parent": func(e *Event) any {
						l.add("C _parent old=%s new=%s", sqName(e.SessionArg(ARG0)), sqName(e.SessionArg(ARG1)))
						return nil
					},
					"_stop": func(e *Event) any { l.add("C stop"); return nil },
				}})
				sqCreate(t, k, Spec{Inline: map[string]Handler{
					"_start": func(e *Event) any {
						l.add("D start; detach_myself in _start: %s", sqErrno(e.Kernel.DetachMyself()))
						return nil
					},
					"_parent": func(e *Event) any {
						l.add("D _parent old=%s new=%s", sqName(e.SessionArg(ARG0)), sqName(e.SessionArg(ARG1)))
						return nil
					},
					"_stop": func(e *Event) any { l.add("D stop"); return nil },
				}})
				e.Kernel.Yield("go")
				return nil
			},
			"go": func(e *Event) any {
				l.add("P detach_child(C): %s", sqErrno(e.Kernel.DetachChild("C")))
				l.add("P detach_child(C) again: %s", sqErrno(e.Kernel.DetachChild("C")))
				l.add("P detach_child(nonexist): %s", sqErrno(e.Kernel.DetachChild("nonexist")))
				return nil
			},
			"_child": func(e *Event) any { l.add("P _child %s %s", e.String(ARG0), sqName(e.SessionArg(ARG1))); return nil },
			"_stop":  func(e *Event) any { l.add("P stop"); return nil },
		}})
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		sqWant(t, []string{
			"P detach_myself (parent is kernel): EPERM",
			"C start",
			"P _child create 2",
			"D _parent old=1 new=K",
			"D start; detach_myself in _start: ok",
			"P _child lose 2",
			"C _parent old=1 new=K",
			"P detach_child(C): ok",
			"P detach_child(C) again: EPERM",
			"P detach_child(nonexist): ESRCH",
			"P stop",
			"D stop",
			"C stop",
		}, l.lines)
	})

	// C08 — e15 with an ordinary session that ends itself with
	// Kernel.StopSession (the NFA-style stop, which runs the stop protocol
	// while N still has a child; nfa/conformance_test.go runs it with a real
	// machine). Its child G is handed to P with _child gain / _parent.
	t.Run("C08", func(t *testing.T) {
		k := NewKernel(nil)
		var l sqLog
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				sqCreate(t, k, Spec{Inline: map[string]Handler{
					"_start": func(e *Event) any { e.Kernel.Yield("setup"); return nil },
					"setup": func(e *Event) any {
						l.add("N setup id=%s", sqName(e.Session))
						sqCreate(t, k, Spec{Inline: map[string]Handler{
							"_start": func(e *Event) any {
								e.Kernel.AliasSet("G")
								e.Kernel.Delay("t", 100*time.Millisecond)
								return nil
							},
							"t": func(e *Event) any { l.add("G t"); return nil },
							"_parent": func(e *Event) any {
								l.add("G _parent old=%s new=%s", sqName(e.SessionArg(ARG0)), sqName(e.SessionArg(ARG1)))
								return nil
							},
							"_stop": func(e *Event) any { l.add("G stop"); return nil },
						}})
						e.Kernel.Yield("die")
						return nil
					},
					"die": func(e *Event) any {
						l.add("N stopping")
						if err := e.Kernel.StopSession(); err != nil {
							t.Errorf("StopSession: %v", err)
						}
						return nil
					},
					"_child": func(e *Event) any { l.add("N _child %s %s", e.String(ARG0), sqName(e.SessionArg(ARG1))); return nil },
				}})
				return nil
			},
			"_child": func(e *Event) any { l.add("P _child %s %s", e.String(ARG0), sqName(e.SessionArg(ARG1))); return nil },
			"_stop":  func(e *Event) any { l.add("P stop"); return nil },
		}})
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		sqWant(t, []string{
			"P _child create 2",
			"N setup id=2",
			"N _child create 3",
			"N stopping",
			"P _child gain 3",
			"G _parent old=2 new=1",
			"P _child lose 2",
			"G t",
			"G stop",
			"P _child lose 3",
			"P stop",
		}, l.lines)
	})

	// C09 — e24: no _start, no session: a warning, ErrNoStart, nothing
	// registered and no ID consumed.
	t.Run("C09", func(t *testing.T) {
		logger, buf := sqLogger()
		k := NewKernel(&Options{Logger: logger})
		s, err := k.Create(Spec{Inline: map[string]Handler{"foo": func(e *Event) any { return nil }}})
		if s != nil || !errors.Is(err, ErrNoStart) {
			t.Errorf("Create without _start = (%v, %v), want (nil, ErrNoStart)", s, err)
		}
		if sqFindLine(buf.Lines(), "WARN", "_start") == "" {
			t.Errorf("no warning about the missing _start; log:\n%s", strings.Join(buf.Lines(), "\n"))
		}
		if n := len(k.Peek().Sessions); n != 0 {
			t.Errorf("%d sessions exist, want 0", n)
		}
		if k.EventCount() != 0 {
			t.Errorf("EventCount = %d, want 0", k.EventCount())
		}
		ok := sqCreate(t, k, Spec{Inline: map[string]Handler{"_start": func(e *Event) any { return nil }}})
		if ok.ID() != 1 {
			t.Errorf("next session has ID %d, want 1 (no ID consumed)", ok.ID())
		}
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	})

	// C10 — e24: the kernel before Run: _start inside the constructor,
	// the kernel as active session, SENDER and caller state of post/call
	// from outside, HEAP and OBJECT.
	t.Run("C10", func(t *testing.T) {
		k := NewKernel(nil)
		var l sqLog
		heap := map[string]any{"preset": 1}
		s := sqCreate(t, k, Spec{Heap: heap, Inline: map[string]Handler{
			"_start": func(e *Event) any {
				e.Kernel.AliasSet("svc")
				h, _ := e.Heap.(map[string]any)
				h["seen_in_start"] = true
				l.add("start, heap preset=%v obj=%v", h["preset"], e.Object)
				return nil
			},
			"ev": func(e *Event) any {
				l.add("ev from %s caller_state=%q args=%s obj=%v", sqName(e.Sender), e.CallerState, sqArgs(e.Args), e.Object)
				return "r"
			},
			"_stop": func(e *Event) any { l.add("stop"); return nil },
		}})
		if heap["seen_in_start"] != true {
			t.Errorf("HEAP is not the map given as Spec.Heap")
		}
		if a := k.ActiveSession(); !a.IsKernel() {
			t.Errorf("ActiveSession outside handlers = %v, want the kernel", a)
		}
		if err := k.Post("svc", "ev", "posted"); err != nil {
			t.Errorf("Post from outside: %v", err)
		}
		r, err := k.Call("svc", "ev", "called")
		if r != "r" || err != nil {
			t.Errorf("Call from outside = (%v, %v), want (r, nil)", r, err)
		}
		l.add("call from outside returned %v", r)
		if s.ID() != 1 {
			t.Errorf("session ID %d, want 1", s.ID())
		}
		// A session created without Heap gets a fresh empty map.
		var defHeap any
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { defHeap = e.Heap; return nil },
		}})
		if m, ok := defHeap.(map[string]any); !ok || m == nil || len(m) != 0 {
			t.Errorf("default HEAP = %#v, want an empty map[string]any", defHeap)
		}
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		sqWant(t, []string{
			"start, heap preset=1 obj=<nil>",
			`ev from K caller_state="" args=called obj=<nil>`,
			"call from outside returned r",
			`ev from K caller_state="" args=posted obj=<nil>`,
			"stop",
		}, l.lines)
	})

	// C11 — e01, extrefs_gc.pm: a session that holds nothing survives its
	// creation and is stopped in the first batch, by the sweep after its
	// GC item: its pending GC item is work, so no IDLE is raised first
	// (checked with an IDLE watcher, which must not run; Perl 1.370
	// prints "start stop done" for the same program).
	t.Run("C11", func(t *testing.T) {
		k := NewKernel(nil)
		var l sqLog
		s := sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { e.Kernel.Sig("IDLE", "idle"); return nil },
			"idle":   func(e *Event) any { l.add("idle"); return nil },
			"_stop":  func(e *Event) any { l.add("stop"); return nil },
		}})
		if !s.Alive() || len(l.lines) != 0 {
			t.Fatalf("session stopped at creation (alive=%v, log %q)", s.Alive(), l.lines)
		}
		k.RunOneTimeslice()
		if s.Alive() {
			t.Errorf("session still alive after the first timeslice")
		}
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		sqWant(t, []string{"stop"}, l.lines)
	})

	// C12 — e03: events posted or yielded from _stop are discarded; a
	// delay keeps its session alive.
	t.Run("C12", func(t *testing.T) {
		k := NewKernel(nil)
		var l sqLog
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any { e.Kernel.Delay("tick", 100*time.Millisecond); l.add("A start"); return nil },
			"tick":   func(e *Event) any { l.add("A tick"); return nil },
			"_stop": func(e *Event) any {
				l.add("A stop")
				e.Kernel.Yield("after_stop")
				if err := e.Kernel.Post("B", "from_a_stop"); err != nil {
					t.Errorf("Post from _stop: %v", err)
				}
				return nil
			},
			"after_stop": func(e *Event) any { l.add("A after_stop (should not happen)"); return nil },
		}})
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				e.Kernel.AliasSet("B")
				l.add("B start")
				e.Kernel.Delay("t2", 300*time.Millisecond)
				return nil
			},
			"from_a_stop": func(e *Event) any { l.add("B got from_a_stop (should not happen)"); return nil },
			"t2":          func(e *Event) any { l.add("B t2"); return nil },
			"_stop":       func(e *Event) any { l.add("B stop"); return nil },
		}})
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		sqWant(t, []string{"A start", "B start", "A tick", "A stop", "B t2", "B stop"}, l.lines)
	})

	// C13 — e04: events sent by a force-stopped session are dropped.
	t.Run("C13", func(t *testing.T) {
		k := NewKernel(nil)
		var l sqLog
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				e.Kernel.AliasSet("Y")
				l.add("Y start")
				e.Kernel.Delay("end", 200*time.Millisecond)
				return nil
			},
			"hello": func(e *Event) any { l.add("Y got hello from %s (should not happen)", sqName(e.Sender)); return nil },
			"end":   func(e *Event) any { l.add("Y end"); return nil },
			"_stop": func(e *Event) any { l.add("Y stop"); return nil },
		}})
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				e.Kernel.AliasSet("X")
				l.add("X start id=%s", sqName(e.Session))
				e.Kernel.Yield("go")
				return nil
			},
			"go": func(e *Event) any {
				if err := e.Kernel.Post("Y", "hello"); err != nil {
					t.Errorf("Post: %v", err)
				}
				l.add("X posted hello")
				return nil
			},
			"_stop": func(e *Event) any { l.add("X stop"); return nil },
		}})
		sqCreate(t, k, Spec{Inline: map[string]Handler{
			"_start": func(e *Event) any {
				l.add("Z start; signal X TERM")
				if err := e.Kernel.Signal("X", "TERM"); err != nil {
					t.Errorf("Signal: %v", err)
				}
				return nil
			},
			"_stop": func(e *Event) any { l.add("Z stop"); return nil },
		}})
		if _, err := sqRun(t, k, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		sqWant(t, []string{
			"Y start",
			"X start id=2",
			"Z start; signal X TERM",
			"X posted hello",
			"X stop",
			"Z stop",
			"Y end",
			"Y stop",
		}, l.lines)
	})
}
