//go:build unix

package loop

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The conformance suite: every test runs against every backend this
// system has (epoll and poll on Linux, kqueue and poll on the BSDs).

func forEachBackend(t *testing.T, f func(t *testing.T, name string, p Poller)) {
	t.Helper()
	names := Backends()
	if len(names) == 0 {
		t.Fatal("no backend")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			p, err := NewBackend(name)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			f(t, name, p)
		})
	}
}

// fds opens descriptors for one test and closes at cleanup those the test
// did not close itself.
type fds struct {
	t    testing.TB
	open map[int]bool
}

func newFds(t testing.TB) *fds {
	f := &fds{t: t, open: map[int]bool{}}
	t.Cleanup(func() {
		for fd := range f.open {
			unix.Close(fd)
		}
	})
	return f
}

func (f *fds) add(fd ...int) {
	for _, d := range fd {
		if err := unix.SetNonblock(d, true); err != nil {
			f.t.Fatal(err)
		}
		f.open[d] = true
	}
}

func (f *fds) pipe() (r, w int) {
	f.t.Helper()
	var p [2]int
	syscall.ForkLock.RLock()
	err := unix.Pipe(p[:])
	if err == nil {
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		f.t.Fatal(err)
	}
	f.add(p[0], p[1])
	return p[0], p[1]
}

func (f *fds) socketpair() (a, b int) {
	f.t.Helper()
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	f.add(p[0], p[1])
	return p[0], p[1]
}

func (f *fds) close(fd int) {
	delete(f.open, fd)
	unix.Close(fd)
}

// collect waits once and returns what was reported, failing on an fd
// reported twice in one wait.
func collect(t *testing.T, p Poller, timeout time.Duration) map[int]Events {
	t.Helper()
	got := map[int]Events{}
	n, err := p.Wait(timeout, func(fd int, ev Events) {
		if _, dup := got[fd]; dup {
			t.Errorf("fd %d reported twice in one wait", fd)
		}
		got[fd] = ev
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(got) {
		t.Errorf("Wait returned %d, reported %d", n, len(got))
	}
	return got
}

// awaitFd waits (again after early returns) until fd is reported, for at
// most limit, and returns its events (0 if it never came).
func awaitFd(t *testing.T, p Poller, fd int, limit time.Duration) Events {
	t.Helper()
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		if ev, ok := collect(t, p, time.Until(end))[fd]; ok {
			return ev
		}
	}
	return 0
}

func ignore(int, Events) {}

func write(t testing.TB, fd int, s string) {
	t.Helper()
	if _, err := unix.Write(fd, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

func TestReadinessLevelTriggered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ string, p Poller) {
		f := newFds(t)
		r, w := f.pipe()
		if err := p.Add(r, Readable); err != nil {
			t.Fatal(err)
		}
		if got := collect(t, p, 0); len(got) != 0 {
			t.Fatalf("ready before write: %v", got)
		}
		write(t, w, "x")
		if ev := awaitFd(t, p, r, 2*time.Second); ev&Readable == 0 {
			t.Fatalf("after write: %v", ev)
		}
		for i := 0; i < 3; i++ { // level-triggered: reported until consumed
			if ev := collect(t, p, 0)[r]; ev&Readable == 0 {
				t.Fatalf("pass %d: %v", i, ev)
			}
		}
		unix.Read(r, make([]byte, 8))
		if got := collect(t, p, 0); len(got) != 0 {
			t.Fatalf("ready after read: %v", got)
		}
	})
}

