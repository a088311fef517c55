package wheel_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"golang.org/x/sys/unix"
)

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(s)
	f.Close()
}

func TestFollowTailConformance(t *testing.T) {
	t.Run("C79", func(t *testing.T) {
		checkFDs(t)
		var log evlog
		file := filepath.Join(t.TempDir(), "tail.txt")
		os.WriteFile(file, []byte("old1\nold2\npart"), 0o644)
		run(t, 10*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				k, h := e.Kernel, heap(e)
				t1, err := wheel.NewFollowTail(k, wheel.FollowTailOptions{Filename: file, InputEvent: "line", ResetEvent: "reset", ErrorEvent: "err", PollInterval: 100 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				t2, err := wheel.NewFollowTail(k, wheel.FollowTailOptions{Filename: file, InputEvent: "line2", Seek: new(int64(0)), PollInterval: 100 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				h["t"], h["t2"] = t1, t2
				k.Delay("append", 300*time.Millisecond)
				k.Delay("truncate", 600*time.Millisecond)
				k.Delay("done", time.Second)
				return nil
			},
			"append":   func(e *poe.Event) any { appendFile(t, file, "ial\nnew1\n"); log.L("appended"); return nil },
			"truncate": func(e *poe.Event) any { os.WriteFile(file, []byte("fresh\n"), 0o644); log.L("truncated"); return nil },
			"line":     func(e *poe.Event) any { log.L("t1 line '%s'", e.String(0)); return nil },
			"line2":    func(e *poe.Event) any { log.L("t2 line '%s'", e.String(0)); return nil },
			"reset":    func(e *poe.Event) any { log.L("t1 reset"); return nil },
			"err":      func(e *poe.Event) any { log.L("t1 err %v", e.Args); return nil },
			"done": func(e *poe.Event) any {
				heap(e)["t"].(*wheel.FollowTail).Close()
				heap(e)["t2"].(*wheel.FollowTail).Close()
				log.L("done")
				return nil
			},
		})
		// t1 and t2 poll on independent timers: compare each wheel's own
		// sequence and the phases.
		got := log.get()
		var t1, t2 []string
		for _, l := range got {
			switch {
			case len(l) > 2 && l[:2] == "t1":
				t1 = append(t1, l)
			case len(l) > 2 && l[:2] == "t2":
				t2 = append(t2, l)
			}
		}
		(&evlog{lines: t1}).want(t, []string{"t1 line 'partial'", "t1 line 'new1'", "t1 reset", "t1 line 'fresh'"})
		(&evlog{lines: t2}).want(t, []string{"t2 line 'old1'", "t2 line 'old2'", "t2 line 'partial'", "t2 line 'new1'", "t2 line 'fresh'"})
		if indexOf(got, "t2 line 'old2'") > indexOf(got, "appended") ||
			indexOf(got, "t1 line 'new1'") > indexOf(got, "truncated") ||
			indexOf(got, "t1 line 'fresh'") > indexOf(got, "done") {
			t.Errorf("phases out of order: %q", got)
		}
	})

	t.Run("C80", func(t *testing.T) {
		checkFDs(t)
		var log evlog
		dir := t.TempDir()
		file := filepath.Join(dir, "log")
		step := 0
		run(t, 10*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				w, err := wheel.NewFollowTail(e.Kernel, wheel.FollowTailOptions{Filename: file, InputEvent: "in", ResetEvent: "reset", IdleEvent: "idle", PollInterval: 20 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				heap(e)["w"] = w
				return nil
			},
			"in":    func(e *poe.Event) any { log.L("in %s", e.String(0)); return nil },
			"reset": func(e *poe.Event) any { log.L("reset"); return nil },
			"idle": func(e *poe.Event) any {
				// Act on idle polls, logging only the first of each run.
				if n := len(log.get()); n == 0 || log.get()[n-1] != "idle" {
					log.L("idle")
				}
				switch step {
				case 0:
					appendFile(t, file, "a\n")
				case 1:
					appendFile(t, file, "b\n")
					os.Rename(file, file+".1")
					appendFile(t, file, "c\n")
				case 2:
					appendFile(t, file, "d\n")
				default:
					heap(e)["w"].(*wheel.FollowTail).Close()
				}
				step++
				return nil
			},
		})
		log.want(t, []string{"idle", "reset", "in a", "idle", "in b", "reset", "in c", "idle", "in d", "idle"})
	})

	t.Run("C81", func(t *testing.T) {
		checkFDs(t)
		var log evlog
		file := filepath.Join(t.TempDir(), "f")
		os.WriteFile(file, []byte("before!"), 0o644)
		run(t, 10*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				w, err := wheel.NewFollowTail(e.Kernel, wheel.FollowTailOptions{Filename: file, Filter: lineF("!"), InputEvent: "in", PollInterval: 20 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				heap(e)["w"] = w
				appendFile(t, file, "after!")
				e.Kernel.Delay("done", 300*time.Millisecond)
				return nil
			},
			"in":   func(e *poe.Event) any { log.L("in %s", e.String(0)); return nil },
			"done": func(e *poe.Event) any { heap(e)["w"].(*wheel.FollowTail).Close(); return nil },
		})
		log.want(t, []string{"in after"})
	})

	t.Run("C82", func(t *testing.T) {
		checkFDs(t)
		var log evlog
		fifo := filepath.Join(t.TempDir(), "fifo")
		if err := unix.Mkfifo(fifo, 0o600); err != nil {
			t.Skip(err)
		}
		// The writer blocks in open until the wheel opens the reading end.
		wrote := make(chan error, 1)
		go func() {
			f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err == nil {
				_, err = f.WriteString("foo\nbar\n")
				f.Close()
			}
			wrote <- err
		}()
		time.Sleep(50 * time.Millisecond)
		run(t, 10*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				w, err := wheel.NewFollowTail(e.Kernel, wheel.FollowTailOptions{Filename: fifo, InputEvent: "in", IdleEvent: "idle", ErrorEvent: "err"})
				if err != nil {
					t.Fatal(err)
				}
				heap(e)["w"] = w
				return nil
			},
			"in":   func(e *poe.Event) any { log.L("in %s", e.String(0)); return nil },
			"err":  func(e *poe.Event) any { log.L("err %v", e.Args); return nil },
			"idle": func(e *poe.Event) any { log.L("idle (EOF)"); heap(e)["w"].(*wheel.FollowTail).Close(); return nil },
		})
		if err := <-wrote; err != nil {
			t.Fatal(err)
		}
		log.want(t, []string{"in foo", "in bar", "idle (EOF)"})
	})
}

