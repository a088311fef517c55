package wheel_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"github.com/poe-go/poe/wheel/filter"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// C73 (t/10_units/05_filters/99_filterchange.t): filter changes on live
// ReadWrite wheels among Line, Stream, Reference and Block.

// modeFilter makes the filter of a mode.
func modeFilter(t *testing.T, mode string) filter.Filter {
	switch mode {
	case "line":
		return filter.MustLine(filter.LineOptions{})
	case "stream":
		return filter.NewStream(filter.StreamOptions{})
	case "reference":
		f, err := filter.NewReference(filter.ReferenceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return f
	case "block":
		f, err := filter.NewBlock(filter.BlockOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	t.Fatalf("no mode %q", mode)
	return nil
}

// wrapPayload puts a payload in its mode's envelope: Reference carries a
// scalar reference (\$copy in the Perl test); the others carry the text.
func wrapPayload(mode, s string) any {
	if mode == "reference" {
		return &storable.Ref{Target: storable.Bytes(s)}
	}
	return s
}

// unwrapPayload is the inverse for a record as the mode's filter returns
// it.
func unwrapPayload(t *testing.T, mode string, rec any) string {
	t.Helper()
	if mode == "reference" {
		r, ok := rec.(*storable.Ref)
		if !ok {
			t.Errorf("reference mode: record %T %v is not a scalar reference", rec, rec)
			return fmt.Sprint(rec)
		}
		s, _ := storable.Text(r.Target)
		return s
	}
	switch v := rec.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case *filter.Bytes:
		return v.String()
	}
	t.Errorf("%s mode: record of type %T", mode, rec)
	return fmt.Sprint(rec)
}

func rot13(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		}
		return r
	}, s)
}

// masterScript walks through all 16 transitions (line, stream, reference,
// block, each to each), one rot13 request after each.
var masterScript = []string{
	"do line", "rot13 1 kyriel",
	"do stream", "rot13 2 addi",
	"do stream", "rot13 3 attyz",
	"do line", "rot13 4 crimson",
	"do reference", "rot13 5 crysflame",
	"do reference", "rot13 6 dngor",
	"do line", "rot13 7 freeside",
	"do block", "rot13 8 halfjack",
	"do block", "rot13 9 lenzo",
	"do stream", "rot13 10 mendel",
	"do reference", "rot13 11 purl",
	"do block", "rot13 12 roderick",
	"do reference", "rot13 13 shizukesa",
	"do stream", "rot13 14 simon",
	"do block", "rot13 15 sky",
	"do line", "rot13 16 stimps",
	"done",
}

// streamedScript has no Stream mode: a Stream filter would swallow
// everything after it at once.
var streamedScript = []string{
	"do line", "kyriel",
	"do reference", "coral",
	"do reference", "drforr",
	"do block", "fimmtiu",
	"do block", "sungo",
	"do reference", "dynweb",
	"do line", "sky",
	"do block", "braderuna",
	"do line", "fletch",
	"done",
}

var (
	doRe    = regexp.MustCompile(`^do (.+)$`)
	willRe  = regexp.MustCompile(`^will (.+)$`)
	reqRe   = regexp.MustCompile(`^rot13\s+(\d+)\s+(.+)$`)
	replyRe = regexp.MustCompile(`^rot13\s+(\d+)\s+(.*?)=(.*?)$`)
)