func TestPause(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ string, p Poller) {
		f := newFds(t)
		r, w := f.pipe()
		if err := p.Add(r, Readable); err != nil {
			t.Fatal(err)
		}
		write(t, w, "x")
		if ev := awaitFd(t, p, r, 2*time.Second); ev&Readable == 0 {
			t.Fatalf("before pause: %v", ev)
		}
		// Paused: registered but silent.
		if err := p.Modify(r, 0); err != nil {
			t.Fatal(err)
		}
		if got := collect(t, p, 0); len(got) != 0 {
			t.Fatalf("paused fd reported: %v", got)
		}
		if err := p.Modify(r, Readable); err != nil {
			t.Fatal(err)
		}
		if ev := awaitFd(t, p, r, 2*time.Second); ev&Readable == 0 {
			t.Fatalf("after resume: %v", ev)
		}
		// Switch the interest to another condition: no read report.
		if err := p.Modify(r, Writable); err != nil {
			t.Fatal(err)
		}
		if ev := collect(t, p, 0)[r]; ev&Readable != 0 {
			t.Fatalf("write interest reported %v", ev)
		}
	})
}

func TestDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ string, p Poller) {
		f := newFds(t)
		r, w := f.pipe()
		r2, w2 := f.pipe()
		for _, fd := range []int{r, r2} {
			if err := p.Add(fd, Readable); err != nil {
				t.Fatal(err)
			}
		}
		write(t, w, "x")
		write(t, w2, "x")
		if err := p.Delete(r); err != nil {
			t.Fatal(err)
		}
		if ev := awaitFd(t, p, r2, 2*time.Second); ev&Readable == 0 {
			t.Fatalf("the other fd: %v", ev)
		}
		if _, ok := collect(t, p, 0)[r]; ok {
			t.Fatal("deleted fd reported")
		}
		if err := p.Delete(r); err == nil {
			t.Error("second Delete succeeded")
		}
		if err := p.Modify(r, Readable); err == nil {
			t.Error("Modify of a deleted fd succeeded")
		}
		// Watched again after a delete.
		if err := p.Add(r, Readable); err != nil {
			t.Fatal(err)
		}
		if ev := awaitFd(t, p, r, 2*time.Second); ev&Readable == 0 {
			t.Fatalf("re-added: %v", ev)
		}
	})
}

func TestWritable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ string, p Poller) {
		f := newFds(t)
		r, w := f.pipe()
		if err := p.Add(w, Writable); err != nil {
			t.Fatal(err)
		}
		if ev := awaitFd(t, p, w, 2*time.Second); ev&Writable == 0 {
			t.Fatalf("empty pipe: %v", ev)
		}
		buf := make([]byte, 4096)
		for {
			if _, err := unix.Write(w, buf); err == unix.EAGAIN {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if ev := collect(t, p, 0)[w]; ev&Writable != 0 {
			t.Fatalf("full pipe: %v", ev)
		}
		for {
			if _, err := unix.Read(r, buf); err == unix.EAGAIN {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if ev := awaitFd(t, p, w, 2*time.Second); ev&Writable == 0 {
			t.Fatalf("drained pipe: %v", ev)
		}
	})
}

// A fd ready for both reading and writing is reported once with both
// conditions (kqueue reports them as two events).
func TestOneReportPerFd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ string, p Poller) {
		f := newFds(t)
		a, b := f.socketpair()
		if err := p.Add(a, Readable|Writable); err != nil {
			t.Fatal(err)
		}
		write(t, b, "x")
		end := time.Now().Add(2 * time.Second)
		for {
			ev := collect(t, p, time.Until(end))[a] // collect fails on a second report
			if ev&(Readable|Writable) == Readable|Writable {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("got %v, want readable and writable", ev)
			}
		}
	})
}

// Every fd a callback deletes is still reported once in that wait.
func TestDeleteFromCallback(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ string, p Poller) {
		f := newFds(t)
		var rs []int
		for i := 0; i < 3; i++ {
			r, w := f.pipe()
			write(t, w, "x")
			if err := p.Add(r, Readable); err != nil {
				t.Fatal(err)
			}
			rs = append(rs, r)
		}
		seen := map[int]int{}
		end := time.Now().Add(2 * time.Second)
		for len(seen) < len(rs) && time.Now().Before(end) {
			p.Wait(time.Until(end), func(fd int, ev Events) {
				seen[fd]++
				for _, r := range rs {
					p.Delete(r)
				}
			})
		}
		for _, r := range rs {
			if seen[r] > 1 {
				t.Errorf("fd %d reported %d times", r, seen[r])
			}
		}
		if len(seen) == 0 {
			t.Fatal("nothing reported")
		}
		if got := collect(t, p, 0); len(got) != 0 {
			t.Fatalf("deleted fds reported: %v", got)
		}
	})
}

