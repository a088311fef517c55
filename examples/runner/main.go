// Command runner runs shell commands as child processes with wheel.Run,
// a few at a time, prints their output line by line as it comes, and
// kills the ones that run too long.
//
//	go run ./examples/runner -j 2 -timeout 1s 'echo hi; echo oops >&2' 'sleep 5' 'exit 3'
//
// One session owns every wheel. Each child's stdout and stderr lines
// arrive as events naming the wheel; CloseEvent says its pipes are done;
// SigChild reaps it and gives its wait status. A job is finished when both
// have happened. A per-job timer sends SIGTERM to the child's process group
// at the timeout, and SIGKILL after a grace period if it is still there.
// SIGINT kills what runs and starts nothing more.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"github.com/poe-go/poe/wheel/filter"
)

// config is what the runner was asked to do.
type config struct {
	cmds     []string
	parallel int
	timeout  time.Duration
	grace    time.Duration // between SIGTERM and SIGKILL
	out      io.Writer
}

// job is one command.
type job struct {
	n        int
	cmd      string
	w        *wheel.Run
	started  time.Time
	timer    poe.AlarmID
	closed   bool // CloseEvent came
	reaped   bool // SigChild came
	status   syscall.WaitStatus
	timedOut bool
}

// runner is the session's heap.
type runner struct {
	cfg     config
	next    int          // index of the next command to start
	running map[int]*job // by wheel ID
	failed  int
	stopped bool // SIGINT: start nothing more
}

func (r *runner) Start(e *poe.Event) any {
	e.Kernel.Sig("INT", "interrupt")
	r.fill(e.Kernel)
	return nil
}

// fill starts commands until cfg.parallel run.
func (r *runner) fill(k *poe.Kernel) {
	for !r.stopped && len(r.running) < r.cfg.parallel && r.next < len(r.cfg.cmds) {
		j := &job{n: r.next + 1, cmd: r.cfg.cmds[r.next], started: time.Now()}
		r.next++
		w, err := wheel.NewRun(k, wheel.RunOptions{
			Program: j.cmd, NoStdin: true,
			StdoutEvent: "stdout", StderrEvent: "stderr", CloseEvent: "closed",
		})
		if err != nil {
			fmt.Fprintf(r.cfg.out, "[%d] cannot start: %v\n", j.n, err)
			r.failed++
			continue
		}
		j.w = w
		r.running[w.ID()] = j
		// Workaround for a kernel bug: each reaped child lowers its count
		// of watched fds, so a session left waiting only for pipes could be
		// stopped as idle. An extra reference per job keeps it.
		k.RefcountIncrement(k.ActiveSession().ID(), "job")
		// The wheel does not reap: without SigChild the child would stay
		// a zombie, and the session would not wait for it.
		k.SigChild(w.PID(), "reaped", w.ID())
		if r.cfg.timeout > 0 {
			j.timer, _ = k.DelaySet("timeout", r.cfg.timeout, w.ID())
		}
		fmt.Fprintf(r.cfg.out, "[%d] started pid %d: %s\n", j.n, w.PID(), j.cmd)
	}
	if len(r.running) == 0 {
		// Nothing runs or will: drop the signal watcher so the session,
		// and the kernel, can end.
		k.Sig("INT", "")
	}
}

// Stdout and Stderr: ARG0 is a line, ARG1 the wheel ID.
func (r *runner) Stdout(e *poe.Event) any {
	fmt.Fprintf(r.cfg.out, "[%d] out: %s\n", r.running[e.Int(poe.ARG1)].n, e.String(poe.ARG0))
	return nil
}

func (r *runner) Stderr(e *poe.Event) any {
	fmt.Fprintf(r.cfg.out, "[%d] err: %s\n", r.running[e.Int(poe.ARG1)].n, e.String(poe.ARG0))
	return nil
}

// Closed (CloseEvent): both pipes reached end of file. A last line without
// a newline is still in the Line filter, which never emits partial
// records (as in POE): print it from the filter's pending input.
func (r *runner) Closed(e *poe.Event) any {
	if j := r.running[e.Int(poe.ARG0)]; j != nil {
		j.closed = true
		for _, p := range []struct {
			name string
			f    filter.Filter
		}{{"out", j.w.StdoutFilter()}, {"err", j.w.StderrFilter()}} {
			var rest []byte
			for _, c := range p.f.GetPending() {
				if b, ok := c.([]byte); ok {
					rest = append(rest, b...)
				}
			}
			if len(rest) > 0 {
				fmt.Fprintf(r.cfg.out, "[%d] %s: %s (no newline)\n", j.n, p.name, rest)
			}
		}
		r.finish(e.Kernel, j)
	}
	return nil
}

