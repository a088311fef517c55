package wheel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/filter"
	"golang.org/x/sys/unix"
)

// rlInput is one InputEvent: the line, or the exception.
type rlInput struct {
	line      string
	exception string
}

func (i rlInput) String() string {
	if i.exception != "" {
		return "!" + i.exception
	}
	return i.line
}

// rlHarness runs a ReadLine on a pty's slave in a session that types on
// the master through a ReadWrite wheel, the way poe-test-loops'
// wheel_readline.pm does, and collects the InputEvents and the screen
// output.
type rlHarness struct {
	t       *testing.T
	master  int
	slave   int
	rl      *ReadLine
	typist  *ReadWrite
	screen  strings.Builder
	inputs  []rlInput
	options ReadLineOptions
}

func newRLHarness(t *testing.T, o ReadLineOptions) *rlHarness {
	t.Helper()
	master, slave, err := openPty(PtyCooked, &Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { unix.Close(master); unix.Close(slave) })
	o.Input, o.Output, o.InputEvent = slave, slave, "got_input"
	return &rlHarness{t: t, master: master, slave: slave, options: o}
}

// script is what the session does: each step is keys to type or a
// function to call, run one event apart, in order; a step after a Get
// waits until the wheel reads (its InputEvent or the next step).
type step struct {
	keys string
	do   func(h *rlHarness, e *poe.Event)
	// wait, after this step, for this many more InputEvents
	waitInputs int
	// waitScreen, after this step, for the screen to show this
	waitScreen string
	pause      time.Duration
}

func (h *rlHarness) run(steps []step) {
	t := h.t
	k := poe.NewKernel(nil)
	i := 0
	want := 0
	screen := ""
	next := func(e *poe.Event) {
		if len(h.inputs) < want || !strings.Contains(h.screen.String(), screen) {
			e.Kernel.Delay("step", 10*time.Millisecond) // wait for the InputEvent
			return
		}
		if i == len(steps) {
			h.rl.Close()
			h.typist.Close()
			return
		}
		s := steps[i]
		i++
		if s.do != nil {
			s.do(h, e)
		}
		if s.keys != "" {
			h.typist.Put(s.keys)
		}
		want = len(h.inputs) + s.waitInputs
		screen = s.waitScreen
		if s.pause > 0 {
			e.Kernel.Delay("step", s.pause)
		} else {
			e.Kernel.Delay("step", 20*time.Millisecond)
		}
	}
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			var err error
			h.rl, err = NewReadLine(e.Kernel, h.options)
			if err != nil {
				t.Fatal(err)
			}
			h.typist, err = NewReadWrite(e.Kernel, ReadWriteOptions{
				Handle: h.master, NoClose: true, Filter: filter.NewStream(filter.StreamOptions{}),
				InputEvent: "screen", ErrorEvent: "screen_error",
			})
			if err != nil {
				t.Fatal(err)
			}
			e.Kernel.Yield("step")
			return nil
		},
		"step": func(e *poe.Event) any { next(e); return nil },
		"got_input": func(e *poe.Event) any {
			in := rlInput{}
			if e.Arg(poe.ARG0) != nil {
				in.line = e.String(poe.ARG0)
			}
			if e.Arg(poe.ARG1) != nil {
				in.exception = e.String(poe.ARG1)
			}
			if e.Int(poe.ARG2) != h.rl.ID() {
				t.Errorf("InputEvent ARG2 %v, want the wheel ID %d", e.Arg(poe.ARG2), h.rl.ID())
			}
			h.inputs = append(h.inputs, in)
			return nil
		},
		"screen":       func(e *poe.Event) any { h.screen.Write(e.Arg(poe.ARG0).([]byte)); return nil },
		"screen_error": func(e *poe.Event) any { return nil },
	}})
	timer := time.AfterFunc(20*time.Second, func() { t.Error("timed out"); k.Shutdown(t.Context()) })
	defer timer.Stop()
	if err := k.Run(); err != nil {
		t.Fatal(err)
	}
}

