package wheel_test

import (
	"regexp"
	"testing"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
)

// ptyName matches a pty slave's name: /dev/pts/N (Linux, FreeBSD, NetBSD),
// /dev/ttysNNN (macOS), /dev/ttypN (OpenBSD).
var ptyName = regexp.MustCompile(`^/dev/(pts/\d+|ttys\d+|tty[p-zP-T][0-9a-zA-Z])$`)

func TestRunPty(t *testing.T) {
	t.Run("tty and stty size", func(t *testing.T) {
		checkFDs(t)
		r := runChild(t, wheel.RunOptions{
			Program: `tty; stty size`, Conduit: "pty", Winsize: &wheel.Winsize{Rows: 25, Cols: 80}, StdoutEvent: "out",
		}, nil)
		if len(r.out) != 2 || !ptyName.MatchString(r.out[0]) || r.out[1] != "25 80" {
			t.Errorf("stdout %q", r.out)
		}
		// The child's exit closes the pty's slave side: the master reads
		// EIO, which is end of file.
		eq(t, "errors", r.errors, []string{"read 0 STDOUT"})
		eq(t, "closed", r.closed, true)
	})
	t.Run("Func pty", func(t *testing.T) {
		checkFDs(t)
		// stderr is the pty too: its line comes as stdout.
		r := runChild(t, wheel.RunOptions{
			Program: wheel.Func("ttyinfo"), Conduit: "pty", Winsize: &wheel.Winsize{Rows: 30, Cols: 100},
			StdoutEvent: "out", StderrEvent: "err",
		}, nil)
		eq(t, "stdout", r.out, []string{"isatty 0:true 1:true 2:true", "winsize 30x100 900x480", "ctty true", "session leader true", "to stderr"})
		eq(t, "stderr", r.err, []string(nil))
		eq(t, "status", r.status, 0)
	})
	t.Run("Func pty-pipe", func(t *testing.T) {
		checkFDs(t)
		r := runChild(t, wheel.RunOptions{
			Program: wheel.Func("ttyinfo"), Conduit: "pty-pipe", Winsize: &wheel.Winsize{Rows: 24, Cols: 132, XPixel: 1, YPixel: 2},
			StdoutEvent: "out", StderrEvent: "err",
		}, nil)
		eq(t, "stdout", r.out, []string{"isatty 0:true 1:true 2:false", "winsize 24x132 1x2", "ctty true", "session leader true"})
		eq(t, "stderr", r.err, []string{"to stderr"})
		eq(t, "closed", r.closed, true)
	})
	t.Run("NoStdin", func(t *testing.T) {
		checkFDs(t)
		// The pty is stdout only, and still the controlling terminal.
		r := runChild(t, wheel.RunOptions{Program: wheel.Func("ttyinfo"), Conduit: "pty-pipe", NoStdin: true, StdoutEvent: "out"}, nil)
		if len(r.out) < 1 || r.out[0] != "isatty 0:false 1:true 2:false" || r.out[len(r.out)-2] != "ctty true" {
			t.Errorf("stdout %q", r.out)
		}
	})
	// What each mode does with a line put to a shell that reads it and
	// echoes it back.
	for _, c := range []struct {
		name string
		mode wheel.PtyMode
		want []string
	}{
		{"raw", wheel.PtyRaw, []string{"got:hello"}},                       // POE's: as is
		{"cooked", wheel.PtyCooked, []string{"hello\r", "got:hello\r"}},    // echoed, "\n" written "\r\n"
		{"cooked no echo", wheel.PtyCookedNoEcho, []string{"got:hello\r"}}, //
	} {
		t.Run(c.name, func(t *testing.T) {
			checkFDs(t)
			r := runChild(t, wheel.RunOptions{
				Program: `read l; echo "got:$l"`, Conduit: "pty", PtyMode: c.mode, StdoutEvent: "out",
			}, func(e *poe.Event, w *wheel.Run) { w.Put("hello") })
			eq(t, "stdout", r.out, c.want)
		})
	}
	t.Run("ShutdownStdin cooked", func(t *testing.T) {
		checkFDs(t)
		// ^D at the start of a line ends cat's input.
		r := runChild(t, wheel.RunOptions{
			Program: `cat; echo done`, Conduit: "pty", PtyMode: wheel.PtyCookedNoEcho, StdoutEvent: "out", StdinEvent: "flushed",
		}, func(e *poe.Event, w *wheel.Run) {
			w.Put("a")
			e.Session.SetState("flushed", func(e *poe.Event) any { w.ShutdownStdin(); return nil }, nil)
		})
		eq(t, "stdout", r.out, []string{"a\r", "done\r"})
		eq(t, "status", r.status, 0)
	})
	t.Run("ShutdownStdin stdin only", func(t *testing.T) {
		checkFDs(t)
		// Without StdoutEvent the pty is stdin only; shutting it down
		// must not close the master, which would hang up the terminal
		// (SIGHUP) instead of ending cat's input.
		r := runChild(t, wheel.RunOptions{
			Program: `cat; exit 3`, Conduit: "pty", PtyMode: wheel.PtyCooked, StdinEvent: "flushed",
		}, func(e *poe.Event, w *wheel.Run) {
			w.Put("a")
			e.Session.SetState("flushed", func(e *poe.Event) any { w.ShutdownStdin(); return nil }, nil)
		})
		eq(t, "status", r.status, 3<<8)
	})
	t.Run("Kill", func(t *testing.T) {
		checkFDs(t)
		// A raw pty has no end of file: the owner kills the child.
		r := runChild(t, wheel.RunOptions{Program: `echo started; exec cat`, Conduit: "pty", StdoutEvent: "out"},
			func(e *poe.Event, w *wheel.Run) {
				e.Session.SetState("out", func(e *poe.Event) any { w.Kill(); return nil }, nil)
			})
		eq(t, "status", r.status, 15)
		eq(t, "closed", r.closed, true)
	})
}
