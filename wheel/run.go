package wheel

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/driver"
	"github.com/poe-go/poe/wheel/filter"
	"golang.org/x/sys/unix"
)

// RunOptions are POE::Wheel::Run's parameters.
type RunOptions struct {
	// Program is what the child runs: an argv ([]string, looked up in
	// PATH), a command line (string, run with /bin/sh -c), or a Func, a
	// function registered with RegisterProgram and run in a re-executed
	// copy of this program (POE's code references: Go cannot fork its
	// runtime).
	Program any
	// ProgramArgs are appended to Program (to the command line, joined by
	// spaces, for a string; a Func gets them as its args).
	ProgramArgs []string
	// Env is the child's environment (nil: this process's); Dir its
	// working directory ("" : this process's).
	Env []string
	Dir string

	// Conduit connects the child's stdin and stdout: "pipe" (the default,
	// also ""), "socketpair" (one Unix stream socket for both), "pty" (a
	// pseudo-terminal for stdin, stdout and stderr; StderrEvent and
	// StderrFilter are ignored, as in POE) or "pty-pipe" (stdin and stdout
	// on a pty, stderr on a pipe). With a pty the child leads a new
	// session whose controlling terminal is the pty. POE's "inet" is not
	// supported.
	Conduit string
	// Winsize is a pty's window size; nil copies this process's terminal's
	// when its stdin is a terminal.
	Winsize *Winsize
	// PtyMode is a pty's line discipline, PtyRaw (POE's) by default.
	PtyMode PtyMode

	// StdinEvent(wheelID) when the stdin buffer has been flushed.
	StdinEvent string
	// StdoutEvent / StderrEvent(record, wheelID) per output record. The
	// child's stdout (stderr) goes to /dev/null when its event is "" and
	// it is not redirected.
	StdoutEvent, StderrEvent string
	// ErrorEvent(operation, errno int, errstr, wheelID, handleName):
	// handleName is "STDIN", "STDOUT" or "STDERR"; end of file on an output
	// is ("read", 0, "", wheelID, "STDOUT") — on a pty too, whose master
	// reads EIO once the child's side is closed.
	ErrorEvent string
	// CloseEvent(wheelID) once every output with an event has reached end
	// of file or an error.
	CloseEvent string

	// StdioFilter is the stdin and stdout filter; StdinFilter and
	// StdoutFilter override one side. Default: Line with Literal "\n".
	StdioFilter, StdinFilter, StdoutFilter filter.Filter
	// StderrFilter defaults to Line with Literal "\n".
	StderrFilter filter.Filter
	// Drivers, default SysRW.
	StdinDriver, StdoutDriver, StderrDriver driver.Driver

	// NoStdin gives the child /dev/null as stdin instead of a conduit.
	NoStdin bool
	// RedirectStdin, RedirectStdout and RedirectStderr give the child a
	// file instead of a conduit: a file name (stdin is opened for
	// reading, stdout and stderr are created or truncated), an *os.File
	// or an int descriptor (the child gets a copy). RedirectOutput is
	// both stdout and stderr (> file 2>&1) and excludes the other two. As
	// in POE a redirected handle cannot have an event (StdinEvent,
	// StdoutEvent, StderrEvent), and a pty conduit cannot be redirected.
	RedirectStdin, RedirectStdout, RedirectStderr, RedirectOutput any

	// CloseOnCall is for Func programs: the child closes the descriptors
	// above 2 that it inherited before calling the function (POE closes
	// every descriptor above $^F). Descriptors Go opens are close-on-exec
	// and never reach a child; this catches the others (raw syscalls, or
	// inherited by this process). Exec'd programs get what exec leaves
	// them, as in POE.
	CloseOnCall bool
	// Priority is added to this process's nice value for the child
	// (positive: lower priority). A negative delta needs privilege;
	// without it NewRun fails (POE ignores the failure).
	Priority int
	// User and Group are the child's user and group: a numeric ID or a
	// name; "" keeps this process's (so set Group too when switching
	// User, as in POE). Changing them needs root: otherwise NewRun fails
	// with EPERM, unless they are this process's own. When either is
	// set, a root parent clears the child's supplementary groups (POE
	// keeps the parent's). A Func child must be able to execute this
	// program's file as that user.
	User, Group string
	// NoSetPgrp keeps the child in this process group (by default it gets
	// its own, as POE's setpgrp; a pty child always leads a new session).
	NoSetPgrp bool
}