func (h *rlHarness) want(want ...string) {
	h.t.Helper()
	var got []string
	for _, in := range h.inputs {
		got = append(got, in.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Errorf("inputs %q, want %q\nscreen %q", got, want, h.screen.String())
	}
}

func get(prompt string) step {
	return step{do: func(h *rlHarness, e *poe.Event) {
		if err := h.rl.Get(prompt); err != nil {
			h.t.Error(err)
		}
	}}
}

// TestReadLineEditing is poe-test-loops' wheel_readline.pm, the cases
// x/term's keys cover: typing, ^H, ^A, ^D as delete-char, ^B, ^F, ^E and
// their failures at the line's ends, then ^K, ^U, ^W and ^T.
func TestReadLineEditing(t *testing.T) {
	cases := []struct {
		name  string
		steps []string
		done  string
	}{
		{"plain typing", []string{"this is a test", "\n"}, "this is a test"},
		{"backspace", []string{"this is a test", "\b\b\b\b", "TEST", "\x01", "\x01", "\x04", "T", "\n"}, "This is a TEST"},
		{"forward/backward", []string{"one three five", "\x01", "\x02", "\x08", "\x06\x06\x06 two", "\x05", "\x05", "\x06", "\x04",
			"\x02\x02\x02\x02", "four \n"}, "one two three four five"},
		{"kill line and word", []string{"one two three", "\x02\x02\x02\x02\x02", "\x0b", "\x17", "2 ", "\x01", "X", "\x05", "end\r"}, "Xone 2 end"},
		{"discard and transpose", []string{"garbage", "\x15", "ab", "\x14", "\n"}, "ba"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newRLHarness(t, ReadLineOptions{})
			steps := []step{get("next step"), get("next step")} // the second only keeps the prompt
			for i, keys := range c.steps {
				s := step{keys: keys}
				if i == len(c.steps)-1 {
					s.waitInputs = 1
				}
				steps = append(steps, s)
			}
			h.run(steps)
			h.want(c.done)
			if !strings.HasPrefix(h.screen.String(), "next step") {
				t.Errorf("screen %q does not start with the prompt", h.screen.String())
			}
		})
	}
}

// TestReadLineExceptions: ^C is "interrupt", ^G "cancel", ^D on an empty
// line "eot" (on a non-empty one it deletes), each echoed as POE does; the
// line typed before is dropped, and the next Get starts afresh.
func TestReadLineExceptions(t *testing.T) {
	h := newRLHarness(t, ReadLineOptions{})
	h.run([]step{
		get("> "), {keys: "abc\x03", waitInputs: 1},
		get("> "), {keys: "def\x07", waitInputs: 1},
		get("> "), {keys: "x\x01\x04\x04", waitInputs: 1},
		get("> "), {keys: "after\n", waitInputs: 1},
	})
	h.want("!interrupt", "!cancel", "!eot", "after")
	for _, echo := range []string{"^C\r\n", "^G\r\n", "^D\r\n"} {
		if !strings.Contains(h.screen.String(), echo) {
			t.Errorf("screen %q lacks %q", h.screen.String(), echo)
		}
	}
}

// TestReadLineHistory: AddHistory feeds the up and down keys (lines entered
// are not added by themselves, as in POE); GetHistory, WriteHistory,
// ReadHistory with a range, HistoryTruncateFile.
func TestReadLineHistory(t *testing.T) {
	h := newRLHarness(t, ReadLineOptions{})
	h.run([]step{
		{do: func(h *rlHarness, e *poe.Event) { h.rl.AddHistory("first", "second") }},
		get("> "), {keys: "\x1b[A\n", waitInputs: 1}, // up: the last added
		get("> "), {keys: "\x1b[A\x1b[A\n", waitInputs: 1},
		get("> "), {keys: "typed\x10\x10\x0e\n", waitInputs: 1}, // ^P ^P ^N
		get("> "), {keys: "\x1b[A\n", waitInputs: 1}, // "typed" was not added
	})
	h.want("second", "first", "second", "second")
	if got := strings.Join(h.rl.GetHistory(), ","); got != "first,second" {
		t.Errorf("GetHistory %q", got)
	}
	file := filepath.Join(t.TempDir(), "history")
	w := &ReadLine{}
	w.AddHistory("a", "b", "c", "d")
	if err := w.WriteHistory(file); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); string(b) != "a\nb\nc\nd\n" {
		t.Errorf("history file %q", b)
	}
	r := &ReadLine{}
	if err := r.ReadHistory(file, 1, 2); err != nil {
		t.Fatal(err)
	}
	r.ReadHistory(file, 3, 0) // to < from: to the end
	if got := strings.Join(r.GetHistory(), ","); got != "b,c,d" {
		t.Errorf("ReadHistory ranges %q", got)
	}
	if err := r.HistoryTruncateFile(file, 2); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); string(b) != "c\nd\n" {
		t.Errorf("truncated file %q", b)
	}
	if err := r.ReadHistory(filepath.Join(t.TempDir(), "none"), 0, -1); err == nil {
		t.Error("ReadHistory of a missing file succeeded")
	}
}

