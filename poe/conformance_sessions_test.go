package poe

// Conformance cases C01–C19 of the POE specification (poe.md section 9.1
// "Identity and creation" and 9.2 "Handlers, _default, state"). Each case
// is a subtest named after its number; the comments name the Perl
// experiment (poe-experiments/eNN_*.pl) or POE test the expectations come
// from. Sibling order is never asserted.

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// --- helpers shared by conformance_sessions_test.go and
// conformance_queue_test.go (prefix sq to stay clear of other test files).

// sqLog collects the lines handlers log.
type sqLog struct{ lines []string }

func (l *sqLog) add(format string, a ...any) { l.lines = append(l.lines, fmt.Sprintf(format, a...)) }

// sqWant compares a log with the expected lines.
func sqWant(t *testing.T, want, got []string) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("event log mismatch (-want +got):\n%s", diff)
	}
}

// sqName names a session as the experiments print it: its ID, or K for the
// kernel.
func sqName(s *Session) string {
	if s == nil {
		return "nil"
	}
	if s.IsKernel() {
		return "K"
	}
	return strconv.FormatUint(uint64(s.ID()), 10)
}

// sqErrno renders an error the way the Perl experiments print errno.
func sqErrno(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ESRCH):
		return "ESRCH"
	case errors.Is(err, EPERM):
		return "EPERM"
	case errors.Is(err, EINVAL):
		return "EINVAL"
	case errors.Is(err, EEXIST):
		return "EEXIST"
	case errors.Is(err, ENOSYS):
		return "ENOSYS"
	}
	return err.Error()
}

// sqArgs renders an argument list: sessions as S<id>, nil as nil, slices
// recursively.
func sqArgs(args []any) string {
	parts := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case nil:
			parts[i] = "nil"
		case *Session:
			parts[i] = "S" + sqName(v)
		case []any:
			parts[i] = "[" + sqArgs(v) + "]"
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(parts, " ")
}

// sqCreate creates a session and fails the test if that fails.
func sqCreate(t *testing.T, k *Kernel, spec Spec) *Session {
	t.Helper()
	s, err := k.Create(spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return s
}

// sqRun runs the kernel on another goroutine and fails the test if Run
// does not return within limit. It returns how long Run took and its error.
func sqRun(t *testing.T, k *Kernel, limit time.Duration) (time.Duration, error) {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- k.Run() }()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-time.After(limit):
		t.Fatalf("Run did not return within %v", limit)
	}
	return 0, nil
}

// sqLogger returns a logger writing text records into a buffer.
type sqLogBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *sqLogBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *sqLogBuf) Lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.buf.String()), "\n")
}

func sqLogger() (*slog.Logger, *sqLogBuf) {
	b := &sqLogBuf{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// sqFindLine returns the first line containing every needle, or "".
func sqFindLine(lines []string, needles ...string) string {
next:
	for _, l := range lines {
		for _, n := range needles {
			if !strings.Contains(l, n) {
				continue next
			}
		}
		return l
	}
	return ""
}

// sqCounter is the object of object_states cases (e25's Counter).
type sqCounter struct {
	n   int
	log *sqLog
}

func (c *sqCounter) Start(e *Event) any {
	c.log.add("Counter _start obj=%T heap=%T args=%s", e.Object, e.Heap, sqArgs(e.Args))
	e.Kernel.Yield("inc")
	return "_start"
}

func (c *sqCounter) IncMethod(e *Event) any {
	c.n++
	c.log.add("inc via method, n=%d, state=%s, object is counter=%v", c.n, e.State, e.Object == any(c))
	return nil
}

func (c *sqCounter) Stop(e *Event) any {
	c.log.add("Counter _stop")
	return "_stop"
}

// WrongSignature is not a handler: object states naming it must fail.
func (c *sqCounter) WrongSignature(n int) {}

// --- 9.1 Identity and creation

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

	// C08 — e15, port variant: POE::NFA is not ported, so N is an
	// ordinary session that ends itself with Kernel.StopSession (the
	// NFA-style stop, which runs the stop protocol while N still has a
	// child). Its child G is handed to P with _child gain / _parent.
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

	// --- 9.2 Handlers, _default, state

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
