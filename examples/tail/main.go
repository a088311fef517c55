// Command tail follows log files the way tail -F does, with
// wheel.FollowTail: it prints each new line, and keeps following a file
// that is rotated (renamed and recreated), truncated, or deleted and
// created again.
//
//	go run ./examples/tail /var/log/syslog
//	go run ./examples/tail -poll 100ms -from-start app.log other.log
//
// One session owns a FollowTail wheel per file. The wheel polls the file
// on a timer, delivers complete lines as InputEvent, and, when the name
// points to a different or shorter file than the one it reads, finishes
// reading the old one, reopens the name and sends ResetEvent. SIGINT or
// SIGTERM closes the wheels and the program ends.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
)

// tail is the session's heap.
type tail struct {
	files     []string
	poll      time.Duration
	fromStart bool
	out       io.Writer
	wheels    map[int]*wheel.FollowTail
	names     map[int]string // file name by wheel ID
}

func (t *tail) Start(e *poe.Event) any {
	k := e.Kernel
	k.Sig("INT", "shutdown")
	k.Sig("TERM", "shutdown")
	for _, name := range t.files {
		o := wheel.FollowTailOptions{
			Filename: name, PollInterval: t.poll,
			InputEvent: "line", ResetEvent: "reset", ErrorEvent: "error",
		}
		if t.fromStart {
			zero := int64(0)
			o.Seek = &zero
		}
		// Without Seek the wheel starts at the end of the file, as tail
		// does (a missing file is waited for).
		w, err := wheel.NewFollowTail(k, o)
		if err != nil {
			fmt.Fprintf(t.out, "tail: %s: %v\n", name, err)
			continue
		}
		t.wheels[w.ID()] = w
		t.names[w.ID()] = name
		fmt.Fprintf(t.out, "==> %s <==\n", name)
	}
	if len(t.wheels) == 0 {
		t.stop(k)
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

// Reset: the file was replaced or truncated (or appeared), and is read
// from its start.
func (t *tail) Reset(e *poe.Event) any {
	fmt.Fprintf(t.out, "==> %s: reopened <==\n", t.names[e.Int(poe.ARG0)])
	return nil
}

// Error: (operation, errno, message, wheel ID); the wheel stops polling.
func (t *tail) Error(e *poe.Event) any {
	id := e.Int(poe.ARG3)
	fmt.Fprintf(t.out, "tail: %s: %s error: %s\n", t.names[id], e.String(poe.ARG0), e.String(poe.ARG2))
	t.wheels[id].Close()
	delete(t.wheels, id)
	if len(t.wheels) == 0 {
		t.stop(e.Kernel)
	}
	return nil
}

func (t *tail) Shutdown(e *poe.Event) any {
	e.Kernel.SigHandled()
	for _, w := range t.wheels {
		w.Close()
	}
	t.stop(e.Kernel)
	return nil
}

// stop drops the signal watchers: with its wheels closed the session has
// nothing left and ends, and so does Run.
func (t *tail) stop(k *poe.Kernel) {
	k.Sig("INT", "")
	k.Sig("TERM", "")
}

// run follows the files until a signal stops it.
func run(out io.Writer, poll time.Duration, fromStart bool, files ...string) error {
	k := poe.NewKernel(nil)
	t := &tail{files: files, poll: poll, fromStart: fromStart, out: out,
		wheels: map[int]*wheel.FollowTail{}, names: map[int]string{}}
	if _, err := k.Create(poe.Spec{Objects: []poe.States{
		poe.Object(t, "_start", "line", "reset", "error", "shutdown"),
	}}); err != nil {
		return err
	}
	return k.Run()
}

func main() {
	poll := flag.Duration("poll", time.Second, "how often to look for new data")
	fromStart := flag.Bool("from-start", false, "print the files from their start, not only new lines")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: tail [-poll D] [-from-start] FILE...")
		os.Exit(2)
	}
	if err := run(os.Stdout, *poll, *fromStart, flag.Args()...); err != nil {
		fmt.Fprintln(os.Stderr, "tail:", err)
		os.Exit(1)
	}
}
