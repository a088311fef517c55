package wheel

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/driver"
	"github.com/poe-go/poe/wheel/filter"
	"golang.org/x/sys/unix"
)

// RunOptions are POE::Wheel::Run's parameters (pipe conduit only).
type RunOptions struct {
	// Program is an argv ([]string, looked up in PATH) or a command line
	// (string, run with /bin/sh -c). Go cannot fork its runtime, so POE's
	// code-reference programs are not supported (spec Q12).
	Program any
	// ProgramArgs are appended to Program (to the command line, joined by
	// spaces, for a string).
	ProgramArgs []string
	// Env is the child's environment (nil: this process's); Dir its
	// working directory ("" : this process's).
	Env []string
	Dir string

	// StdinEvent(wheelID) when the stdin buffer has been flushed.
	StdinEvent string
	// StdoutEvent / StderrEvent(record, wheelID) per output record. The
	// child's stdout (stderr) goes to /dev/null when its event is "".
	StdoutEvent, StderrEvent string
	// ErrorEvent(operation, errno int, errstr, wheelID, handleName):
	// handleName is "STDIN", "STDOUT" or "STDERR"; end of file on an output
	// pipe is ("read", 0, "", wheelID, "STDOUT").
	ErrorEvent string
	// CloseEvent(wheelID) once every output pipe with an event has reached
	// end of file or an error.
	CloseEvent string

	// StdioFilter is the stdin and stdout filter; StdinFilter and
	// StdoutFilter override one side. Default: Line with Literal "\n".
	StdioFilter, StdinFilter, StdoutFilter filter.Filter
	// StderrFilter defaults to Line with Literal "\n".
	StderrFilter filter.Filter
	// Drivers, default SysRW.
	StdinDriver, StdoutDriver, StderrDriver driver.Driver

	// NoStdin gives the child /dev/null as stdin instead of a pipe.
	NoStdin bool
	// NoSetPgrp keeps the child in this process group (by default it gets
	// its own, as POE's setpgrp).
	NoSetPgrp bool
}

// Run is POE::Wheel::Run: a child process with pipes to its stdio. The
// wheel does not reap the child: the owner calls k.SigChild(w.PID(), ...).
type Run struct {
	k     *poe.Kernel
	owner *poe.Session
	id    int
	idAny any
	pid   int

	stdin          pipeOut
	stdout, stderr pipeIn
	openOut        int // output pipes with an event still open

	stdinEvent, stdoutEvent, stderrEvent, errorEvent, closeEvent string

	recs     []any
	outBytes [][]byte
	closed   bool
}

// pipeIn is the parent's read end of a child's output.
type pipeIn struct {
	fd       int // -1 when closed or absent
	name     string
	state    string
	f        filter.Filter
	drv      driver.Driver
	chunk    [1]any
	watching bool
}

// pipeOut is the parent's write end of the child's stdin.
type pipeOut struct {
	fd       int
	state    string
	f        filter.Filter
	drv      driver.Driver
	watching bool
	octets   int
}

