package wheel

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/poe-go/poe/poe"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// The exceptions of ReadLine's InputEvent (ARG1), POE's.
const (
	// ExceptionInterrupt: the user pressed ^C.
	ExceptionInterrupt = "interrupt"
	// ExceptionEOT: ^D on an empty line, or the end of the input.
	ExceptionEOT = "eot"
	// ExceptionCancel: the user pressed ^G (readline's abort).
	ExceptionCancel = "cancel"
)

// PutMode values of ReadLineOptions.
const (
	PutImmediate = "immediate"
	PutIdle      = "idle"
	PutAfter     = "after"
)

// ReadLineOptions are POE::Wheel::ReadLine's parameters.
type ReadLineOptions struct {
	// InputEvent(line, exception, wheelID) for each line entered after
	// Get: line is a string and exception nil, or line is nil and
	// exception one of ExceptionInterrupt, ExceptionEOT, ExceptionCancel.
	// Required.
	InputEvent string
	// PutMode says when Put writes while the user is typing: PutImmediate
	// at once (the prompt and input are redrawn below), PutAfter once the
	// line is entered, PutIdle (the default) once the keyboard has been
	// idle for IdleTime.
	PutMode string
	// IdleTime for PutIdle; default 2 seconds.
	IdleTime time.Duration
	// AppName is accepted for POE's sake; there is no inputrc to read.
	AppName string
	// Input and Output are the terminal (an fd or anything with
	// SyscallConn); default standard input and output. The wheel does not
	// close them.
	Input, Output any
}

// ReadLine is POE::Wheel::ReadLine: line input with editing and history on
// a terminal, without blocking the kernel, by golang.org/x/term's Terminal.
// Its keys are x/term's, emacs-like: ^A ^E ^B ^F and the arrows move, ^H
// and DEL erase back, ^D erases forward (and on an empty line is the eot
// exception), ^K and ^U kill to the end and to the start, ^W erases a word,
// ^T transposes, ^L redraws, ^P ^N and the arrows walk the history; ^C is
// the interrupt exception and ^G cancel. POE's readline keymaps, vi mode,
// the kill ring and the inputrc are not there.
//
// Differences from POE 1.370: a line's InputEvent is (line, nil, wheelID)
// as POE documents, where POE 1.370 sends (line, wheelID); input typed
// between lines is kept for the next Get instead of being thrown away; the
// terminal is restored after every line and exception (POE leaves it raw
// after an exception); the end of the input is an eot exception.
type ReadLine struct {
	k     *poe.Kernel
	owner *poe.Session
	id    int
	idAny any

	in, out    handle
	inputEvent string
	putMode    string
	idleTime   time.Duration
	stateRead  string
	stateIdle  string

	term    *term.Terminal
	conn    rlConn
	hist    rlHistory
	prompt  string
	input   []byte // read from the terminal, not yet given to term
	buf     [4096]byte
	reading bool
	watch   bool
	timer   bool
	pending []string // Put lines held back
	raw     *term.State
	cols    int
	rows    int
	closed  bool
}

// errWouldBlock tells term.Terminal's ReadLine that the input fed so far
// is used up; it returns with its line state intact.
var errWouldBlock = errors.New("wheel: readline input used up")

// rlConn is the terminal's side of the wheel: reads come from what the
// wheel fed, writes go to the output.
type rlConn struct {
	feed []byte
	w    *ReadLine
}

func (c *rlConn) Read(p []byte) (int, error) {
	if len(c.feed) == 0 {
		return 0, errWouldBlock
	}
	n := copy(p, c.feed)
	c.feed = c.feed[n:]
	return n, nil
}

func (c *rlConn) Write(p []byte) (int, error) { return len(p), c.w.write(p) }

// rlHistory is the wheel's history as term.Terminal sees it: lines are
// added by AddHistory only, as in POE, not by every line entered.
type rlHistory struct{ lines []string }

func (h *rlHistory) Add(string)      {}
func (h *rlHistory) Len() int        { return len(h.lines) }
func (h *rlHistory) At(i int) string { return h.lines[len(h.lines)-1-i] }

