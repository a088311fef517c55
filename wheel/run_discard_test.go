package wheel_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"github.com/poe-go/poe/wheel/driver"
	"golang.org/x/sys/unix"
)

// discardSpy is SysRW counting Discard calls.
type discardSpy struct {
	*driver.SysRW
	discards int
}

func (d *discardSpy) Discard() { d.discards++; d.SysRW.Discard() }

func newDiscardSpy() *discardSpy {
	d, _ := driver.NewSysRW(driver.SysRWOptions{})
	return &discardSpy{SysRW: d}
}

// A ReadWrite closed with output still queued gives the driver's pooled
// buffers back (Discard) instead of leaving them to the collector.
func TestReadWriteCloseDiscardsQueue(t *testing.T) {
	checkFDs(t)
	r, w := pipe(t)
	defer unix.Close(r)
	spy := newDiscardSpy()
	run(t, 5*time.Second, map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			rw, err := wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{
				OutputHandle: w, InputHandle: r, NoClose: true, Driver: spy,
			})
			if err != nil {
				t.Fatal(err)
			}
			// More than a pipe holds: most of it stays queued.
			rw.Put(string(bytes.Repeat([]byte("x"), 1<<18)))
			rw.Flush()
			if rw.DriverOutOctets() == 0 {
				t.Fatal("nothing left queued")
			}
			rw.Close()
			return nil
		},
	})
	unix.Close(w)
	if spy.discards != 1 || spy.OutOctets() != 0 {
		t.Errorf("Close: %d Discard calls, %d octets still queued; want 1, 0", spy.discards, spy.OutOctets())
	}
}

// The same for Run's stdin, on Close and on ShutdownStdin.
func TestRunCloseDiscardsQueue(t *testing.T) {
	checkFDs(t)
	for _, shutdown := range []bool{false, true} {
		spy := newDiscardSpy()
		run(t, 10*time.Second, map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				// The child never reads its stdin.
				w, err := wheel.NewRun(e.Kernel, wheel.RunOptions{
					Program: []string{"sleep", "10"}, StdinDriver: spy, StdinFilter: streamF(),
				})
				if err != nil {
					t.Fatal(err)
				}
				e.Kernel.SigChild(w.PID(), "reaped")
				w.Put(bytes.Repeat([]byte("x"), 1<<18))
				heap(e)["w"] = w
				e.Kernel.Delay("check", 50*time.Millisecond)
				return nil
			},
			"check": func(e *poe.Event) any {
				w := heap(e)["w"].(*wheel.Run)
				if w.DriverOutOctets() == 0 {
					t.Error("nothing left queued")
				}
				if shutdown {
					w.ShutdownStdin()
				} else {
					w.Close()
				}
				w.Kill(unix.SIGKILL)
				return nil
			},
			"reaped": func(e *poe.Event) any { heap(e)["w"].(*wheel.Run).Close(); return nil },
		})
		if spy.discards != 1 || spy.OutOctets() != 0 {
			t.Errorf("shutdown=%v: %d Discard calls, %d octets still queued; want 1, 0", shutdown, spy.discards, spy.OutOctets())
		}
	}
}