// NewRun starts the program.
func NewRun(k *poe.Kernel, o RunOptions) (*Run, error) {
	s, err := owner(k)
	if err != nil {
		return nil, err
	}
	var argv []string
	switch p := o.Program.(type) {
	case []string:
		if len(p) == 0 {
			return nil, errors.New("wheel: Run: empty Program")
		}
		argv = append(append([]string(nil), p...), o.ProgramArgs...)
	case string:
		cmd := p
		if len(o.ProgramArgs) > 0 {
			cmd += " " + strings.Join(o.ProgramArgs, " ")
		}
		argv = []string{"/bin/sh", "-c", cmd}
	default:
		return nil, fmt.Errorf("wheel: Run: Program must be []string or string, not %T", o.Program)
	}
	path := argv[0]
	if !strings.Contains(path, "/") {
		if path, err = exec.LookPath(path); err != nil {
			return nil, err
		}
	}

	w := &Run{
		k: k, owner: s,
		stdin:      pipeOut{fd: -1},
		stdout:     pipeIn{fd: -1, name: "STDOUT"},
		stderr:     pipeIn{fd: -1, name: "STDERR"},
		stdinEvent: o.StdinEvent, stdoutEvent: o.StdoutEvent, stderrEvent: o.StderrEvent,
		errorEvent: o.ErrorEvent, closeEvent: o.CloseEvent,
	}
	// The child's ends, and the parent's.
	var child [3]int
	var toClose []int
	defer func() {
		for _, fd := range toClose {
			unix.Close(fd)
		}
	}()
	devnull := func(flag int) (int, error) {
		fd, err := unix.Open(os.DevNull, flag|unix.O_CLOEXEC, 0)
		if err == nil {
			toClose = append(toClose, fd)
		}
		return fd, err
	}
	var parentFds []int
	fail := func(err error) (*Run, error) {
		for _, fd := range parentFds {
			unix.Close(fd)
		}
		return nil, err
	}
	mkpipe := func() (r, wr int, err error) {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			return -1, -1, err
		}
		return p[0], p[1], nil
	}
	if o.NoStdin {
		if child[0], err = devnull(unix.O_RDONLY); err != nil {
			return fail(err)
		}
	} else {
		r, wr, err := mkpipe()
		if err != nil {
			return fail(err)
		}
		child[0], w.stdin.fd = r, wr
		toClose = append(toClose, r)
		parentFds = append(parentFds, wr)
	}
	for i, p := range []*pipeIn{&w.stdout, &w.stderr} {
		ev := o.StdoutEvent
		if i == 1 {
			ev = o.StderrEvent
		}
		if ev == "" {
			if child[i+1], err = devnull(unix.O_WRONLY); err != nil {
				return fail(err)
			}
			continue
		}
		r, wr, err := mkpipe()
		if err != nil {
			return fail(err)
		}
		p.fd, child[i+1] = r, wr
		toClose = append(toClose, wr)
		parentFds = append(parentFds, r)
	}
	for _, fd := range parentFds {
		if err := unix.SetNonblock(fd, true); err != nil {
			return fail(err)
		}
	}
	env := o.Env
	if env == nil {
		env = os.Environ()
	}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Dir:   o.Dir,
		Env:   env,
		Files: []uintptr{uintptr(child[0]), uintptr(child[1]), uintptr(child[2])},
		Sys:   &syscall.SysProcAttr{Setpgid: !o.NoSetPgrp},
	})
	if err != nil {
		return fail(fmt.Errorf("wheel: Run %q: %w", argv[0], err))
	}
	w.pid = pid

	// Filters and drivers.
	lineNL := func() filter.Filter { return newLineLiteral("\n") }
	pick := func(fs ...filter.Filter) filter.Filter {
		for _, f := range fs {
			if f != nil {
				return f
			}
		}
		return lineNL()
	}
	w.stdin.f = pick(o.StdinFilter, o.StdioFilter)
	w.stdout.f = pick(o.StdoutFilter, o.StdioFilter)
	w.stderr.f = pick(o.StderrFilter)
	drv := func(d driver.Driver) driver.Driver {
		if d != nil {
			return d
		}
		return newDriver()
	}
	w.stdin.drv, w.stdout.drv, w.stderr.drv = drv(o.StdinDriver), drv(o.StdoutDriver), drv(o.StderrDriver)

	w.id = allocID()
	w.idAny = w.id
	w.stdin.state = stateName("Run", w.id, "select stdin")
	w.stdout.state = stateName("Run", w.id, "select stdout")
	w.stderr.state = stateName("Run", w.id, "select stderr")
	if w.stdin.fd >= 0 {
		s.SetState(w.stdin.state, w.onStdin, nil)
		if err := k.SelectWrite(w.stdin.fd, w.stdin.state); err == nil {
			w.stdin.watching = true
			k.SelectPauseWrite(w.stdin.fd)
		}
	}
	for _, p := range []*pipeIn{&w.stdout, &w.stderr} {
		if p.fd < 0 {
			continue
		}
		p := p
		s.SetState(p.state, func(e *poe.Event) any { w.onOutput(p); return nil }, nil)
		if err := k.SelectRead(p.fd, p.state); err == nil {
			p.watching = true
			w.openOut++
		}
	}
	s.AddCloser(w)
	return w, nil
}