// strictHangup: whether the backend reports a peer's close as Hangup or
// Error. poll(2) on Linux and kqueue do; POSIX leaves poll's POLLHUP on
// pipes and sockets to the system, so elsewhere a readable report is
// enough (POE treats Hangup as readable anyway).
func strictHangup(name string) bool { return name != "poll" || runtime.GOOS == "linux" }

func TestHangup(t *testing.T) {
	forEachBackend(t, func(t *testing.T, name string, p Poller) {
		f := newFds(t)
		want := Hangup | Error
		if !strictHangup(name) {
			want |= Readable
		}
		// A pipe whose writer closes.
		r, w := f.pipe()
		if err := p.Add(r, Readable); err != nil {
			t.Fatal(err)
		}
		f.close(w)
		if ev := awaitFd(t, p, r, 2*time.Second); ev&want == 0 {
			t.Errorf("pipe, writer closed: %v", ev)
		}
		// A socket whose peer closes.
		a, b := f.socketpair()
		if err := p.Add(a, Readable); err != nil {
			t.Fatal(err)
		}
		f.close(b)
		if ev := awaitFd(t, p, a, 2*time.Second); ev&want == 0 {
			t.Errorf("socket, peer closed: %v", ev)
		}
		// Write interest only: the reader's close is reported as well.
		r2, w2 := f.pipe()
		if err := p.Add(w2, Writable); err != nil {
			t.Fatal(err)
		}
		f.close(r2)
		want = Hangup | Error
		if !strictHangup(name) {
			want |= Writable
		}
		if ev := awaitFd(t, p, w2, 2*time.Second); ev&want == 0 {
			t.Errorf("pipe, reader closed: %v", ev)
		}
	})
}

// tcpPair connects two sockets over 127.0.0.1 and returns their fds.
func tcpPair(t *testing.T) (client, server int, cc net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	fdOf := func(c net.Conn) int {
		rc, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		fd := -1
		rc.Control(func(d uintptr) { fd = int(d) })
		return fd
	}
	return fdOf(c), fdOf(s), c
}

func TestPriority(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ string, p Poller) {
		client, server, cc := tcpPair(t)
		err := p.Add(server, Priority)
		if errors.Is(err, errors.ErrUnsupported) {
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		// Ordinary data is not out-of-band.
		if _, err := cc.Write([]byte("plain")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		if ev := collect(t, p, 0)[server]; ev&Priority != 0 {
			t.Fatalf("priority without out-of-band data: %v", ev)
		}
		if err := unix.Sendto(client, []byte("!"), unix.MSG_OOB, nil); err != nil {
			t.Fatal(err)
		}
		if ev := awaitFd(t, p, server, 2*time.Second); ev&Priority == 0 {
			t.Fatalf("out-of-band data: %v", ev)
		}
	})
}

// Regular files and directories never block: every backend refuses them
// alike with ErrNotPollable (the kernel then treats them as always ready),
// though poll(2) and kqueue could watch some of them.
func TestNotPollable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ string, p Poller) {
		file, err := os.CreateTemp(t.TempDir(), "regular")
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		dir, err := os.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer dir.Close()
		for _, fd := range []int{int(file.Fd()), int(dir.Fd())} {
			if err := p.Add(fd, Readable); err != ErrNotPollable {
				t.Errorf("Add(fd %d) = %v, want ErrNotPollable", fd, err)
			}
		}
		// A closed fd is an error, but not that one.
		f := newFds(t)
		dead, _ := f.pipe()
		f.close(dead)
		if err := p.Add(dead, Readable); err == nil || err == ErrNotPollable {
			t.Errorf("Add(closed fd) = %v", err)
		}
		// The poller still works, and never reports the refused fds.
		r, w := f.pipe()
		if err := p.Add(r, Readable); err != nil {
			t.Fatal(err)
		}
		write(t, w, "x")
		if ev := awaitFd(t, p, r, 2*time.Second); ev&Readable == 0 {
			t.Fatalf("pipe after refusals: %v", ev)
		}
		if got := collect(t, p, 0); len(got) != 1 {
			t.Fatalf("reported %v", got)
		}
	})
}

