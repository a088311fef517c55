// Command periodic runs a job at a fixed period without drift: each run
// re-arms the alarm for the previous due time plus the period (not for
// "now plus the period"), so the time the job and the dispatch take does
// not add up from run to run. A run that overran skips the due times it
// missed instead of bunching them up.
//
//	go run ./examples/periodic -every 500ms -work 100ms
//	kill -USR1 <pid>    # postpone the next run by -postpone
//	kill -INT <pid>     # or Ctrl-C: stop after the current run
//
// POE idioms: alarm_set with an absolute time (AlarmSet) and its ID kept
// in the heap, alarm_adjust (AlarmAdjust) to move the pending run,
// alarm_remove on shutdown, and signal handlers that call sig_handled.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/poe-go/poe/poe"
)

// config is the job's schedule.
type config struct {
	every    time.Duration
	work     time.Duration // what one run takes (simulated)
	postpone time.Duration // what SIGUSR1 adds to the pending run
	limit    int           // stop after this many runs (0: never)
	out      io.Writer
	// report, if set, is told about every run (tests use it).
	report func(n int, due, at time.Time, skipped int)
}

// job is the session's heap.
type job struct {
	cfg     config
	id      poe.AlarmID // the pending run
	next    time.Time   // its due time
	runs    int
	skipped int
}

func (j *job) Start(e *poe.Event) any {
	k := e.Kernel
	k.AliasSet("periodic")
	k.Sig("INT", "shutdown")
	k.Sig("TERM", "shutdown")
	k.Sig("USR1", "postpone")
	fmt.Fprintf(j.cfg.out, "pid %d: a run every %v\n", os.Getpid(), j.cfg.every)
	j.arm(k, time.Now().Add(j.cfg.every))
	return nil
}

func (j *job) arm(k *poe.Kernel, at time.Time) {
	j.next = at
	j.id, _ = k.AlarmSet("run", at)
}

// Run is one run of the job. Its due time is j.next (AlarmAdjust may have
// moved it since it was set).
func (j *job) Run(e *poe.Event) any {
	now := time.Now()
	due := j.next
	j.runs++
	fmt.Fprintf(j.cfg.out, "run %d at %s, %v late\n", j.runs, now.Format("15:04:05.000"), now.Sub(due).Round(100*time.Microsecond))
	time.Sleep(j.cfg.work) // the job itself: blocking here stands for real work
	after := time.Now()

	// Re-arm against the schedule, skipping due times already past.
	next, skipped := due.Add(j.cfg.every), 0
	for !next.After(after) {
		next = next.Add(j.cfg.every)
		skipped++
	}
	if skipped > 0 {
		j.skipped += skipped
		fmt.Fprintf(j.cfg.out, "run %d overran: skipping %d run(s)\n", j.runs, skipped)
	}
	if j.cfg.report != nil {
		j.cfg.report(j.runs, due, now, skipped)
	}
	if j.cfg.limit > 0 && j.runs >= j.cfg.limit {
		j.stop(e.Kernel)
		return nil
	}
	j.arm(e.Kernel, next)
	return nil
}

// Postpone (SIGUSR1) moves the pending run later with AlarmAdjust; later
// runs keep the period from the new time.
func (j *job) Postpone(e *poe.Event) any {
	e.Kernel.SigHandled()
	at, err := e.Kernel.AlarmAdjust(j.id, j.cfg.postpone)
	if err != nil {
		return nil // no run pending (stopping)
	}
	j.next = at
	fmt.Fprintf(j.cfg.out, "postponed: next run at %s\n", at.Format("15:04:05.000"))
	return nil
}

// Shutdown (SIGINT, SIGTERM) removes the pending run: the session has
// nothing left and ends.
func (j *job) Shutdown(e *poe.Event) any {
	e.Kernel.SigHandled()
	fmt.Fprintf(j.cfg.out, "got SIG%s\n", e.String(poe.ARG0))
	j.stop(e.Kernel)
	return nil
}

func (j *job) stop(k *poe.Kernel) {
	k.AlarmRemove(j.id)
	k.AliasRemove("periodic")
	for _, s := range []string{"INT", "TERM", "USR1"} {
		k.Sig(s, "")
	}
	fmt.Fprintf(j.cfg.out, "stopped after %d run(s), %d skipped\n", j.runs, j.skipped)
}

// run runs the job until it is stopped.
func run(cfg config) error {
	k := poe.NewKernel(nil)
	if _, err := k.Create(poe.Spec{Objects: []poe.States{
		poe.Object(&job{cfg: cfg}, "_start", "run", "postpone", "shutdown"),
	}}); err != nil {
		return err
	}
	return k.Run()
}

func main() {
	cfg := config{out: os.Stdout}
	flag.DurationVar(&cfg.every, "every", time.Second, "period")
	flag.DurationVar(&cfg.work, "work", 0, "how long each run works")
	flag.DurationVar(&cfg.postpone, "postpone", 5*time.Second, "what SIGUSR1 adds to the pending run")
	flag.IntVar(&cfg.limit, "n", 0, "stop after this many runs (0: run until SIGINT)")
	flag.Parse()
	if cfg.every <= 0 {
		fmt.Fprintln(os.Stderr, "periodic: -every must be positive")
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "periodic:", err)
		os.Exit(1)
	}
}
