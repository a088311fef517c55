package wheel_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"golang.org/x/sys/unix"
)

// runResult is what runChild saw of a child.
type runResult struct {
	out, err, errors []string // records, and ErrorEvents as "op errno handle"
	closed           bool
	status           int
}

// runChild starts a Run wheel with o (events "out", "err", "error",
// "closed" filled in), calls start with it, and runs until the child is
// reaped and its outputs closed (CloseEvent, or 2 s after the exit).
func runChild(t *testing.T, o wheel.RunOptions, start func(e *poe.Event, w *wheel.Run)) runResult {
	t.Helper()
	var r runResult
	o.ErrorEvent, o.CloseEvent = "error", "closed"
	var w *wheel.Run
	reaped := false
	finish := func(e *poe.Event) {
		if w != nil && reaped && r.closed {
			w.Close()
			e.Kernel.Alarm("late", time.Time{})
		}
	}
	run(t, 15*time.Second, map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			var err error
			if w, err = wheel.NewRun(e.Kernel, o); err != nil {
				t.Fatal(err)
			}
			e.Kernel.SigChild(w.PID(), "reaped")
			if start != nil {
				start(e, w)
			}
			return nil
		},
		"out": func(e *poe.Event) any { r.out = append(r.out, e.String(0)); return nil },
		"err": func(e *poe.Event) any { r.err = append(r.err, e.String(0)); return nil },
		"error": func(e *poe.Event) any {
			r.errors = append(r.errors, fmt.Sprintf("%s %d %s", e.String(0), e.Int(1), e.String(4)))
			return nil
		},
		"closed": func(e *poe.Event) any { r.closed = true; finish(e); return nil },
		"reaped": func(e *poe.Event) any {
			r.status, reaped = e.Int(2), true
			if o.StdoutEvent == "" && (o.StderrEvent == "" || o.Conduit == "pty") {
				r.closed = true // nothing to wait for
			}
			e.Kernel.Delay("late", 2*time.Second)
			finish(e)
			return nil
		},
		"late": func(e *poe.Event) any { w.Close(); return nil },
	})
	return r
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: got %#v, want %#v", what, got, want)
	}
}

func TestRunFunc(t *testing.T) {
	t.Run("args and status", func(t *testing.T) {
		checkFDs(t)
		r := runChild(t, wheel.RunOptions{Program: wheel.Func("args"), ProgramArgs: []string{"a b", "c"}, StdoutEvent: "out"}, nil)
		eq(t, "stdout", r.out, []string{"a b|c"})
		eq(t, "status", r.status, 0)
		eq(t, "closed", r.closed, true)
	})
	t.Run("registered in main", func(t *testing.T) {
		r := runChild(t, wheel.RunOptions{Program: wheel.Func("late"), StdoutEvent: "out"}, nil)
		eq(t, "stdout", r.out, []string{"late ran"})
		eq(t, "status", r.status, 3<<8)
	})
	t.Run("not registered", func(t *testing.T) {
		run(t, 5*time.Second, map[string]poe.Handler{"_start": func(e *poe.Event) any {
			if _, err := wheel.NewRun(e.Kernel, wheel.RunOptions{Program: wheel.Func("no-such")}); err == nil {
				t.Error("NewRun of an unregistered Func succeeded")
			}
			return nil
		}})
		// A child for a name this executable does not register:
		// RunChildMain (in TestMain) stops it with 127.
		cmd := exec.Command(selfExe(t))
		cmd.Env = append(os.Environ(), "POE_GO_RUN_PROGRAM=no-such")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 127 || !strings.Contains(string(out), `"no-such" is not registered`) {
			t.Errorf("unregistered child: %v %q", err, out)
		}
	})
	t.Run("NewRun in a child", func(t *testing.T) {
		t.Setenv("POE_GO_RUN_PROGRAM", "x")
		run(t, 5*time.Second, map[string]poe.Handler{"_start": func(e *poe.Event) any {
			if _, err := wheel.NewRun(e.Kernel, wheel.RunOptions{Program: "true"}); err == nil || !strings.Contains(err.Error(), "RunChildMain") {
				t.Errorf("NewRun in a child that did not run its program: %v", err)
			}
			return nil
		}})
	})
	t.Run("CloseOnCall", func(t *testing.T) {
		checkFDs(t)
		// A descriptor without close-on-exec reaches the child unless
		// CloseOnCall.
		var p [2]int
		if err := unix.Pipe(p[:]); err != nil {
			t.Fatal(err)
		}
		defer unix.Close(p[0])
		defer unix.Close(p[1])
		for _, coc := range []bool{false, true} {
			r := runChild(t, wheel.RunOptions{Program: wheel.Func("inherited"), StdoutEvent: "out", CloseOnCall: coc}, nil)
			n := -1
			if len(r.out) == 1 {
				n, _ = strconv.Atoi(strings.TrimPrefix(r.out[0], "inherited "))
			}
			if coc && n != 0 || !coc && n < 2 {
				t.Errorf("CloseOnCall=%v: %q", coc, r.out)
			}
		}
	})
}