func (w *Run) onOutput(p *pipeIn) {
	if w.closed || p.fd < 0 {
		return
	}
	data, err := p.drv.Get(p.fd)
	if err != nil {
		n, str := 0, ""
		if err != io.EOF {
			n, str = Errno(err)
		}
		if w.errorEvent != "" {
			w.k.Call(w.owner, w.errorEvent, "read", n, str, w.idAny, p.name)
		}
		w.endOutput(p)
		return
	}
	if len(data) == 0 {
		return
	}
	startBytes(p.f, &p.chunk, data, p.drv)
	w.drainOutput(p, p.f)
}

// drainOutput delivers f's records while f stays p's filter.
func (w *Run) drainOutput(p *pipeIn, f filter.Filter) {
	for !w.closed && p.f == f {
		recs, err := f.GetOne()
		if err != nil {
			if w.errorEvent != "" {
				w.k.Call(w.owner, w.errorEvent, "read", int(unix.EINVAL), err.Error(), w.idAny, p.name)
			}
			w.endOutput(p)
			return
		}
		if len(recs) == 0 {
			return
		}
		ev := w.stdoutEvent
		if p == &w.stderr {
			ev = w.stderrEvent
		}
		for _, r := range recs {
			if w.closed || ev == "" {
				break
			}
			w.k.Call(w.owner, ev, r, w.idAny)
		}
	}
}

// endOutput stops reading p after end of file or an error; the last one
// brings CloseEvent.
func (w *Run) endOutput(p *pipeIn) {
	if w.closed || p.fd < 0 {
		return
	}
	if p.watching {
		w.owner.Do(func() { w.k.SelectRead(p.fd, "") })
		p.watching = false
		w.openOut--
	}
	unix.Close(p.fd)
	p.fd = -1
	w.owner.SetState(p.state, nil, nil)
	if w.openOut == 0 && w.closeEvent != "" {
		w.k.Call(w.owner, w.closeEvent, w.idAny)
	}
}

func (w *Run) onStdin(e *poe.Event) any {
	w.flushStdin()
	return nil
}

func (w *Run) flushStdin() {
	in := &w.stdin
	if w.closed || in.fd < 0 || !in.watching {
		return
	}
	left, err := in.drv.Flush(in.fd)
	in.octets = left
	if err != nil {
		n, str := Errno(err)
		if w.errorEvent != "" {
			w.k.Call(w.owner, w.errorEvent, "write", n, str, w.idAny, "STDIN")
		}
		if !w.closed && in.watching {
			w.owner.Do(func() { w.k.SelectWrite(in.fd, "") })
			in.watching = false
		}
		return
	}
	if left == 0 {
		w.k.SelectPauseWrite(in.fd)
		if w.stdinEvent != "" {
			w.k.Call(w.owner, w.stdinEvent, w.idAny)
		}
	}
}

// Put sends records to the child's stdin through the stdin filter. It
// fails once stdin is closed.
func (w *Run) Put(records ...any) error {
	in := &w.stdin
	if w.closed || in.fd < 0 || !in.watching {
		return errors.New("wheel: Run: stdin is closed")
	}
	w.recs = append(w.recs[:0], records...)
	chunks, err := in.f.Put(w.recs)
	clear(w.recs)
	if err != nil {
		return err
	}
	var ok bool
	if w.outBytes, ok = appendChunks(w.outBytes[:0], chunks); !ok {
		clear(w.outBytes)
		return errors.New("wheel: Run: stdin filter produced a chunk that is not bytes")
	}
	was := in.drv.OutOctets()
	in.octets = in.drv.Put(w.outBytes...)
	clear(w.outBytes)
	if in.octets > 0 && was == 0 {
		w.k.SelectResumeWrite(in.fd)
	}
	return nil
}

// ShutdownStdin closes the child's stdin (it reads end of file); output
// still buffered is dropped.
func (w *Run) ShutdownStdin() {
	in := &w.stdin
	if in.fd < 0 {
		return
	}
	if in.watching {
		w.owner.Do(func() { w.k.SelectWrite(in.fd, "") })
		in.watching = false
	}
	w.owner.SetState(in.state, nil, nil)
	unix.Close(in.fd)
	in.fd = -1
	discard(in.drv)
}

// discard drops what d still queues, giving its pooled buffers back.
func discard(d driver.Driver) {
	if dd, ok := d.(driver.Discarder); ok {
		dd.Discard()
	}
}

// ID returns the wheel's ID; PID the child's process ID.
func (w *Run) ID() int  { return w.id }
func (w *Run) PID() int { return w.pid }