// Run is POE::Wheel::Run: a child process with pipes, a socket or a
// pseudo-terminal to its stdio. The wheel does not reap the child: the
// owner calls k.SigChild(w.PID(), ...).
type Run struct {
	k     *poe.Kernel
	owner *poe.Session
	id    int
	idAny any
	pid   int

	stdin          pipeOut
	stdout, stderr pipeIn
	openOut        int    // outputs with an event not yet at end of file
	conduit        string // "pipe", "socketpair", "pty" or "pty-pipe"
	master         int    // a pty's master, closed only by Close, else -1

	stdinEvent, stdoutEvent, stderrEvent, errorEvent, closeEvent string

	recs     []any
	outBytes [][]byte
	closed   bool
}

// pipeIn is the parent's end of a child's output. With a pty or a
// socketpair, stdout shares its descriptor with stdin.
type pipeIn struct {
	fd       int // -1 when closed or absent
	name     string
	state    string
	f        filter.Filter
	drv      driver.Driver
	chunk    [1]any
	watching bool // registered for reading
	paused   bool
	pty      bool // a pty master: EIO is end of file
}

// pipeOut is the parent's end of the child's stdin.
type pipeOut struct {
	fd       int
	state    string
	f        filter.Filter
	drv      driver.Driver
	watching bool // registered for writing (only while output is queued)
	failed   bool // a write failed: Put refuses
	pty      bool
	octets   int
}