func TestRunSocketpair(t *testing.T) {
	checkFDs(t)
	// One socket for stdin and stdout; ShutdownStdin shuts it down for
	// writing, so cat reads end of file while its output still arrives.
	r := runChild(t, wheel.RunOptions{
		Program: `cat; echo done`, Conduit: "socketpair", StdoutEvent: "out", StdinEvent: "flushed",
	}, func(e *poe.Event, w *wheel.Run) {
		w.Put("one", "two")
		e.Session.SetState("flushed", func(e *poe.Event) any { w.ShutdownStdin(); return nil }, nil)
	})
	eq(t, "stdout", r.out, []string{"one", "two", "done"})
	eq(t, "errors", r.errors, []string{"read 0 STDOUT"})
	eq(t, "status", r.status, 0)
}

func TestRunRedirect(t *testing.T) {
	dir := t.TempDir()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
		}
		return string(b)
	}
	prog := `cat; echo out; echo err >&2`
	t.Run("stdin stdout", func(t *testing.T) {
		checkFDs(t)
		in := filepath.Join(dir, "in")
		os.WriteFile(in, []byte("from file\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "out"), []byte("old content, truncated\n"), 0o644)
		r := runChild(t, wheel.RunOptions{
			Program: prog, RedirectStdin: in, RedirectStdout: filepath.Join(dir, "out"), StderrEvent: "err",
		}, nil)
		eq(t, "file", read("out"), "from file\nout\n")
		eq(t, "stderr", r.err, []string{"err"})
	})
	t.Run("stderr", func(t *testing.T) {
		checkFDs(t)
		r := runChild(t, wheel.RunOptions{Program: prog, NoStdin: true, RedirectStderr: filepath.Join(dir, "err"), StdoutEvent: "out"}, nil)
		eq(t, "file", read("err"), "err\n")
		eq(t, "stdout", r.out, []string{"out"})
	})
	t.Run("output", func(t *testing.T) {
		checkFDs(t)
		runChild(t, wheel.RunOptions{Program: prog, NoStdin: true, RedirectOutput: filepath.Join(dir, "both")}, nil)
		eq(t, "file", read("both"), "out\nerr\n")
	})
	t.Run("handles", func(t *testing.T) {
		checkFDs(t)
		f, err := os.Create(filepath.Join(dir, "f"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r, w := pipe(t)
		defer unix.Close(r)
		runChild(t, wheel.RunOptions{Program: prog, NoStdin: true, RedirectStdout: f, RedirectStderr: w}, nil)
		unix.Close(w)
		eq(t, "*os.File", read("f"), "out\n")
		buf := make([]byte, 64)
		n, _ := unix.Read(r, buf)
		eq(t, "int fd", string(buf[:max(n, 0)]), "err\n")
	})
	t.Run("invalid", func(t *testing.T) {
		checkFDs(t)
		for i, o := range []wheel.RunOptions{
			{Program: "true", RedirectStdout: "/dev/null", StdoutEvent: "out"},
			{Program: "true", RedirectOutput: "/dev/null", StderrEvent: "err"},
			{Program: "true", RedirectStdin: "/dev/null", StdinEvent: "flushed"},
			{Program: "true", RedirectOutput: "/dev/null", RedirectStdout: "/dev/null"},
			{Program: "true", Conduit: "pty", RedirectStderr: "/dev/null"},
			{Program: "true", RedirectStdout: 1.5},
			{Program: "true", RedirectStdin: filepath.Join(dir, "missing")},
			{Program: "true", Conduit: "inet"},
		} {
			run(t, 5*time.Second, map[string]poe.Handler{"_start": func(e *poe.Event) any {
				if _, err := wheel.NewRun(e.Kernel, o); err == nil {
					t.Errorf("%d: no error for %+v", i, o)
				}
				return nil
			}})
		}
	})
}

// niceOf is the nice value of one of this process's threads.
func niceOf(t *testing.T, stat string) int {
	t.Helper()
	b, err := os.ReadFile(stat)
	if err != nil {
		return 0 // the thread is gone
	}
	// Fields after the command's closing parenthesis; nice is field 19.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	n, _ := strconv.Atoi(f[19-3])
	return n
}

func TestRunPriority(t *testing.T) {
	checkFDs(t)
	base, err := niceValue()
	if err != nil {
		t.Fatal(err)
	}
	deltas := []int{5}
	if os.Geteuid() == 0 {
		deltas = append(deltas, -3)
	} else {
		run(t, 5*time.Second, map[string]poe.Handler{"_start": func(e *poe.Event) any {
			if _, err := wheel.NewRun(e.Kernel, wheel.RunOptions{Program: "true", Priority: -1}); err == nil {
				t.Error("negative Priority without privilege: no error")
			}
			return nil
		}})
	}
	for _, d := range deltas {
		for _, prog := range []any{wheel.Func("nice"), []string{"nice"}} {
			r := runChild(t, wheel.RunOptions{Program: prog, Priority: d, StdoutEvent: "out"}, nil)
			eq(t, fmt.Sprintf("%v Priority %+d", prog, d), r.out, []string{strconv.Itoa(max(-20, min(19, base+d)))})
		}
	}
	// The thread that forked got its nice value back (as root; without
	// privilege it is discarded instead, or parked if it is the main
	// thread): no thread of this process runs at another nice value.
	// Linux only: elsewhere nice values are per process and the parent
	// renices the child instead.
	if os.Geteuid() != 0 || runtime.GOOS != "linux" {
		return
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		tasks, _ := filepath.Glob("/proc/self/task/*/stat")
		var odd []int
		for _, st := range tasks {
			if n := niceOf(t, st); n != base {
				odd = append(odd, n)
			}
		}
		if len(odd) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("threads left at nice %v (base %d)", odd, base)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunUserGroup(t *testing.T) {
	checkFDs(t)
	if os.Geteuid() != 0 {
		// The error path: see also TestCheckCredential.
		run(t, 5*time.Second, map[string]poe.Handler{"_start": func(e *poe.Event) any {
			_, err := wheel.NewRun(e.Kernel, wheel.RunOptions{Program: "true", User: "0"})
			if !errors.Is(err, poe.EPERM) {
				t.Errorf("User 0 as uid %d: %v, want EPERM", os.Geteuid(), err)
			}
			return nil
		}})
		// Its own IDs are no change.
		r := runChild(t, wheel.RunOptions{Program: "id -u", User: strconv.Itoa(os.Geteuid()), StdoutEvent: "out"}, nil)
		eq(t, "own uid", r.out, []string{strconv.Itoa(os.Geteuid())})
		return
	}
	// Root: a real switch to nobody, by number and by name; the
	// supplementary groups are cleared (id -G lists only the group).
	for _, ug := range [][2]string{{"65534", "65534"}, {"nobody", ""}} {
		r := runChild(t, wheel.RunOptions{
			Program: `id -u; id -g; id -G`, User: ug[0], Group: ug[1], StdoutEvent: "out", Conduit: "pty-pipe",
		}, nil)
		want := []string{"65534", "65534", "65534"}
		if ug[1] == "" {
			want = []string{"65534", "0", "0"} // Group unchanged, as in POE
		}
		eq(t, fmt.Sprintf("User %q Group %q", ug[0], ug[1]), r.out, want)
	}
	run(t, 5*time.Second, map[string]poe.Handler{"_start": func(e *poe.Event) any {
		if _, err := wheel.NewRun(e.Kernel, wheel.RunOptions{Program: "true", User: "no-such-user-xyz"}); err == nil {
			t.Error("unknown user: no error")
		}
		return nil
	}})
}

// An idle stdin and a paused stdout are not left registered: epoll
// reports a hang-up even for an empty interest set, and the kernel would
// poll in a loop from the child's exit until the wheel closes.
func TestRunNoSpinAfterExit(t *testing.T) {
	for _, c := range []struct {
		name string
		o    wheel.RunOptions
	}{
		{"pipe stdin", wheel.RunOptions{Program: "true"}},
		{"pty stdin", wheel.RunOptions{Program: "true", Conduit: "pty"}},
		{"paused stdout", wheel.RunOptions{Program: "sleep 0.05; echo x", StdoutEvent: "out", NoStdin: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkFDs(t)
			k := run(t, 5*time.Second, map[string]poe.Handler{
				"_start": func(e *poe.Event) any {
					w, err := wheel.NewRun(e.Kernel, c.o)
					if err != nil {
						t.Fatal(err)
					}
					w.Put("input")
					w.PauseStdout()
					heap(e)["w"] = w
					e.Kernel.SigChild(w.PID(), "reaped")
					return nil
				},
				"reaped": func(e *poe.Event) any { e.Kernel.Delay("end", 200*time.Millisecond); return nil },
				"end":    func(e *poe.Event) any { heap(e)["w"].(*wheel.Run).Close(); return nil },
			})
			if n := k.Stats().Polls; n > 100 {
				t.Errorf("%d polls while the exited child's wheel stayed open", n)
			}
		})
	}
}

func TestRunPauseStdout(t *testing.T) {
	checkFDs(t)
	// Paused from the start until 200 ms, after the child has written
	// and exited: the output and its end of file come after the resume.
	var resumed time.Time
	var outAt time.Time
	r := runChild(t, wheel.RunOptions{Program: `echo x`, StdoutEvent: "out", NoStdin: true},
		func(e *poe.Event, w *wheel.Run) {
			w.PauseStdout()
			w.PauseStdout() // twice is once
			e.Session.SetState("resume", func(e *poe.Event) any { resumed = time.Now(); w.ResumeStdout(); return nil }, nil)
			e.Session.SetState("out", func(e *poe.Event) any { outAt = time.Now(); return nil }, nil)
			e.Kernel.Delay("resume", 200*time.Millisecond)
		})
	if resumed.IsZero() || outAt.Before(resumed) {
		t.Errorf("output at %v, resumed at %v", outAt, resumed)
	}
	eq(t, "errors", r.errors, []string{"read 0 STDOUT"})
	eq(t, "closed", r.closed, true)
}

// TestRunKillOSSignal: Kill takes an os.Signal (os.Interrupt here), and
// refuses one that is no Unix signal.
func TestRunKillOSSignal(t *testing.T) {
	checkFDs(t)
	var refused error
	r := runChild(t, wheel.RunOptions{Program: `echo up; exec sleep 10`, StdoutEvent: "out", NoStdin: true},
		func(e *poe.Event, w *wheel.Run) {
			refused = w.Kill(notUnixSignal{})
			if err := w.Kill(os.Interrupt); err != nil {
				t.Error(err)
			}
		})
	if !errors.Is(refused, syscall.EINVAL) {
		t.Errorf("Kill(a non-Unix signal) = %v, want EINVAL", refused)
	}
	if r.status != int(syscall.SIGINT) {
		t.Errorf("status %d, want killed by SIGINT (%d)", r.status, syscall.SIGINT)
	}
}

type notUnixSignal struct{}

func (notUnixSignal) String() string { return "not a Unix signal" }
func (notUnixSignal) Signal()        {}
