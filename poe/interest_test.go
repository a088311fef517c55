package poe

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/poe-go/poe/loop"
	"golang.org/x/sys/unix"
)

// countingPoller records the interest changes the kernel asks for.
type countingPoller struct {
	loop.Poller
	calls []string
}

func (p *countingPoller) Add(fd int, ev loop.Events) error {
	p.calls = append(p.calls, "add")
	return p.Poller.Add(fd, ev)
}

func (p *countingPoller) Modify(fd int, ev loop.Events) error {
	p.calls = append(p.calls, "modify")
	return p.Poller.Modify(fd, ev)
}

func (p *countingPoller) Delete(fd int) error {
	p.calls = append(p.calls, "delete")
	return p.Poller.Delete(fd)
}

// Interest changes within a timeslice reach epoll once, before the next
// wait: watch read, watch write and pause it (a new ReadWrite wheel), or
// pause and resume, cost no system call after the first registration; a
// full pause still takes the fd out before the kernel waits; forgetting
// the fd is immediate.
func TestInterestAppliedBeforeWait(t *testing.T) {
	real, err := loop.New()
	if err != nil {
		t.Fatal(err)
	}
	cp := &countingPoller{Poller: real}
	k := NewKernel(&Options{Poller: cp})
	fds := nbSocketpair(t)
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	fd := fds[0]
	var got []string
	k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			e.Kernel.SelectRead(fd, "rd")
			e.Kernel.SelectWrite(fd, "wr")
			e.Kernel.SelectPauseWrite(fd)
			got = append(got, cp.calls...)
			e.Kernel.Yield("next")
			return nil
		},
		"next": func(e *Event) any {
			cp.calls = nil
			e.Kernel.SelectPauseRead(fd)
			e.Kernel.SelectResumeRead(fd)
			got = append(got, "|")
			got = append(got, cp.calls...)
			// Fully paused: out of epoll before the kernel waits, so the
			// peer's data must not wake it.
			e.Kernel.SelectPauseRead(fd)
			unix.Write(fds[1], []byte("x"))
			e.Kernel.Delay("check", 20*time.Millisecond)
			return nil
		},
		"rd": func(e *Event) any {
			got = append(got, "read")
			e.Kernel.SelectRead(fd, "")
			e.Kernel.SelectWrite(fd, "")
			return nil
		},
		"wr": func(e *Event) any { got = append(got, "write"); return nil },
		"check": func(e *Event) any {
			got = append(got, "|")
			got = append(got, cp.calls...)
			cp.calls = nil
			got = append(got, "|")
			e.Kernel.SelectResumeRead(fd)
			return nil
		},
		"_stop": func(e *Event) any {
			got = append(got, "|")
			got = append(got, cp.calls...)
			return nil
		},
	}})
	if err := k.Run(); err != nil {
		t.Fatal(err)
	}
	want := []string{"add", "|", "|", "delete", "|", "read", "|", "add", "delete"}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("poller calls (-want +got):\n%s", d)
	}
}