// NewRun starts the program.
func NewRun(k *poe.Kernel, o RunOptions) (*Run, error) {
	s, err := owner(k)
	if err != nil {
		return nil, err
	}
	if err := notAChild(); err != nil {
		return nil, err
	}
	cmd, err := o.command()
	if err != nil {
		return nil, err
	}
	conduit := o.Conduit
	switch conduit {
	case "":
		conduit = "pipe"
	case "pipe", "socketpair", "pty", "pty-pipe":
	default:
		return nil, fmt.Errorf("wheel: Run: unknown Conduit %q (want pipe, socketpair, pty or pty-pipe)", o.Conduit)
	}
	isPty := strings.HasPrefix(conduit, "pty")
	stderrEvent := o.StderrEvent
	if conduit == "pty" {
		stderrEvent = "" // the child's stderr is the pty, read as stdout
	}
	redirIn, redirOut, redirErr := o.RedirectStdin, o.RedirectStdout, o.RedirectStderr
	if o.RedirectOutput != nil {
		if redirOut != nil || redirErr != nil {
			return nil, errors.New("wheel: Run: RedirectOutput excludes RedirectStdout and RedirectStderr")
		}
		redirOut, redirErr = o.RedirectOutput, o.RedirectOutput
	}
	if redirIn != nil && o.StdinEvent != "" || redirOut != nil && o.StdoutEvent != "" || redirErr != nil && stderrEvent != "" {
		return nil, errors.New("wheel: Run: Redirect* and *Event stdio options are mutually exclusive")
	}
	if isPty && (redirIn != nil || redirOut != nil || redirErr != nil) {
		return nil, errors.New("wheel: Run: redirection with a pty conduit is not supported")
	}
	cred, err := runCredential(o.User, o.Group)
	if err != nil {
		return nil, err
	}

	w := &Run{
		k: k, owner: s, conduit: conduit, master: -1,
		stdin:      pipeOut{fd: -1},
		stdout:     pipeIn{fd: -1, name: "STDOUT"},
		stderr:     pipeIn{fd: -1, name: "STDERR"},
		stdinEvent: o.StdinEvent, stdoutEvent: o.StdoutEvent, stderrEvent: stderrEvent,
		errorEvent: o.ErrorEvent, closeEvent: o.CloseEvent,
	}
	// child are the child's stdin, stdout and stderr; childSide what the
	// parent closes once the child has them, parentSide what it closes if
	// the start fails.
	var child [3]int
	var childSide, parentSide []int
	defer func() {
		for _, fd := range childSide {
			unix.Close(fd)
		}
	}()
	fail := func(err error) (*Run, error) {
		for _, fd := range parentSide {
			unix.Close(fd)
		}
		return nil, err
	}
	open := func(name string, flag int) (int, error) {
		fd, err := unix.Open(name, flag|unix.O_CLOEXEC, 0o666)
		if err != nil {
			return -1, fmt.Errorf("wheel: Run: open %s: %w", name, err)
		}
		childSide = append(childSide, fd)
		return fd, nil
	}
	redirect := func(v any, flag int) (int, error) {
		switch r := v.(type) {
		case string:
			return open(r, flag)
		case *os.File:
			return int(r.Fd()), nil
		case int:
			return r, nil
		}
		return -1, fmt.Errorf("wheel: Run: a Redirect option must be a file name, *os.File or int, not %T", v)
	}
	wantIn := redirIn == nil && !o.NoStdin
	wantOut := redirOut == nil && o.StdoutEvent != ""
	wantErr := redirErr == nil && stderrEvent != ""

	// The conduit for stdin and stdout: the child's end goes to 0 and/or
	// 1, the parent's is stdin's and/or stdout's.
	child[0], child[1], child[2] = -1, -1, -1
	ctty := -1
	if wantIn || wantOut {
		var p, c [2]int // parent's and child's ends for stdin, stdout
		switch conduit {
		case "pipe":
			if wantIn {
				var fds [2]int
				if err := pipeCloexec(fds[:]); err != nil {
					return fail(err)
				}
				c[0], p[0] = fds[0], fds[1]
				childSide, parentSide = append(childSide, fds[0]), append(parentSide, fds[1])
			}
			if wantOut {
				var fds [2]int
				if err := pipeCloexec(fds[:]); err != nil {
					return fail(err)
				}
				p[1], c[1] = fds[0], fds[1]
				childSide, parentSide = append(childSide, fds[1]), append(parentSide, fds[0])
			}
		case "socketpair":
			fds, err := socketpairCloexec(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				return fail(err)
			}
			p, c = [2]int{fds[0], fds[0]}, [2]int{fds[1], fds[1]}
			childSide, parentSide = append(childSide, fds[1]), append(parentSide, fds[0])
		default:
			master, slave, err := openPty(o.PtyMode, o.Winsize)
			if err != nil {
				return fail(err)
			}
			p, c = [2]int{master, master}, [2]int{slave, slave}
			childSide, parentSide = append(childSide, slave), append(parentSide, master)
			w.stdin.pty, w.stdout.pty, w.master = true, true, master
			if conduit == "pty" && wantOut {
				child[2] = slave
			}
			ctty = 1
			if wantIn {
				ctty = 0
			}
		}
		if wantIn {
			child[0], w.stdin.fd = c[0], p[0]
		}
		if wantOut {
			child[1], w.stdout.fd = c[1], p[1]
		}
	}
	if wantErr {
		var fds [2]int
		if err := pipeCloexec(fds[:]); err != nil {
			return fail(err)
		}
		w.stderr.fd, child[2] = fds[0], fds[1]
		childSide, parentSide = append(childSide, fds[1]), append(parentSide, fds[0])
	}
	// Redirections, else /dev/null.
	if child[0] < 0 {
		if redirIn != nil {
			child[0], err = redirect(redirIn, unix.O_RDONLY)
		} else {
			child[0], err = open(os.DevNull, unix.O_RDONLY)
		}
		if err != nil {
			return fail(err)
		}
	}
	outFlags := unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC
	if child[1] < 0 {
		if redirOut != nil {
			child[1], err = redirect(redirOut, outFlags)
		} else {
			child[1], err = open(os.DevNull, unix.O_WRONLY)
		}
		if err != nil {
			return fail(err)
		}
	}
	if child[2] < 0 {
		switch {
		case o.RedirectOutput != nil:
			child[2] = child[1] // 2>&1
		case redirErr != nil:
			child[2], err = redirect(redirErr, outFlags)
		default:
			child[2], err = open(os.DevNull, unix.O_WRONLY)
		}
		if err != nil {
			return fail(err)
		}
	}
	for _, fd := range []int{w.stdin.fd, w.stdout.fd, w.stderr.fd} {
		if fd < 0 {
			continue
		}
		if err := unix.SetNonblock(fd, true); err != nil {
			return fail(err)
		}
	}

	sys := &syscall.SysProcAttr{Credential: cred}
	if ctty >= 0 {
		sys.Setsid, sys.Setctty, sys.Ctty = true, true, ctty
	} else {
		sys.Setpgid = !o.NoSetPgrp
	}
	env := o.Env
	if env == nil {
		env = os.Environ()
	}
	pid, err := startChild(cmd.path, cmd.argv, &syscall.ProcAttr{
		Dir:   o.Dir,
		Env:   cmd.env(env, o.CloseOnCall),
		Files: []uintptr{uintptr(child[0]), uintptr(child[1]), uintptr(child[2])},
		Sys:   sys,
	}, o.Priority)
	runtime.KeepAlive(redirIn) // an *os.File's descriptor was lent
	runtime.KeepAlive(redirOut)
	runtime.KeepAlive(redirErr)
	if err != nil {
		return fail(fmt.Errorf("wheel: Run %q: %w", cmd.name, err))
	}
	w.pid = pid

	// Filters and drivers.
	pick := func(fs ...filter.Filter) filter.Filter {
		for _, f := range fs {
			if f != nil {
				return f
			}
		}
		return newLineLiteral("\n")
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
		// Watched for writing only while output is queued (see Put).
		s.SetState(w.stdin.state, w.onStdin, nil)
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
		if p.pty && err == unix.EIO {
			err = io.EOF // the child's side of the pty is closed
		}
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
	}
	w.release(&p.fd)
	w.owner.SetState(p.state, nil, nil)
	w.openOut--
	if w.openOut == 0 && w.closeEvent != "" {
		w.k.Call(w.owner, w.closeEvent, w.idAny)
	}
}