// NewReadLine creates the wheel; Get starts reading a line.
func NewReadLine(k *poe.Kernel, o ReadLineOptions) (*ReadLine, error) {
	s, err := owner(k)
	if err != nil {
		return nil, err
	}
	if o.InputEvent == "" {
		return nil, errors.New("wheel: ReadLine needs an InputEvent")
	}
	switch o.PutMode {
	case "":
		o.PutMode = PutIdle
	case PutImmediate, PutIdle, PutAfter:
	default:
		return nil, fmt.Errorf("wheel: ReadLine PutMode must be %q, %q or %q, not %q", PutImmediate, PutIdle, PutAfter, o.PutMode)
	}
	if o.IdleTime <= 0 {
		o.IdleTime = 2 * time.Second
	}
	if o.Input == nil {
		o.Input = 0
	}
	if o.Output == nil {
		o.Output = 1
	}
	in, err := toHandle(o.Input)
	if err != nil {
		return nil, fmt.Errorf("wheel: ReadLine Input: %w", err)
	}
	out, err := toHandle(o.Output)
	if err != nil {
		return nil, fmt.Errorf("wheel: ReadLine Output: %w", err)
	}
	w := &ReadLine{
		k: k, owner: s, id: allocID(), in: in, out: out,
		inputEvent: o.InputEvent, putMode: o.PutMode, idleTime: o.IdleTime,
		prompt: ">", cols: 80, rows: 25,
	}
	w.idAny = w.id
	w.conn.w = w
	w.stateRead = stateName("ReadLine", w.id, "select read")
	w.stateIdle = stateName("ReadLine", w.id, "input timeout")
	s.SetState(w.stateRead, w.onRead, nil)
	s.SetState(w.stateIdle, w.onIdle, nil)
	s.AddCloser(w)
	w.newTerm()
	return w, nil
}

func (w *ReadLine) newTerm() {
	w.term = term.NewTerminal(&w.conn, w.prompt)
	w.term.History = &w.hist
	w.term.SetSize(w.cols, w.rows)
}

// ID returns the wheel's ID.
func (w *ReadLine) ID() int { return w.id }

// Event renames the InputEvent: Event("InputEvent", "x").
func (w *ReadLine) Event(pairs ...string) error {
	if len(pairs)%2 != 0 {
		return errors.New("wheel: Event needs name/value pairs")
	}
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i] != "InputEvent" {
			return fmt.Errorf("wheel: ReadLine has no event %q", pairs[i])
		}
		if pairs[i+1] == "" {
			return errors.New("wheel: ReadLine needs an InputEvent")
		}
		w.inputEvent = pairs[i+1]
	}
	return nil
}

// Get shows the prompt (the current one without an argument) and reads a
// line: the next line or exception is one InputEvent, after which the
// wheel waits for the next Get. A Get while a line is being read only
// changes the prompt. It fails when the input cannot be watched.
func (w *ReadLine) Get(prompt ...string) error {
	if w.closed {
		return errors.New("wheel: ReadLine is closed")
	}
	if len(prompt) > 0 {
		if w.reading && prompt[0] != w.prompt {
			w.prompt = prompt[0]
			w.term.SetPrompt(w.prompt)
			w.term.Write(nil) // redraws the prompt and the input
		}
		w.prompt = prompt[0]
	}
	if w.reading {
		return nil
	}
	if c, r, err := term.GetSize(w.out.fd); err == nil && c > 0 && r > 0 {
		w.cols, w.rows = c, r
	} else {
		w.cols, w.rows = 80, 25
	}
	w.term.SetSize(w.cols, w.rows)
	w.term.SetPrompt(w.prompt)
	if term.IsTerminal(w.in.fd) {
		st, err := term.MakeRaw(w.in.fd)
		if err != nil {
			return fmt.Errorf("wheel: ReadLine: %w", err)
		}
		w.raw = st
	}
	if !w.watch {
		var err error
		w.owner.Do(func() { err = w.k.SelectRead(w.in.fd, w.stateRead) })
		if err != nil {
			w.restore()
			return fmt.Errorf("wheel: ReadLine: %w", err)
		}
		w.watch = true
	}
	w.reading = true
	w.pump()
	return nil
}