func TestManyFds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ string, p Poller) {
		const n = 1000
		f := newFds(t)
		rs := make([]int, n)
		want := map[int]bool{}
		for i := range rs {
			r, w := f.pipe()
			rs[i] = r
			if err := p.Add(r, Readable); err != nil {
				t.Fatal(err)
			}
			if i%3 == 0 {
				write(t, w, "x")
				want[r] = true
			}
		}
		check := func(stage string) {
			t.Helper()
			got := map[int]bool{}
			end := time.Now().Add(5 * time.Second)
			for len(got) < len(want) && time.Now().Before(end) {
				for fd, ev := range collect(t, p, time.Until(end)) {
					if !want[fd] || ev&Readable == 0 {
						t.Fatalf("%s: fd %d reported %v", stage, fd, ev)
					}
					got[fd] = true
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%s: %d of %d ready fds reported", stage, len(got), len(want))
			}
		}
		check("all watched")
		// Delete every other fd, ready or not: the rest keeps its place.
		for i, r := range rs {
			if i%2 == 0 {
				if err := p.Delete(r); err != nil {
					t.Fatal(err)
				}
				delete(want, r)
			}
		}
		check("half deleted")
		for r := range want {
			unix.Read(r, make([]byte, 1))
		}
		if got := collect(t, p, 0); len(got) != 0 {
			t.Fatalf("%d fds reported after reading", len(got))
		}
	})
}

func TestWakeFromGoroutine(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ string, p Poller) {
		var sent atomic.Bool
		go func() {
			time.Sleep(20 * time.Millisecond)
			sent.Store(true)
			p.Wake()
		}()
		start := time.Now()
		for !sent.Load() { // early returns (signals) wait again
			p.Wait(5*time.Second, ignore)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("wake took %v", d)
		}
		// A wake-up before the wait ends the next one.
		p.Wake()
		start = time.Now()
		p.Wait(5*time.Second, ignore)
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("pending wake took %v", d)
		}
	})
}

// waitOut waits until d has passed, again after each early return, and
// returns how long it took and how many Wait calls.
func waitOut(p Poller, d time.Duration) (took time.Duration, calls int) {
	start := time.Now()
	for {
		calls++
		p.Wait(d-time.Since(start), ignore)
		if took = time.Since(start); took >= d {
			return took, calls
		}
	}
}

// A storm of Wake calls from many goroutines makes one wake-up: the wait
// after the one it ends runs to its deadline. A signal may end that wait
// early too, so a storm that leaves a stale wake-up is told apart by
// trying again: it would cut every attempt short.
func TestWakeStormCollapses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ string, p Poller) {
		for attempt := 0; attempt < 5; attempt++ {
			var wg sync.WaitGroup
			for g := 0; g < 4; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 250; i++ {
						p.Wake()
					}
				}()
			}
			wg.Wait()
			start := time.Now()
			p.Wait(5*time.Second, ignore)
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("the storm's wake-up was lost: waited %v", d)
			}
			if _, calls := waitOut(p, 30*time.Millisecond); calls == 1 {
				return
			}
		}
		t.Fatal("every wait after a wake storm was cut short: more than one wake-up pending")
	})
}

// deadline checks that Wait(d) on an idle poller lasts from d to d+slack.
// Wait may return early (a signal: Go preempts a goroutine that has run
// 10ms, and a raw system call counts as running), and a busy machine may
// wake it late, so the check is on the median of n waits, and a batch
// that misses is tried again. Early returns are a small minority of
// waits whatever the load, so a wait that rounds 300µs up to a
// millisecond, or ignores the deadline, or returns at once, misses in
// every batch.
const deadlineBatches = 5

