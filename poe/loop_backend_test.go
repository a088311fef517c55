package poe

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/loop"
	"golang.org/x/sys/unix"
)

// An unknown POE_LOOP fails at kernel start: Run returns the reason,
// naming the variable, its value and this system's choices.
func TestUnknownPOELoopFailsAtRun(t *testing.T) {
	t.Setenv("POE_LOOP", "nonesuch")
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sp[0])
	defer unix.Close(sp[1])
	k := NewKernel(nil)
	ran := false
	var selErr error
	_, err = k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			selErr = e.Kernel.SelectRead(sp[0], "never")
			e.Kernel.Yield("next")
			return nil
		},
		"next": func(e *Event) any {
			ran = true
			e.Kernel.SelectRead(sp[0], "") // let a kernel that has a reactor end
			return nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	err = k.Run()
	if !errors.Is(err, loop.ErrUnknownBackend) {
		t.Fatalf("Run = %v, want loop.ErrUnknownBackend", err)
	}
	for _, part := range append([]string{"poe: cannot create the reactor", "POE_LOOP", `"nonesuch"`}, loop.Backends()...) {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("Run's error %q does not name %q", err, part)
		}
	}
	if ran {
		t.Error("an event was dispatched without a reactor")
	}
	// A watch asked for before Run gets the same reason.
	if !errors.Is(selErr, loop.ErrUnknownBackend) {
		t.Errorf("SelectRead before Run = %v", selErr)
	}
}

// The kernel runs on every backend: a pipe, a regular file (always ready)
// and a post from another goroutine (the poller's Wake).
func TestKernelOnEveryBackend(t *testing.T) {
	for _, name := range loop.Backends() {
		t.Run(name, func(t *testing.T) {
			p, err := loop.NewBackend(name)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			var fds [2]int
			if err := unix.Pipe(fds[:]); err != nil { // pipe2 is not everywhere
				t.Fatal(err)
			}
			defer unix.Close(fds[0])
			defer unix.Close(fds[1])
			unix.SetNonblock(fds[0], true)
			file, err := os.CreateTemp(t.TempDir(), "regular")
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()

			k := NewKernel(&Options{Poller: p})
			got := map[string]int{}
			_, err = k.Create(Spec{Inline: map[string]Handler{
				"_start": func(e *Event) any {
					e.Kernel.AliasSet("main")
					if err := e.Kernel.SelectRead(fds[0], "pipe"); err != nil {
						t.Error(err)
					}
					if err := e.Kernel.SelectRead(file, "file"); err != nil {
						t.Error(err)
					}
					e.Kernel.Delay("give_up", 5*time.Second)
					e.Kernel.RefcountIncrement(e.Session.ID(), "goroutine")
					go func() {
						time.Sleep(10 * time.Millisecond)
						k.PostFromGoroutine("main", "posted")
					}()
					return nil
				},
				"file": func(e *Event) any {
					got["file"]++
					e.Kernel.SelectRead(file, "")
					return nil
				},
				"posted": func(e *Event) any {
					got["posted"]++
					e.Kernel.RefcountDecrement(e.Session.ID(), "goroutine")
					unix.Write(fds[1], []byte("x"))
					return nil
				},
				"pipe": func(e *Event) any {
					got["pipe"]++
					e.Kernel.SelectRead(fds[0], "")
					e.Kernel.AlarmRemoveAll()
					return nil
				},
				"give_up": func(e *Event) any { t.Error("timed out"); e.Kernel.Stop(); return nil },
			}})
			if err != nil {
				t.Fatal(err)
			}
			if err := k.Run(); err != nil {
				t.Fatal(err)
			}
			for _, ev := range []string{"file", "posted", "pipe"} {
				if got[ev] != 1 {
					t.Errorf("%s: %d times, want 1 (%v)", ev, got[ev], got)
				}
			}
		})
	}
}