// TestReadLinePutModes: PutImmediate writes over the input line and
// redraws it; PutAfter holds output until the line is entered; PutIdle
// writes at once while nobody types, and holds it for IdleTime after a
// key.
func TestReadLinePutModes(t *testing.T) {
	order := func(h *rlHarness, first, second string) {
		t.Helper()
		s := h.screen.String()
		i, j := strings.Index(s, first), strings.Index(s, second)
		if i < 0 || j < 0 || i > j {
			t.Errorf("screen %q: want %q before %q", s, first, second)
		}
	}
	put := func(s string) step {
		return step{do: func(h *rlHarness, e *poe.Event) { h.rl.Put(s) }}
	}
	t.Run("immediate", func(t *testing.T) {
		h := newRLHarness(t, ReadLineOptions{PutMode: PutImmediate})
		h.run([]step{get("p> "), {keys: "half", waitScreen: "half"}, put("NEWS"), {keys: " done\n", waitInputs: 1}})
		h.want("half done")
		order(h, "p> half", "NEWS\r\n")
		// The prompt and the input are drawn again after the news.
		if s := h.screen.String(); !strings.Contains(s[strings.Index(s, "NEWS"):], "p> half") {
			t.Errorf("screen %q: input not redrawn after Put", s)
		}
	})
	t.Run("after", func(t *testing.T) {
		h := newRLHarness(t, ReadLineOptions{PutMode: PutAfter})
		h.run([]step{get("p> "), {keys: "half", waitScreen: "half"}, put("NEWS"), {keys: " done\n", waitInputs: 1}})
		h.want("half done")
		order(h, "half done", "NEWS")
	})
	t.Run("idle", func(t *testing.T) {
		h := newRLHarness(t, ReadLineOptions{IdleTime: 700 * time.Millisecond})
		screenHas := func(s string, want bool) step {
			return step{do: func(h *rlHarness, e *poe.Event) {
				if strings.Contains(h.screen.String(), s) != want {
					t.Errorf("screen %q: has %q is not %v", h.screen.String(), s, want)
				}
			}}
		}
		h.run([]step{
			get("p> "), put("EARLY"), // nobody typed yet: at once
			{keys: "ty", waitScreen: "ty"}, put("HELD"), // just typed: held
			screenHas("HELD", false),
			{pause: 1200 * time.Millisecond}, // idle: written
			screenHas("HELD", true),
			{keys: "ped\n", waitInputs: 1},
		})
		h.want("typed")
		order(h, "EARLY", "ty")
		order(h, "ty", "HELD")
		order(h, "HELD", "ped")
	})
}

// TestReadLinePromptAndTypeAhead: a Get while reading changes the prompt
// on the fly; keys typed before a Get wait for it; the terminal is back in
// its mode after each line.
func TestReadLinePromptAndTypeAhead(t *testing.T) {
	h := newRLHarness(t, ReadLineOptions{})
	before, err := getTermios(h.slave)
	if err != nil {
		t.Fatal(err)
	}
	var during *unix.Termios
	h.run([]step{
		get("one> "), {keys: "ab", waitScreen: "ab"}, get("two> "),
		{do: func(h *rlHarness, e *poe.Event) { during, _ = getTermios(h.slave) }},
		{keys: "c\n", waitInputs: 1},
		{keys: "early\n", pause: 100 * time.Millisecond}, // typed with no Get: cooked mode echoes it
		{do: func(h *rlHarness, e *poe.Event) { h.rl.Get("three> ") }, waitInputs: 1},
	})
	h.want("abc", "early")
	if !strings.Contains(h.screen.String(), "two> ab") {
		t.Errorf("screen %q: prompt not changed while reading", h.screen.String())
	}
	if during == nil || during.Lflag&unix.ICANON != 0 {
		t.Error("terminal not raw while reading")
	}
	after, _ := getTermios(h.slave)
	if after.Lflag != before.Lflag || after.Iflag != before.Iflag {
		t.Errorf("terminal mode not restored: lflag %#x, was %#x", after.Lflag, before.Lflag)
	}
}

// TestReadLineOptions: InputEvent is required, PutMode checked, and the
// wheel needs a session.
func TestReadLineOptions(t *testing.T) {
	k := poe.NewKernel(nil)
	if _, err := NewReadLine(k, ReadLineOptions{InputEvent: "x"}); err == nil {
		t.Error("NewReadLine outside a session succeeded")
	}
	k.Create(poe.Spec{Inline: map[string]poe.Handler{"_start": func(e *poe.Event) any {
		if _, err := NewReadLine(e.Kernel, ReadLineOptions{}); err == nil {
			t.Error("no InputEvent accepted")
		}
		if _, err := NewReadLine(e.Kernel, ReadLineOptions{InputEvent: "x", PutMode: "later"}); err == nil {
			t.Error("bad PutMode accepted")
		}
		w, err := NewReadLine(e.Kernel, ReadLineOptions{InputEvent: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if c, r := w.TerminalSize(); c != 80 || r != 25 {
			t.Errorf("TerminalSize before Get %dx%d, want POE's 80x25", c, r)
		}
		w.Close()
		w.Close()
		return nil
	}}})
	k.Run()
}