// release forgets *fd and closes it unless another handle shares it or
// it is a pty's master: closing that hangs up the terminal, and the child
// gets SIGHUP, so only Close does it.
func (w *Run) release(fd *int) {
	n := *fd
	*fd = -1
	if n >= 0 && n != w.stdin.fd && n != w.stdout.fd && n != w.stderr.fd && n != w.master {
		unix.Close(n)
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
		in.failed = true
		w.unwatchStdin()
		n, str := Errno(err)
		if w.errorEvent != "" {
			w.k.Call(w.owner, w.errorEvent, "write", n, str, w.idAny, "STDIN")
		}
		return
	}
	if left == 0 {
		w.unwatchStdin()
		if w.stdinEvent != "" {
			w.k.Call(w.owner, w.stdinEvent, w.idAny)
		}
	}
}

// unwatchStdin stops watching stdin for writing. An idle stdin is not
// left registered and paused: epoll reports hang-ups and errors even with
// an empty interest set, so a child that exits would make the kernel
// spin until the wheel closes.
func (w *Run) unwatchStdin() {
	in := &w.stdin
	if in.watching {
		w.owner.Do(func() { w.k.SelectWrite(in.fd, "") })
		in.watching = false
	}
}

// Put sends records to the child's stdin through the stdin filter. It
// fails once stdin is closed or a write to it failed.
func (w *Run) Put(records ...any) error {
	in := &w.stdin
	if w.closed || in.fd < 0 || in.failed {
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
	in.octets = in.drv.Put(w.outBytes...)
	clear(w.outBytes)
	if in.octets > 0 && !in.watching {
		w.owner.Do(func() { err = w.k.SelectWrite(in.fd, in.state) })
		if err != nil {
			return err
		}
		in.watching = true
	}
	return nil
}

// ShutdownStdin ends the child's stdin; output still buffered is dropped.
// A pipe is closed and a socketpair shut down for writing, so the child
// reads end of file. A pty in a cooked mode gets its end-of-file
// character (^D) instead, which ends the child's read; a raw pty has no
// end of file (POE does nothing there either): stop the child with Kill.
func (w *Run) ShutdownStdin() {
	in := &w.stdin
	if w.closed || in.fd < 0 {
		return
	}
	w.unwatchStdin()
	w.owner.SetState(in.state, nil, nil)
	discard(in.drv)
	in.octets = 0
	switch {
	case w.conduit == "socketpair":
		unix.Shutdown(in.fd, unix.SHUT_WR)
	case in.pty:
		sendEOF(in.fd)
	}
	w.release(&in.fd)
}

// discard drops what d still queues, giving its pooled buffers back.
func discard(d driver.Driver) {
	if dd, ok := d.(driver.Discarder); ok {
		dd.Discard()
	}
}

// ID returns the wheel's ID.
func (w *Run) ID() int { return w.id }

// PID returns the child's process ID.
func (w *Run) PID() int { return w.pid }

// Kill sends sig (default SIGTERM) to the child, as Perl's
// $wheel->kill: os.Interrupt, os.Kill, syscall.SIGHUP, unix.SIGUSR1 ... A
// signal that is not a Unix signal number is EINVAL.
func (w *Run) Kill(sig ...os.Signal) error {
	s := syscall.SIGTERM
	if len(sig) > 0 {
		n, ok := sig[0].(syscall.Signal)
		if !ok {
			return fmt.Errorf("wheel: Run.Kill %v: %w", sig[0], syscall.EINVAL)
		}
		s = n
	}
	return syscall.Kill(w.pid, s)
}

// PauseStdout, ResumeStdout, PauseStderr and ResumeStderr pause and
// resume reading the child's output.
func (w *Run) PauseStdout()  { w.pauseOut(&w.stdout, true) }
func (w *Run) ResumeStdout() { w.pauseOut(&w.stdout, false) }
func (w *Run) PauseStderr()  { w.pauseOut(&w.stderr, true) }
func (w *Run) ResumeStderr() { w.pauseOut(&w.stderr, false) }

// pauseOut unregisters the reader rather than pausing it, for the reason
// given at unwatchStdin: a child exiting while paused would hang up.
func (w *Run) pauseOut(p *pipeIn, pause bool) {
	if w.closed || p.fd < 0 || p.paused == pause {
		return
	}
	p.paused = pause
	w.owner.Do(func() {
		if pause {
			w.k.SelectRead(p.fd, "")
			p.watching = false
		} else if w.k.SelectRead(p.fd, p.state) == nil {
			p.watching = true
		}
	})
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

// Close stops watching the child's stdio and closes the parent's ends;
// output still queued for stdin is dropped. The child is neither killed
// nor reaped (use Kill and k.SigChild), but closing a pty hangs up its
// terminal: a child still running gets SIGHUP, as from a real terminal.
// Idempotent.
func (w *Run) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	k := w.k
	w.owner.Do(func() {
		if w.stdin.watching {
			k.SelectWrite(w.stdin.fd, "")
		}
		for _, p := range []*pipeIn{&w.stdout, &w.stderr} {
			if p.watching {
				k.SelectRead(p.fd, "")
			}
		}
		w.owner.SetState(w.stdin.state, nil, nil)
		w.owner.SetState(w.stdout.state, nil, nil)
		w.owner.SetState(w.stderr.state, nil, nil)
	})
	w.stdin.watching, w.stdout.watching, w.stderr.watching = false, false, false
	if w.stdin.fd >= 0 {
		discard(w.stdin.drv)
	}
	w.release(&w.stdin.fd)
	w.release(&w.stdout.fd)
	w.release(&w.stderr.fd)
	if w.master >= 0 {
		unix.Close(w.master)
		w.master = -1
	}
	w.owner.RemoveCloser(w)
	freeID(w.id)
	return nil
}
