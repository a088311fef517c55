package wheel_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
)

func TestRunConformance(t *testing.T) {
	t.Run("C77", func(t *testing.T) {
		// e22: the code program is a Func (a registered function run in a
		// re-executed copy of the test binary, spec Q12 (b)); the same
		// with a shell program.
		for _, prog := range []any{wheel.Func("c77"), `read l; echo "got:$l"; echo "err line" >&2; exit 7`} {
			testC77(t, prog)
		}
	})

	t.Run("C78", func(t *testing.T) {
		// A code program that dies exits non-zero (a panicking Func: 255,
		// as POE's code that dies), as do a shell whose command is not
		// found and one killed by a signal.
		checkFDs(t)
		var log evlog
		run(t, 10*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				for _, prog := range []any{wheel.Func("die"), "no-such-command-xyz 2>/dev/null", "kill -9 $$"} {
					w, err := wheel.NewRun(e.Kernel, wheel.RunOptions{Program: prog, NoStdin: true})
					if err != nil {
						t.Fatal(err)
					}
					e.Kernel.SigChild(w.PID(), "child_exit", fmt.Sprint(prog))
					w.Close()
				}
				return nil
			},
			"child_exit": func(e *poe.Event) any {
				st := e.Int(2)
				log.L("%s: exit!=0 or signal: %v (status %d)", e.String(3), st>>8 != 0 || st&127 != 0, st)
				return nil
			},
		})
		got := log.get()
		sort.Strings(got)
		(&evlog{lines: got}).want(t, []string{
			"die: exit!=0 or signal: true (status 65280)",
			"kill -9 $$: exit!=0 or signal: true (status 9)",
			"no-such-command-xyz 2>/dev/null: exit!=0 or signal: true (status 32512)",
		})
	})

	t.Run("C93", func(t *testing.T) {
		// Port variant: set_stdout_filter sticks (fix of quirk A24), so the
		// second line is parsed by Line(Literal "|"): a, c, d. POE 1.370
		// gives a, "c|d|".
		checkFDs(t)
		var log evlog
		run(t, 10*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				w, err := wheel.NewRun(e.Kernel, wheel.RunOptions{
					Program:     []string{"/bin/sh", "-c", `printf 'a\n'; sleep 0.3; printf 'c|d|\n'`},
					StdoutEvent: "out", CloseEvent: "closed",
				})
				if err != nil {
					t.Fatal(err)
				}
				heap(e)["w"] = w
				e.Kernel.SigChild(w.PID(), "reaped")
				return nil
			},
			"out": func(e *poe.Event) any {
				log.L("out '%s'", e.String(0))
				if e.String(0) == "a" {
					heap(e)["w"].(*wheel.Run).SetStdoutFilter(lineF("|"))
					log.L("switched to |")
				}
				return nil
			},
			"closed": func(e *poe.Event) any { log.L("closed"); heap(e)["w"].(*wheel.Run).Close(); return nil },
			"reaped": func(e *poe.Event) any { log.L("reaped"); return nil },
		})
		got := log.get()
		if n := len(got); n >= 2 && got[n-2] == "reaped" && got[n-1] == "closed" {
			got[n-2], got[n-1] = got[n-1], got[n-2]
		}
		(&evlog{lines: got}).want(t, []string{"out 'a'", "switched to |", "out 'c'", "out 'd'", "closed", "reaped"})
	})
}

func TestRun(t *testing.T) {
	t.Run("kill and argv", func(t *testing.T) {
		checkFDs(t)
		var log evlog
		run(t, 10*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				w, err := wheel.NewRun(e.Kernel, wheel.RunOptions{
					Program: []string{"sh", "-c", `echo "$0 $1"; exec sleep 10`}, ProgramArgs: []string{"x", "y"},
					StdoutEvent: "out", NoStdin: true,
				})
				if err != nil {
					t.Fatal(err)
				}
				heap(e)["w"] = w
				e.Kernel.SigChild(w.PID(), "reaped")
				return nil
			},
			"out": func(e *poe.Event) any {
				log.L("out '%s'", e.String(0))
				w := heap(e)["w"].(*wheel.Run)
				if err := w.Put("x"); err == nil {
					t.Error("Put with NoStdin succeeded")
				}
				w.Kill()
				return nil
			},
			"reaped": func(e *poe.Event) any {
				log.L("reaped status=%d", e.Int(2))
				heap(e)["w"].(*wheel.Run).Close()
				return nil
			},
		})
		log.want(t, []string{"out 'x y'", "reaped status=15"})
	})

	t.Run("exec failure", func(t *testing.T) {
		checkFDs(t)
		run(t, 5*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				if _, err := wheel.NewRun(e.Kernel, wheel.RunOptions{Program: []string{"/nonexistent/prog"}}); err == nil {
					t.Error("no error")
				}
				return nil
			},
		})
	})
}

func testC77(t *testing.T, prog any) {
	t.Run(fmt.Sprintf("%T", prog), func(t *testing.T) {
		checkFDs(t)
		var log evlog
		run(t, 10*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				w, err := wheel.NewRun(e.Kernel, wheel.RunOptions{
					Program:     prog,
					StdoutEvent: "out", StderrEvent: "errout", CloseEvent: "closed", ErrorEvent: "error", StdinEvent: "stdin_flushed",
				})
				if err != nil {
					t.Fatal(err)
				}
				heap(e)["w"] = w
				log.L("pid>0=%v", w.PID() > 0)
				if err := e.Kernel.SigChild(w.PID(), "child_exit"); err != nil {
					t.Fatal(err)
				}
				if err := w.Put("ping"); err != nil {
					t.Fatal(err)
				}
				return nil
			},
			"out":           func(e *poe.Event) any { log.L("stdout '%s'", e.String(0)); return nil },
			"errout":        func(e *poe.Event) any { log.L("stderr '%s'", e.String(0)); return nil },
			"stdin_flushed": func(e *poe.Event) any { log.L("stdin flushed"); return nil },
			"error": func(e *poe.Event) any {
				log.L("error op=%s errnum=%d handle=%s", e.String(0), e.Int(1), e.String(4))
				return nil
			},
			"closed": func(e *poe.Event) any {
				log.L("closed")
				heap(e)["w"].(*wheel.Run).Close()
				return nil
			},
			"child_exit": func(e *poe.Event) any {
				log.L("child_exit sig=%s status=%d", e.String(0), e.Int(2))
				return nil
			},
		})
		got := log.get()
		// Fixed: the first two lines; stdout/stderr records and EOFs in
		// any order before "closed"; "closed" and the child event either
		// way round.
		idx := func(s string) int { return indexOf(got, s) }
		for _, l := range []string{"error op=read errnum=0 handle=STDOUT", "error op=read errnum=0 handle=STDERR", "stdout 'got:ping'", "stderr 'err line'"} {
			if i := idx(l); i < 0 || i > idx("closed") {
				t.Errorf("%q missing or after closed: %q", l, got)
			}
		}
		sorted := append([]string(nil), got[2:]...)
		sort.Strings(sorted)
		(&evlog{lines: append(got[:2:2], sorted...)}).want(t, []string{
			"pid>0=true", "stdin flushed",
			"child_exit sig=CHLD status=1792",
			"closed",
			"error op=read errnum=0 handle=STDERR",
			"error op=read errnum=0 handle=STDOUT",
			"stderr 'err line'",
			"stdout 'got:ping'",
		})
	})
}