func deadline(t *testing.T, p Poller, d, slack time.Duration, n int) {
	t.Helper()
	took := make([]time.Duration, n)
	for batch := 0; batch < deadlineBatches; batch++ {
		for i := range took {
			start := time.Now()
			p.Wait(d, ignore)
			took[i] = time.Since(start)
		}
		slices.Sort(took)
		if med := took[n/2]; med >= d && med <= d+slack {
			return
		}
	}
	t.Errorf("Wait(%v): median %v, want %v to %v (last batch, sorted: %v)",
		d, took[n/2], d, d+slack, took)
}

func TestSubMillisecondTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, name string, p Poller) {
		slack := 600 * time.Microsecond // less than a millisecond in all
		if name == "poll" && !pollPrecise {
			// Millisecond deadlines, rounded up (see ppoll_other.go).
			slack = 1500 * time.Microsecond
		}
		deadline(t, p, 300*time.Microsecond, slack, 21)
	})
}

func TestDeadlines(t *testing.T) {
	forEachBackend(t, func(t *testing.T, name string, p Poller) {
		// A busy machine runs a woken thread a scheduler slice (a few
		// ms) late: the slack allows for it and still catches a deadline
		// rounded to 10ms or ignored.
		deadline(t, p, 2*time.Millisecond, 6*time.Millisecond, 11)
		deadline(t, p, 20*time.Millisecond, 15*time.Millisecond, 7)
		deadline(t, p, 150*time.Millisecond, 75*time.Millisecond, 5) // epoll parks on the netpoller
	})
}

// Wait(0) only polls.
func TestWaitZero(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ string, p Poller) {
		best := time.Hour
		for i := 0; i < 20; i++ {
			start := time.Now()
			if n, err := p.Wait(0, ignore); n != 0 || err != nil {
				t.Fatal(n, err)
			}
			best = min(best, time.Since(start))
		}
		if best > time.Millisecond {
			t.Fatalf("Wait(0) took at best %v", best)
		}
	})
}

func TestCloseIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ string, p Poller) {
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := p.Wake(); err != ErrClosed {
			t.Fatalf("Wake after Close = %v, want ErrClosed", err)
		}
	})
}

// typeOf names each backend's type, to check which one New made.
var typeOf = map[string]string{"epoll": "*loop.epoller", "kqueue": "*loop.kqueuer", "poll": "*loop.poller"}

func TestBackendChoice(t *testing.T) {
	names := Backends()
	for _, name := range names {
		if typeOf[name] == "" {
			t.Fatalf("unknown backend %q listed", name)
		}
	}
	if !slices.Contains(names, "poll") {
		t.Error("poll is missing")
	}
	t.Setenv("POE_LOOP", "")
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%T", p); got != typeOf[names[0]] {
		t.Errorf("default is %s, want %s", got, typeOf[names[0]])
	}
	p.Close()
	for _, name := range names {
		t.Setenv("POE_LOOP", name)
		p, err := New()
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%T", p); got != typeOf[name] {
			t.Errorf("POE_LOOP=%s made %s", name, got)
		}
		p.Close()
	}
	for _, bad := range []string{"nonesuch", missingBackend()} {
		t.Setenv("POE_LOOP", bad)
		p, err := New()
		if p != nil || !errors.Is(err, ErrUnknownBackend) {
			t.Fatalf("POE_LOOP=%s: %v, %v", bad, p, err)
		}
		msg := err.Error()
		for _, part := range append([]string{"POE_LOOP", `"` + bad + `"`, runtime.GOOS}, names...) {
			if !strings.Contains(msg, part) {
				t.Errorf("error %q does not name %q", msg, part)
			}
		}
		if _, err := NewBackend(bad); !errors.Is(err, ErrUnknownBackend) || !strings.Contains(err.Error(), bad) {
			t.Errorf("NewBackend(%s): %v", bad, err)
		}
	}
}

// missingBackend is a backend name this system lacks.
func missingBackend() string {
	if slices.Contains(Backends(), "epoll") {
		return "kqueue"
	}
	return "epoll"
}
