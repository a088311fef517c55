package wheel

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Winsize is a pty's window size, POE's Winsize => [rows, cols, xpixel,
// ypixel]. Zero pixel sizes are computed from a 9x16 cell, as POE does
// for a two-element Winsize.
type Winsize struct {
	Rows, Cols     uint16
	XPixel, YPixel uint16
}

// PtyMode is the line discipline of a pty conduit's terminal.
type PtyMode int

const (
	// PtyRaw is POE's mode (IO::Tty's set_raw): no echo, no line editing,
	// no signal characters, output written as is ("\n" stays "\n").
	PtyRaw PtyMode = iota
	// PtyCooked is a terminal's default: input edited and echoed line by
	// line, ^C sends SIGINT, ^D ends input, output "\n" becomes "\r\n".
	PtyCooked
	// PtyCookedNoEcho is PtyCooked without echo, as for a password prompt.
	PtyCookedNoEcho
)

// ErrPtyUnsupported is returned by a Run with a pty conduit on a system
// whose pseudo-terminals this package cannot open (any but Linux, macOS,
// FreeBSD, NetBSD and OpenBSD).
var ErrPtyUnsupported = errors.New("wheel: Run: pseudo-terminals are not supported on this system")

// openPty opens a pseudo-terminal pair (the system's posix_openpt,
// grantpt, unlockpt and ptsname: see openPtyPair) and sets the slave's
// mode and window size. Neither end becomes this process's controlling
// terminal. Both ends are close-on-exec.
func openPty(mode PtyMode, ws *Winsize) (master, slave int, err error) {
	master, slave, err = openPtyPair()
	if err != nil {
		if errors.Is(err, ErrPtyUnsupported) {
			return -1, -1, err
		}
		return -1, -1, fmt.Errorf("wheel: Run: pty: %w", err)
	}
	fail := func(what string, err error) (int, int, error) {
		unix.Close(master)
		unix.Close(slave)
		return -1, -1, fmt.Errorf("wheel: Run: pty: %s: %w", what, err)
	}
	t, err := getTermios(slave)
	if err != nil {
		return fail("tcgetattr", err)
	}
	switch mode {
	case PtyRaw:
		// What IO::Tty's set_raw does (POE calls it in every pty child).
		t.Iflag, t.Oflag, t.Lflag = 0, 0, 0
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	case PtyCooked:
	case PtyCookedNoEcho:
		t.Lflag &^= unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHONL
	default:
		return fail("mode", fmt.Errorf("unknown PtyMode %d", mode))
	}
	if err := setTermios(slave, t); err != nil {
		return fail("tcsetattr", err)
	}
	var w *unix.Winsize
	if ws != nil {
		w = &unix.Winsize{Row: ws.Rows, Col: ws.Cols, Xpixel: ws.XPixel, Ypixel: ws.YPixel}
		if w.Xpixel == 0 && w.Ypixel == 0 {
			w.Xpixel, w.Ypixel = ws.Cols*9, ws.Rows*16
		}
	} else if pw, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ); err == nil {
		w = pw // this process's terminal's, as POE documents
	}
	if w != nil {
		if err := unix.IoctlSetWinsize(slave, unix.TIOCSWINSZ, w); err != nil {
			return fail("window size", err)
		}
	}
	return master, slave, nil
}

// sendEOF writes the terminal's end-of-file character when the pty is in
// canonical (cooked) mode, where it ends the reader's read with 0 bytes
// at the start of a line. The mode is read now: the child may have
// changed it.
func sendEOF(master int) {
	t, err := getTermios(master)
	if err != nil || t.Lflag&unix.ICANON == 0 {
		return
	}
	unix.Write(master, []byte{t.Cc[unix.VEOF]})
}
