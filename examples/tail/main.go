// Command tail follows log files the way tail -F does, with
// wheel.FollowTail: it prints each new line, and keeps following a file
// that is rotated (renamed and recreated), truncated, or deleted and
// created again. A file that is missing at the start is an error (exit
// status 1) unless -wait is given: then it is reported once and waited
// for. A directory or a file that cannot be read is an error.
//
//	go run ./examples/tail /var/log/syslog
//	go run ./examples/tail -poll 100ms -from-start app.log other.log
//	go run ./examples/tail -wait not-there-yet.log
//
// One session owns a FollowTail wheel per file. The wheel polls the file
// on a timer, delivers complete lines as InputEvent, and, when the name
// points to a different or shorter file than the one it reads, finishes
// reading the old one, reopens the name and sends ResetEvent. SIGINT or
// SIGTERM closes the wheels and the program ends.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
)

// options are the command line's flags.
type options struct {
	poll      time.Duration
	fromStart bool
	wait      bool // a missing file is waited for instead of an error
}

// errReported: the errors were printed as they came; exit status 1.
var errReported = errors.New("errors reported")

// tail is the session's heap.
type tail struct {
	options
	files       []string
	out, errOut io.Writer
	wheels      map[int]*wheel.FollowTail
	names       map[int]string // file name by wheel ID
	missing     map[int]bool   // waiting for the file to appear
	opened      map[int]bool   // the file was open once
	err         error          // a setup failure: the program ends with it
	failed      bool           // an error was printed
}

func (t *tail) Start(e *poe.Event) any {
	k := e.Kernel
	k.Sig("INT", "shutdown")
	k.Sig("TERM", "shutdown")
	for _, name := range t.files {
		o := wheel.FollowTailOptions{
			Filename: name, PollInterval: t.poll, ReportMissing: true,
			InputEvent: "line", ResetEvent: "reset", ErrorEvent: "error",
		}
		if t.fromStart {
			zero := int64(0)
			o.Seek = &zero
		}
		// Without Seek the wheel starts at the end of the file, as tail
		// does.
		w, err := wheel.NewFollowTail(k, o)
		if err != nil {
			// A directory, a file that cannot be read: give up.
			t.fatal(k, err)
			return nil
		}
		t.wheels[w.ID()] = w
		t.names[w.ID()] = name
		if w.Tell() >= 0 {
			t.opened[w.ID()] = true
			fmt.Fprintf(t.out, "==> %s <==\n", name)
		}
	}
	return nil
}

// Line: ARG0 is the line (without its terminator), ARG1 the wheel ID.
func (t *tail) Line(e *poe.Event) any {
	if len(t.files) > 1 {
		fmt.Fprintf(t.out, "%s: %s\n", t.names[e.Int(poe.ARG1)], e.String(poe.ARG0))
	} else {
		fmt.Fprintln(t.out, e.String(poe.ARG0))
	}
	return nil
}

// Reset: the file was replaced or truncated, or appeared, and is read
// from its start.
func (t *tail) Reset(e *poe.Event) any {
	id := e.Int(poe.ARG0)
	if t.opened[id] {
		fmt.Fprintf(t.out, "==> %s: reopened <==\n", t.names[id])
	} else {
		fmt.Fprintf(t.out, "==> %s <==\n", t.names[id])
	}
	t.opened[id], t.missing[id] = true, false
	return nil
}

// Error: (operation, errno, message, wheel ID). "open" is a file that
// cannot be opened (missing): the wheel goes on looking for it. It ends
// the program for a file missing from the start, unless -wait. After a
// "read" error the wheel stops.
func (t *tail) Error(e *poe.Event) any {
	op, errno, id := e.String(poe.ARG0), e.Int(poe.ARG1), e.Int(poe.ARG3)
	err := &os.PathError{Op: op, Path: t.names[id], Err: syscall.Errno(errno)}
	if op == "open" {
		if !t.opened[id] && !t.wait {
			t.fatal(e.Kernel, err)
			return nil
		}
		t.missing[id] = true
		fmt.Fprintf(t.errOut, "tail: %v (waiting for it)\n", err)
		return nil
	}
	fmt.Fprintf(t.errOut, "tail: %v\n", err)
	t.failed = true
	t.wheels[id].Close()
	delete(t.wheels, id)
	if len(t.wheels) == 0 {
		t.stop(e.Kernel)
	}
	return nil
}

func (t *tail) Shutdown(e *poe.Event) any {
	e.Kernel.SigHandled()
	t.stop(e.Kernel)
	return nil
}

// fatal records a setup failure and ends the program.
func (t *tail) fatal(k *poe.Kernel, err error) {
	if t.err == nil {
		t.err = err
	}
	t.stop(k)
}

// stop closes the wheels and drops the signal watchers: the session has
// nothing left and ends, and so does Run.
func (t *tail) stop(k *poe.Kernel) {
	for id, w := range t.wheels {
		w.Close()
		delete(t.wheels, id)
	}
	k.Sig("INT", "")
	k.Sig("TERM", "")
}

// run follows the files until a signal stops it. Lines go to out, errors
// met on the way to errOut; a setup failure is returned (errReported
// when errors were printed already).
func run(out, errOut io.Writer, o options, files ...string) error {
	k := poe.NewKernel(nil)
	t := &tail{options: o, files: files, out: out, errOut: errOut,
		wheels: map[int]*wheel.FollowTail{}, names: map[int]string{},
		missing: map[int]bool{}, opened: map[int]bool{}}
	if _, err := k.Create(poe.Spec{Objects: []poe.States{
		poe.Object(t, "_start", "line", "reset", "error", "shutdown"),
	}}); err != nil {
		return err
	}
	if err := k.Run(); err != nil {
		return err
	}
	if t.err == nil && t.failed {
		return errReported
	}
	return t.err
}

func main() {
	var o options
	flag.DurationVar(&o.poll, "poll", time.Second, "how often to look for new data")
	flag.BoolVar(&o.fromStart, "from-start", false, "print the files from their start, not only new lines")
	flag.BoolVar(&o.wait, "wait", false, "wait for a missing file to appear instead of failing")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: tail [-poll D] [-from-start] [-wait] FILE...")
		os.Exit(2)
	}
	if err := run(os.Stdout, os.Stderr, o, flag.Args()...); err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "tail:", err)
		}
		os.Exit(1)
	}
}