// Put writes lines to the terminal, each ended by CR LF, when PutMode
// allows; while a line is being read its prompt and input are redrawn below
// them.
func (w *ReadLine) Put(lines ...string) {
	if w.closed {
		return
	}
	if w.putMode == PutImmediate || !w.reading || (w.putMode == PutIdle && !w.timer) {
		w.flushPending()
		w.writeLines(lines)
		return
	}
	w.pending = append(w.pending, lines...)
	if w.putMode == PutIdle && !w.timer {
		w.setIdleTimer()
	}
}

func (w *ReadLine) writeLines(lines []string) {
	if len(lines) == 0 {
		return
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\n") // term writes CR LF
	}
	w.term.Write([]byte(b.String()))
}

func (w *ReadLine) flushPending() {
	if len(w.pending) > 0 {
		p := w.pending
		w.pending = nil
		w.writeLines(p)
	}
}

// Clear clears the screen (and redraws the prompt and input while a line
// is being read).
func (w *ReadLine) Clear() {
	if w.closed {
		return
	}
	if w.reading {
		w.feed([]byte{12}) // ^L: term clears and redraws
		return
	}
	w.write([]byte("\x1b[H\x1b[2J"))
}

// TerminalSize returns the terminal's columns and rows as of the last Get
// (80 by 25 when it has none).
func (w *ReadLine) TerminalSize() (cols, rows int) { return w.cols, w.rows }

// AddHistory adds lines to the history that the up and down keys walk
// (POE's add_history, addhistory): the program decides what goes there.
func (w *ReadLine) AddHistory(lines ...string) {
	w.hist.lines = append(w.hist.lines, lines...)
}

// GetHistory returns the history, oldest first.
func (w *ReadLine) GetHistory() []string { return append([]string(nil), w.hist.lines...) }

// historyFile is POE's default, ~/.history, when file is "".
func historyFile(file string) (string, error) {
	if file != "" {
		return file, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".history"), nil
}

// WriteHistory writes the history to file (default ~/.history), a line per
// entry.
func (w *ReadLine) WriteHistory(file string) error {
	file, err := historyFile(file)
	if err != nil {
		return err
	}
	return os.WriteFile(file, []byte(strings.Join(w.hist.lines, "\n")+"\n"), 0o600)
}

// ReadHistory adds the lines of file (default ~/.history) numbered from to
// to (from 0; to < from means to the end) to the history.
func (w *ReadLine) ReadHistory(file string, from, to int) error {
	file, err := historyFile(file)
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 0; sc.Scan(); n++ {
		if n >= from && (to < from || n <= to) {
			w.hist.lines = append(w.hist.lines, sc.Text())
		}
	}
	return sc.Err()
}

// HistoryTruncateFile keeps the last lines lines of file (default
// ~/.history); 0 empties it.
func (w *ReadLine) HistoryTruncateFile(file string, lines int) error {
	file, err := historyFile(file)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	all := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(b) == 0 {
		all = nil
	}
	if lines < len(all) {
		all = all[len(all)-max(lines, 0):]
	}
	out := ""
	if len(all) > 0 {
		out = strings.Join(all, "\n") + "\n"
	}
	return os.WriteFile(file, []byte(out), 0o600)
}

// Close stops reading and restores the terminal; the handles stay open.
// Idempotent.
func (w *ReadLine) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.restore()
	if w.owner.Alive() {
		w.owner.Do(func() {
			if w.watch {
				w.k.SelectRead(w.in.fd, "")
			}
			if w.timer {
				w.k.Alarm(w.stateIdle, time.Time{})
			}
		})
		w.owner.SetState(w.stateRead, nil, nil)
		w.owner.SetState(w.stateIdle, nil, nil)
		w.owner.RemoveCloser(w)
	}
	w.watch, w.timer, w.reading = false, false, false
	freeID(w.id)
	return nil
}

func (w *ReadLine) restore() {
	if w.raw != nil {
		term.Restore(w.in.fd, w.raw)
		w.raw = nil
	}
}

// onRead is "... -> select read": the terminal has input.
func (w *ReadLine) onRead(e *poe.Event) any {
	if w.closed {
		return nil
	}
	n, err := unix.Read(w.in.fd, w.buf[:])
	if err == unix.EAGAIN || err == unix.EINTR {
		return nil
	}
	if n <= 0 {
		// End of the input (or a hung-up terminal): nothing more comes.
		w.owner.Do(func() { w.k.SelectRead(w.in.fd, "") })
		w.watch = false
		if w.reading {
			w.write([]byte("\r\n"))
			w.newTerm()
			w.endRead()
			w.deliver(nil, ExceptionEOT)
		}
		return nil
	}
	w.input = append(w.input, w.buf[:n]...)
	if w.reading && w.putMode == PutIdle {
		w.setIdleTimer()
	}
	w.pump()
	return nil
}