// Kill sends sig (default SIGTERM) to the child.
func (w *Run) Kill(sig ...syscall.Signal) error {
	s := syscall.SIGTERM
	if len(sig) > 0 {
		s = sig[0]
	}
	return syscall.Kill(w.pid, s)
}

// PauseStdout, ResumeStdout, PauseStderr and ResumeStderr pause and
// resume reading the child's output.
func (w *Run) PauseStdout()  { w.pauseOut(&w.stdout, true) }
func (w *Run) ResumeStdout() { w.pauseOut(&w.stdout, false) }
func (w *Run) PauseStderr()  { w.pauseOut(&w.stderr, true) }
func (w *Run) ResumeStderr() { w.pauseOut(&w.stderr, false) }

func (w *Run) pauseOut(p *pipeIn, pause bool) {
	if p.fd < 0 || !p.watching {
		return
	}
	if pause {
		w.k.SelectPauseRead(p.fd)
	} else {
		w.k.SelectResumeRead(p.fd)
	}
}

// SetStdioFilter sets the stdin and stdout filters.
func (w *Run) SetStdioFilter(f filter.Filter) {
	w.stdin.f = f
	w.SetStdoutFilter(f)
}

// SetStdinFilter sets the stdin filter (what is buffered stays).
func (w *Run) SetStdinFilter(f filter.Filter) { w.stdin.f = f }

// SetStdoutFilter switches the stdout filter: the old filter's unparsed
// bytes go to the new one, whose complete records are delivered at once,
// and later output is parsed by the new filter. (POE 1.370 keeps using
// the original filter for later reads, quirk A24; fixed here, C93 is a
// port variant.)
func (w *Run) SetStdoutFilter(f filter.Filter) { w.switchOut(&w.stdout, f) }

// SetStderrFilter is SetStdoutFilter for stderr.
func (w *Run) SetStderrFilter(f filter.Filter) { w.switchOut(&w.stderr, f) }

func (w *Run) switchOut(p *pipeIn, f filter.Filter) {
	old := p.f
	p.f = f
	if old == nil || old == f || w.closed {
		return
	}
	if pending := old.GetPending(); len(pending) > 0 {
		f.GetOneStart(pending)
		w.drainOutput(p, f)
	}
}

// StdinFilter, StdoutFilter and StderrFilter return the current filters.
func (w *Run) StdinFilter() filter.Filter  { return w.stdin.f }
func (w *Run) StdoutFilter() filter.Filter { return w.stdout.f }
func (w *Run) StderrFilter() filter.Filter { return w.stderr.f }

// DriverOutOctets and DriverOutMessages report what stdin still buffers.
func (w *Run) DriverOutOctets() int { return w.stdin.octets }
func (w *Run) DriverOutMessages() int {
	if w.stdin.drv == nil {
		return 0
	}
	return w.stdin.drv.OutMessages()
}

// Event renames or disables events: Event("StdoutEvent", "x", ...).
func (w *Run) Event(pairs ...string) error {
	return setEvents("Run", map[string]*string{
		"StdinEvent": &w.stdinEvent, "StdoutEvent": &w.stdoutEvent, "StderrEvent": &w.stderrEvent,
		"ErrorEvent": &w.errorEvent, "CloseEvent": &w.closeEvent,
	}, pairs)
}

// Close stops watching the child's pipes and closes them. The child is
// neither killed nor reaped (use Kill and k.SigChild). Idempotent.
func (w *Run) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	k := w.k
	w.owner.Do(func() {
		if w.stdin.fd >= 0 && w.stdin.watching {
			k.SelectWrite(w.stdin.fd, "")
		}
		for _, p := range []*pipeIn{&w.stdout, &w.stderr} {
			if p.fd >= 0 && p.watching {
				k.SelectRead(p.fd, "")
			}
		}
		w.owner.SetState(w.stdin.state, nil, nil)
		w.owner.SetState(w.stdout.state, nil, nil)
		w.owner.SetState(w.stderr.state, nil, nil)
	})
	if w.stdin.fd >= 0 {
		discard(w.stdin.drv)
	}
	for _, fd := range []*int{&w.stdin.fd, &w.stdout.fd, &w.stderr.fd} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
	w.owner.RemoveCloser(w)
	freeID(w.id)
	return nil
}