// Reaped is SigChild's event: ("CHLD", pid, wait status) and the wheel ID
// given to SigChild.
func (r *runner) Reaped(e *poe.Event) any {
	if j := r.running[e.Int(poe.ARG3)]; j != nil {
		j.reaped = true
		j.status = syscall.WaitStatus(e.Int(poe.ARG2))
		r.finish(e.Kernel, j)
	}
	return nil
}

// finish reports a job once its output is drained and it is reaped (in
// either order), and starts the next one.
func (r *runner) finish(k *poe.Kernel, j *job) {
	if !j.closed || !j.reaped {
		return
	}
	k.AlarmRemove(j.timer)
	j.w.Close()
	delete(r.running, j.w.ID())
	k.RefcountDecrement(k.ActiveSession().ID(), "job")
	took := time.Since(j.started).Round(time.Millisecond)
	switch st := j.status; {
	case st.Exited() && st.ExitStatus() == 0 && !j.timedOut:
		fmt.Fprintf(r.cfg.out, "[%d] exit 0 after %v\n", j.n, took)
	case st.Exited():
		r.failed++
		fmt.Fprintf(r.cfg.out, "[%d] exit %d after %v\n", j.n, st.ExitStatus(), took)
	default:
		r.failed++
		fmt.Fprintf(r.cfg.out, "[%d] killed by %s after %v\n", j.n, signalName(st.Signal()), took)
	}
	r.fill(k)
}

// Timeout: ARG0 is the wheel ID. The child leads its own process group
// (the wheel's default, POE's setpgrp), so signalling the group also stops
// the grandchildren a shell started, which would keep the pipes open.
func (r *runner) Timeout(e *poe.Event) any {
	j := r.running[e.Int(poe.ARG0)]
	if j == nil {
		return nil
	}
	if !j.timedOut {
		j.timedOut = true
		fmt.Fprintf(r.cfg.out, "[%d] timed out after %v, sending SIGTERM\n", j.n, r.cfg.timeout)
		syscall.Kill(-j.w.PID(), syscall.SIGTERM)
		j.timer, _ = e.Kernel.DelaySet("timeout", r.cfg.grace, j.w.ID())
		return nil
	}
	fmt.Fprintf(r.cfg.out, "[%d] still there after %v, sending SIGKILL\n", j.n, r.cfg.grace)
	syscall.Kill(-j.w.PID(), syscall.SIGKILL)
	return nil
}

// Interrupt (SIGINT): stop every job now; the program ends when they are
// reaped.
func (r *runner) Interrupt(e *poe.Event) any {
	e.Kernel.SigHandled()
	e.Kernel.Sig("INT", "")
	r.stopped = true
	fmt.Fprintf(r.cfg.out, "interrupted: stopping %d job(s)\n", len(r.running))
	for _, j := range r.running {
		j.timedOut = true
		syscall.Kill(-j.w.PID(), syscall.SIGTERM)
		e.Kernel.AlarmRemove(j.timer)
		j.timer, _ = e.Kernel.DelaySet("timeout", r.cfg.grace, j.w.ID())
	}
	return nil
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return fmt.Sprintf("signal %d (%v)", int(s), s)
}

// run runs the jobs and returns how many failed.
func run(cfg config) (int, error) {
	if cfg.parallel < 1 {
		cfg.parallel = 1
	}
	k := poe.NewKernel(nil)
	r := &runner{cfg: cfg, running: map[int]*job{}}
	if _, err := k.Create(poe.Spec{Objects: []poe.States{
		poe.Object(r, "_start", "stdout", "stderr", "closed", "reaped", "timeout", "interrupt"),
	}}); err != nil {
		return 0, err
	}
	if err := k.Run(); err != nil {
		return r.failed, err
	}
	return r.failed, nil
}

func main() {
	cfg := config{out: os.Stdout}
	flag.IntVar(&cfg.parallel, "j", 2, "jobs to run at once")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "kill a job after this long (0: never)")
	flag.DurationVar(&cfg.grace, "grace", time.Second, "time between SIGTERM and SIGKILL")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: runner [-j N] [-timeout D] [-grace D] 'shell command'...")
		flag.PrintDefaults()
	}
	flag.Parse()
	cfg.cmds = flag.Args()
	if len(cfg.cmds) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	failed, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "runner:", err)
		os.Exit(1)
	}
	if failed > 0 {
		os.Exit(1)
	}
}