func (w *ReadLine) setIdleTimer() {
	w.owner.Do(func() { w.k.Delay(w.stateIdle, w.idleTime) })
	w.timer = true
}

// onIdle is "... -> input timeout": the keyboard has been idle.
func (w *ReadLine) onIdle(e *poe.Event) any {
	w.timer = false
	w.flushPending()
	return nil
}

// pump gives the buffered input to the terminal while a line is read. The
// keys the wheel handles itself (^C, ^G, and ^D, which term reports only
// as io.EOF) are cut out and given one at a time.
func (w *ReadLine) pump() {
	for w.reading {
		if len(w.input) == 0 {
			w.feed(nil) // draws the prompt when nothing is shown yet
			return
		}
		switch c := w.input[0]; c {
		case 3, 7:
			w.input = w.input[1:]
			if c == 3 {
				w.exception("^C", ExceptionInterrupt)
			} else {
				w.exception("^G", ExceptionCancel)
			}
			continue
		case 4:
			w.input = w.input[1:]
			if w.feed([]byte{4}) == io.EOF {
				w.exception("^D", ExceptionEOT)
			}
			continue
		}
		n := len(w.input)
		for i, c := range w.input {
			if c == 3 || c == 4 || c == 7 {
				n = i
				break
			}
		}
		chunk := w.input[:n]
		w.input = w.input[n:]
		if w.feed(chunk) == io.EOF {
			// term gave up on the line (it should not without ^C or
			// ^D): a fresh one takes the rest of the input.
			w.newTerm()
		}
	}
}

// feed runs the terminal over p; a completed line ends the read (what was
// not consumed goes back to the front of the input). It returns io.EOF when
// the terminal saw ^D on an empty line.
func (w *ReadLine) feed(p []byte) error {
	w.conn.feed = p
	line, err := w.term.ReadLine()
	if err == errWouldBlock {
		return nil
	}
	if left := w.conn.feed; len(left) > 0 {
		w.input = append(append([]byte(nil), left...), w.input...)
	}
	w.conn.feed = nil
	if err == io.EOF {
		return err
	}
	if err != nil && err != term.ErrPasteIndicator {
		return err
	}
	w.endRead()
	w.deliver(line, "")
	return nil
}

// exception ends the read with an exception, echoing its key as POE does.
func (w *ReadLine) exception(key, name string) {
	w.write([]byte(key + "\r\n"))
	// The terminal still holds the abandoned line: start afresh.
	w.newTerm()
	w.endRead()
	w.deliver(nil, name)
}

func (w *ReadLine) endRead() {
	w.reading = false
	if w.watch {
		w.owner.Do(func() { w.k.SelectRead(w.in.fd, "") })
		w.watch = false
	}
	if w.timer {
		w.owner.Do(func() { w.k.Alarm(w.stateIdle, time.Time{}) })
		w.timer = false
	}
	w.restore()
	w.flushPending()
}

// deliver posts InputEvent from the owner, as POE yields it.
func (w *ReadLine) deliver(line any, exception string) {
	var ex any
	if exception != "" {
		ex = exception
	}
	ev := w.inputEvent
	w.owner.Do(func() { w.k.Yield(ev, line, ex, w.idAny) })
}

// write writes p to the output, waiting while it is full (a terminal the
// program shares may be non-blocking).
func (w *ReadLine) write(p []byte) error {
	for len(p) > 0 {
		n, err := unix.Write(w.out.fd, p)
		if n > 0 {
			p = p[n:]
		}
		switch err {
		case nil, unix.EINTR:
		case unix.EAGAIN:
			pfd := []unix.PollFd{{Fd: int32(w.out.fd), Events: unix.POLLOUT}}
			if _, err := unix.Poll(pfd, 1000); err != nil && err != unix.EINTR {
				return err
			}
		default:
			return err
		}
	}
	return nil
}
