package bench

import (
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/panjf2000/gnet/v2/pkg/netpoll"
	"golang.org/x/sys/unix"
)

func BenchmarkReactorTimedWaitNetpoll(b *testing.B) {
	p, err := netpoll.OpenPoller()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(tfd)
	var buf [8]byte
	pa := &netpoll.PollAttachment{FD: tfd, Callback: func(fd int, _ netpoll.IOEvent, _ netpoll.IOFlags) error {
		unix.Read(fd, buf[:])
		return errors.ErrEngineShutdown
	}}
	if err := p.AddRead(pa, false); err != nil {
		b.Fatal(err)
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(timedWait))}
	b.ReportAllocs()
	var late time.Duration
	for b.Loop() {
		t0 := time.Now()
		unix.TimerfdSettime(tfd, 0, &spec, nil)
		p.Polling(func(fd int, ev netpoll.IOEvent, fl netpoll.IOFlags) error { return pa.Callback(fd, ev, fl) })
		late += time.Since(t0) - timedWait
	}
	b.ReportMetric(float64(late.Microseconds())/float64(b.N), "late-µs")
}
