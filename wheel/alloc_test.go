package wheel

import (
	"io"
	"testing"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/driver"
	"github.com/poe-go/poe/wheel/filter"
	"golang.org/x/sys/unix"
)

// zeroLine is a byte-mode line filter that allocates nothing once warm:
// it measures the wheel's own cost per echoed line. (Its records are one
// pre-boxed value: boxing is the filter's business, not the wheel's.)
type zeroLine struct {
	buf   []byte
	rec   any
	out   []any
	chunk any
	put   []any
}

func newZeroLine() *zeroLine {
	return &zeroLine{rec: any("x"), chunk: any([]byte("x\n")), out: make([]any, 1), put: make([]any, 1)}
}

func (f *zeroLine) GetOneStartBytes(b []byte) { f.buf = append(f.buf, b...) }
func (f *zeroLine) GetOneStart(c []any) {
	for _, x := range c {
		f.buf = append(f.buf, x.([]byte)...)
	}
}
func (f *zeroLine) GetOne() ([]any, error) {
	for i, c := range f.buf {
		if c == '\n' {
			f.buf = f.buf[:copy(f.buf, f.buf[i+1:])]
			f.out[0] = f.rec
			return f.out, nil
		}
	}
	return nil, nil
}
func (f *zeroLine) Put(recs []any) ([]any, error) {
	f.put = f.put[:0]
	for range recs {
		f.put = append(f.put, f.chunk)
	}
	return f.put, nil
}
func (f *zeroLine) GetPending() []any    { return nil }
func (f *zeroLine) Clone() filter.Filter { return newZeroLine() }

// zeroDriver queues output in one reused byte buffer.
type zeroDriver struct {
	in, out []byte
	msgs    int
}

func (d *zeroDriver) Get(fd int) ([]byte, error) {
	n, err := unix.Read(fd, d.in)
	if err == unix.EAGAIN {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, io.EOF
	}
	return d.in[:n], nil
}
func (d *zeroDriver) Put(chunks ...[]byte) int {
	for _, c := range chunks {
		d.out = append(d.out, c...)
		d.msgs++
	}
	return len(d.out)
}
func (d *zeroDriver) Flush(fd int) (int, error) {
	if len(d.out) == 0 {
		return 0, nil
	}
	n, err := unix.Write(fd, d.out)
	if err == unix.EAGAIN {
		return len(d.out), nil
	}
	if err != nil {
		return len(d.out), err
	}
	d.out = d.out[:copy(d.out, d.out[n:])]
	if len(d.out) == 0 {
		d.msgs = 0
	}
	return len(d.out), nil
}
func (d *zeroDriver) OutOctets() int   { return len(d.out) }
func (d *zeroDriver) OutMessages() int { return d.msgs }

// echoRig is a ReadWrite echo (InputEvent puts the record back) on one
// end of a socketpair, driven one timeslice at a time from the other end.
func echoRig(tb testing.TB, autoFlush bool, f filter.Filter, d driver.Driver) (k *poe.Kernel, peer int, done func()) {
	fds, err := socketpairCloexec(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		tb.Fatal(err)
	}
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil {
			tb.Fatal(err)
		}
	}
	k = poe.NewKernel(nil)
	var w *ReadWrite
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			w, err = NewReadWrite(e.Kernel, ReadWriteOptions{
				Handle: fds[0], InputEvent: "in", AutoFlush: autoFlush,
				Filter: f, Driver: d,
			})
			if err != nil {
				tb.Fatal(err)
			}
			return nil
		},
		"in":   func(e *poe.Event) any { w.Put(e.Args[0]); return nil },
		"stop": func(e *poe.Event) any { w.Close(); return nil },
	}})
	return k, fds[1], func() {
		k.Post(w.owner, "stop")
		k.Run()
		unix.Close(fds[1])
	}
}

// echoOnce sends one line and turns the loop until the echo's end of
// line is back.
func echoOnce(tb testing.TB, k *poe.Kernel, peer int, line, buf []byte) {
	if _, err := unix.Write(peer, line); err != nil {
		tb.Fatal(err)
	}
	// Read first and turn the loop only when nothing is there: a timeslice
	// with nothing to do blocks, so it must not run while the rest of a
	// partly read echo is already in the socket.
	got := 0
	for i := 0; ; i++ {
		if i > 100000 {
			tb.Fatal("no echo")
		}
		n, err := unix.Read(peer, buf[got:])
		if err == nil && n > 0 {
			got += n
			if buf[got-1] == '\n' {
				return
			}
			continue
		}
		k.RunOneTimeslice()
	}
}

// echoSetups are the filter/driver pairs measured: the real Line filter in
// byte mode with SysRW, and zero-cost stand-ins isolating the wheel.
var echoSetups = []struct {
	name string
	make func() (filter.Filter, driver.Driver)
}{
	{"Line-Bytes+SysRW", func() (filter.Filter, driver.Driver) {
		return filter.MustLine(filter.LineOptions{Bytes: true}), newDriver()
	}},
	{"wheel-only", func() (filter.Filter, driver.Driver) {
		return newZeroLine(), &zeroDriver{in: make([]byte, 65536)}
	}},
}

func TestEchoAllocs(t *testing.T) {
	if raceEnabled {
		// The pools the driver and the filters draw their buffers from
		// drop items at random under the race detector.
		t.Skip("allocation counts are not meaningful under -race")
	}
	for _, setup := range echoSetups {
		for _, af := range []bool{false, true} {
			f, d := setup.make()
			k, peer, done := echoRig(t, af, f, d)
			line, buf := []byte("hello world\n"), make([]byte, 64)
			for i := 0; i < 100; i++ {
				echoOnce(t, k, peer, line, buf)
			}
			allocs := testing.AllocsPerRun(1000, func() { echoOnce(t, k, peer, line, buf) })
			done()
			if allocs != 0 {
				t.Errorf("%s AutoFlush=%v: %v allocations per echoed line, want 0", setup.name, af, allocs)
			}
		}
	}
}

// BenchmarkEchoLockStep: one line written by the peer, one timeslice or
// more until its echo is read back.
func BenchmarkEchoLockStep(b *testing.B) {
	for _, setup := range echoSetups {
		for _, af := range []bool{false, true} {
			name := setup.name
			if af {
				name += "/AutoFlush"
			}
			b.Run(name, func(b *testing.B) {
				f, d := setup.make()
				k, peer, done := echoRig(b, af, f, d)
				defer done()
				line, buf := []byte("hello world\n"), make([]byte, 64)
				b.ReportAllocs()
				for b.Loop() {
					echoOnce(b, k, peer, line, buf)
				}
			})
		}
	}
}