func testC73(t *testing.T) {
	t.Run("lock-step", func(t *testing.T) {
		checkFDs(t)
		fds := socketpair(t)
		var log evlog
		correct := map[string]bool{}
		transitions := map[string]bool{}
		k := poe.NewKernel(nil)

		// Slave: the server. Answers each request in the current mode and
		// switches both filters after answering a "do".
		type side struct {
			w    *wheel.ReadWrite
			mode string
			step int
			shut bool
		}
		slave := &side{mode: "line"}
		_, err := k.Create(poe.Spec{Inline: map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				w, err := wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{
					Handle: fds[1], Filter: modeFilter(t, "line"),
					InputEvent: "got_input", FlushedEvent: "got_flush", ErrorEvent: "got_error",
				})
				if err != nil {
					t.Fatal(err)
				}
				slave.w = w
				return nil
			},
			"got_input": func(e *poe.Event) any {
				in := unwrapPayload(t, slave.mode, e.Args[0])
				w := slave.w
				if m := doRe.FindStringSubmatch(in); m != nil {
					switch m[1] {
					case "line", "stream", "reference", "block":
						w.Put(wrapPayload(slave.mode, "will "+m[1]))
						w.SetFilter(modeFilter(t, m[1]))
						slave.mode = m[1]
					default:
						w.Put(wrapPayload(slave.mode, "wont will "+m[1]))
					}
					return nil
				}
				if m := reqRe.FindStringSubmatch(in); m != nil {
					w.Put(wrapPayload(slave.mode, fmt.Sprintf("rot13 %s %s=%s", m[1], m[2], rot13(m[2]))))
					return nil
				}
				if in == "done" {
					w.Put(wrapPayload(slave.mode, "done"))
					slave.shut = true
					return nil
				}
				log.L("slave: unexpected %q in %s mode", in, slave.mode)
				w.Close()
				return nil
			},
			"got_flush": func(e *poe.Event) any {
				if slave.shut {
					slave.w.Close()
				}
				return nil
			},
			"got_error": func(e *poe.Event) any {
				log.L("slave: %s error %d %s", e.String(0), e.Int(1), e.String(2))
				slave.w.Close()
				return nil
			},
		}})
		if err != nil {
			t.Fatal(err)
		}

		// Master: the client. Sends the script one step at a time and
		// switches its filters when the slave says "will X".
		master := &side{mode: "line"}
		_, err = k.Create(poe.Spec{Inline: map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				w, err := wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{
					Handle: fds[0], Filter: modeFilter(t, "line"),
					InputEvent: "got_input", ErrorEvent: "got_error",
				})
				if err != nil {
					t.Fatal(err)
				}
				master.w = w
				e.Kernel.Yield("do_cmd")
				return nil
			},
			"do_cmd": func(e *poe.Event) any {
				if master.step < len(masterScript) {
					master.w.Put(wrapPayload(master.mode, masterScript[master.step]))
					master.step++
				}
				return nil
			},
			"got_input": func(e *poe.Event) any {
				in := unwrapPayload(t, master.mode, e.Args[0])
				if m := willRe.FindStringSubmatch(in); m != nil {
					transitions[master.mode+" -> "+m[1]] = true
					master.w.SetFilter(modeFilter(t, m[1]))
					master.mode = m[1]
					e.Kernel.Yield("do_cmd")
					return nil
				}
				if m := replyRe.FindStringSubmatch(in); m != nil {
					if rot13(m[2]) == m[3] {
						correct[m[1]] = true
					} else {
						log.L("master: wrong rot13 response %q", in)
					}
					e.Kernel.Yield("do_cmd")
					return nil
				}
				if in == "done" {
					log.L("master: done")
					master.w.Close()
					return nil
				}
				log.L("master: unexpected %q in %s mode", in, master.mode)
				master.w.Close()
				return nil
			},
			"got_error": func(e *poe.Event) any {
				log.L("master: %s error %d %s", e.String(0), e.Int(1), e.String(2))
				master.w.Close()
				return nil
			},
		}})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- k.Run() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("C73 lock-step: timed out")
		}
		log.want(t, []string{"master: done"})
		if len(correct) != 16 {
			t.Errorf("%d correct rot13 responses, want 16: %v", len(correct), correct)
		}
		if len(transitions) != 16 {
			t.Errorf("%d filter transitions, want all 16: %v", len(transitions), transitions)
		}
	})

	t.Run("streamed", func(t *testing.T) {
		// One side writes the whole script at once, switching its output
		// filter after each "do X"; the reader switches its input filter
		// on each "do X" it reads and must still decode every record that
		// the old filter had already buffered (hand-off of pending bytes).
		checkFDs(t)
		r, w := pipe(t)
		var got []string
		var rw *wheel.ReadWrite
		mode := "line"
		run(t, 10*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				var err error
				rw, err = wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{
					InputHandle: r, OutputHandle: w, Filter: modeFilter(t, "line"),
					InputEvent: "got_input", ErrorEvent: "got_error",
				})
				if err != nil {
					t.Fatal(err)
				}
				// Everything is queued before the first flush, so it
				// arrives in one read: each switch hands the rest of that
				// read on to the next filter.
				out := "line"
				for _, step := range streamedScript {
					rw.Put(wrapPayload(out, step))
					if m := doRe.FindStringSubmatch(step); m != nil {
						out = m[1]
						rw.SetOutputFilter(modeFilter(t, out))
					}
				}
				return nil
			},
			"got_input": func(e *poe.Event) any {
				in := unwrapPayload(t, mode, e.Args[0])
				got = append(got, in)
				if m := doRe.FindStringSubmatch(in); m != nil {
					mode = m[1]
					rw.SetInputFilter(modeFilter(t, mode))
					return nil
				}
				if in == "done" {
					rw.Close()
				}
				return nil
			},
			"got_error": func(e *poe.Event) any {
				t.Errorf("error %s %d %s", e.String(0), e.Int(1), e.String(2))
				rw.Close()
				return nil
			},
		})
		(&evlog{lines: got}).want(t, streamedScript)
	})
}
