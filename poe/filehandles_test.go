package poe

import (
	"bytes"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Watchers work on any pollable fd: an eventfd (a pipe outside Linux), a
// socketpair, a net.Conn (through SyscallConn), and a regular file, which
// epoll refuses and the kernel treats as always ready, as select() does.
func TestSelectOnFdKinds(t *testing.T) {
	efd, efdW, efdKind := counterFd(t)
	sp := nbSocketpair(t)
	defer unix.Close(sp[0])
	defer unix.Close(sp[1])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	f, err := os.CreateTemp(t.TempDir(), "regular")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	got := map[string]int{}
	k := NewKernel(nil)
	_, err = k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			must := func(err error) {
				if err != nil {
					t.Error(err)
				}
			}
			must(k.SelectRead(efd, "ready", efdKind))
			must(k.SelectRead(sp[1], "ready", "socketpair"))
			must(k.SelectRead(server, "ready", "net.Conn"))
			must(k.SelectRead(f, "ready", "file"))
			must(k.SelectWrite(sp[0], "writable", "socketpair"))
			unix.Write(efdW, []byte{1, 0, 0, 0, 0, 0, 0, 0})
			unix.Write(sp[0], []byte("x"))
			client.Write([]byte("y"))
			return nil
		},
		"ready": func(e *Event) any {
			if e.Int(ARG1) != ModeRead {
				t.Errorf("mode %v", e.Arg(ARG1))
			}
			got[e.String(ARG2)]++
			k.SelectRead(e.Arg(ARG0), "") // once is enough
			return nil
		},
		"writable": func(e *Event) any {
			got["writable"]++
			k.SelectWrite(e.Arg(ARG0), "")
			return nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for k.RunOneTimeslice() {
		if time.Now().After(deadline) {
			t.Fatal("watchers did not all fire")
		}
	}
	for _, name := range []string{efdKind, "socketpair", "net.Conn", "file", "writable"} {
		if got[name] != 1 {
			t.Errorf("%s fired %d times, want 1 (%v)", name, got[name], got)
		}
	}
}

// The trace option writes POE-style lines for enqueues and dispatches.
func TestTrace(t *testing.T) {
	var buf bytes.Buffer
	k := NewKernel(&Options{Trace: &buf})
	k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any { e.Kernel.Yield("hello", 1); return nil },
		"hello":  func(e *Event) any { return nil },
	}})
	if err := k.Run(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"<ev> enqueued event", "``hello''", "<ev> dispatching event ``hello'' (1)", "filehandles_test.go"} {
		if !strings.Contains(out, want) {
			t.Errorf("trace lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasPrefix(out, "=== ") {
		t.Errorf("trace lines must start with === <pid> ===:\n%s", out)
	}
}

// A paused watcher on a descriptor whose peer hung up must not wake the
// loop: epoll reports HUP whatever the interest set, so the kernel takes
// a fully paused fd out of epoll until it is resumed.
func TestPausedWatcherOnHungUpFd(t *testing.T) {
	sp := nbSocketpair(t)
	defer unix.Close(sp[0])
	k := NewKernel(nil)
	reads := 0
	_, err := k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			e.Kernel.SelectRead(sp[0], "read")
			e.Kernel.SelectPauseRead(sp[0])
			unix.Close(sp[1]) // the peer hangs up while we are paused
			e.Kernel.Delay("resume", 100*time.Millisecond)
			return nil
		},
		"resume": func(e *Event) any { e.Kernel.SelectResumeRead(sp[0]); return nil },
		"read": func(e *Event) any {
			reads++
			e.Kernel.SelectRead(sp[0], "") // end of file: done
			return nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Run(); err != nil {
		t.Fatal(err)
	}
	if reads != 1 {
		t.Errorf("read events after resume: %d, want 1", reads)
	}
	if n := k.Stats().Polls; n > 20 {
		t.Errorf("%d polls in 100 ms with only a paused, hung-up fd: the loop spun", n)
	}
}