func TestFollowTail(t *testing.T) {
	t.Run("seek back and tell", func(t *testing.T) {
		checkFDs(t)
		var log evlog
		file := filepath.Join(t.TempDir(), "f")
		os.WriteFile(file, []byte("one\ntwo\nthree\n"), 0o644)
		run(t, 5*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				w, err := wheel.NewFollowTail(e.Kernel, wheel.FollowTailOptions{Filename: file, SeekBack: new(int64(6)), InputEvent: "in", IdleEvent: "idle"})
				if err != nil {
					t.Fatal(err)
				}
				log.L("tell %d", w.Tell())
				heap(e)["w"] = w
				return nil
			},
			"in": func(e *poe.Event) any { log.L("in %s", e.String(0)); return nil },
			"idle": func(e *poe.Event) any {
				w := heap(e)["w"].(*wheel.FollowTail)
				log.L("idle tell %d", w.Tell())
				w.Close()
				return nil
			},
		})
		log.want(t, []string{"tell 8", "in three", "idle tell 14"})
	})
}

// TestFollowTailMissing: with ReportMissing a missing file is reported
// once ("open", ENOENT) while the wheel goes on polling, and picked up
// when it appears; without it the wheel waits silently, as POE's does.
func TestFollowTailMissing(t *testing.T) {
	for _, report := range []bool{true, false} {
		t.Run(fmt.Sprint("ReportMissing=", report), func(t *testing.T) {
			checkFDs(t)
			var log evlog
			file := filepath.Join(t.TempDir(), "later.log")
			idles := 0
			run(t, 5*time.Second, map[string]poe.Handler{
				"_start": func(e *poe.Event) any {
					w, err := wheel.NewFollowTail(e.Kernel, wheel.FollowTailOptions{
						Filename: file, ReportMissing: report, PollInterval: 5 * time.Millisecond,
						InputEvent: "in", ErrorEvent: "err", ResetEvent: "reset", IdleEvent: "idle"})
					if err != nil {
						t.Fatal(err)
					}
					heap(e)["w"] = w
					return nil
				},
				"err": func(e *poe.Event) any {
					log.L("error %s %d %s", e.String(0), e.Int(1), e.String(2))
					return nil
				},
				"idle": func(e *poe.Event) any {
					if idles++; idles == 5 {
						log.L("5 polls")
						os.WriteFile(file, []byte("here\n"), 0o644)
					}
					return nil
				},
				"reset": func(e *poe.Event) any { log.L("reset"); return nil },
				"in": func(e *poe.Event) any {
					log.L("in %s", e.String(0))
					heap(e)["w"].(*wheel.FollowTail).Close()
					return nil
				},
			})
			want := []string{"5 polls", "reset", "in here"}
			if report {
				want = append([]string{"error open 2 No such file or directory"}, want...)
			}
			log.want(t, want)
		})
	}
}

// TestFollowTailOpenErrors: a directory, or a file that cannot be opened,
// fails NewFollowTail with an *os.PathError naming it.
func TestFollowTailOpenErrors(t *testing.T) {
	dir := t.TempDir()
	unreadable := filepath.Join(dir, "secret")
	os.WriteFile(unreadable, []byte("x\n"), 0o000)
	cases := []struct {
		name  string
		errno syscall.Errno
	}{{dir, syscall.EISDIR}, {unreadable, syscall.EACCES}, {filepath.Join(unreadable, "x"), syscall.ENOTDIR}}
	for _, c := range cases {
		if c.errno == syscall.EACCES && os.Geteuid() == 0 {
			continue // root opens it anyway
		}
		checkFDs(t)
		run(t, 5*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				w, err := wheel.NewFollowTail(e.Kernel, wheel.FollowTailOptions{Filename: c.name, InputEvent: "in"})
				var pe *os.PathError
				if w != nil || !errors.As(err, &pe) || pe.Path != c.name || pe.Op != "open" || !errors.Is(err, c.errno) {
					t.Errorf("%s: got %v, %v; want open %s: %v", c.name, w, err, c.name, c.errno)
				}
				return nil
			},
		})
	}
}
