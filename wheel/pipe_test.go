package wheel_test

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"golang.org/x/sys/unix"
)

func readLine(t *testing.T, f *os.File) string {
	t.Helper()
	f.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		t.Fatalf("read %s: %v", f.Name(), err)
	}
	return strings.TrimSuffix(line, "\n")
}

// TestPipeOneWay is POE's t/10_units/02_pipes/02_oneway.t: each conduit
// passes a line from the write end to the read end unscathed.
func TestPipeOneWay(t *testing.T) {
	for _, conduit := range []string{wheel.ConduitPipe, wheel.ConduitSocketpair, wheel.ConduitInet, ""} {
		t.Run(conduit, func(t *testing.T) {
			r, w, err := wheel.PipeOneWay(conduit)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer w.Close()
			want := "whee " + conduit
			if _, err := w.WriteString(want + "\n"); err != nil {
				t.Fatal(err)
			}
			if got := readLine(t, r); got != want {
				t.Errorf("read %q, want %q", got, want)
			}
			if conduit == wheel.ConduitSocketpair || conduit == wheel.ConduitInet {
				// One way only: the unused directions are shut down.
				if _, err := r.Write([]byte("back")); !errors.Is(err, syscall.EPIPE) {
					t.Errorf("write on the read end: %v, want EPIPE", err)
				}
				w.SetReadDeadline(time.Now().Add(5 * time.Second))
				if n, err := w.Read(make([]byte, 1)); n != 0 || err == nil {
					t.Errorf("read on the write end: %d, %v; want end of file", n, err)
				}
			}
		})
	}
}

// TestPipeTwoWay is POE's t/10_units/02_pipes/03_twoway.t: a line each way.
func TestPipeTwoWay(t *testing.T) {
	for _, conduit := range []string{wheel.ConduitPipe, wheel.ConduitSocketpair, wheel.ConduitInet, ""} {
		t.Run(conduit, func(t *testing.T) {
			ar, aw, br, bw, err := wheel.PipeTwoWay(conduit)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []*os.File{ar, aw, br, bw} {
				defer f.Close()
			}
			if conduit != wheel.ConduitPipe && (ar != aw || br != bw) {
				t.Error("a socket conduit's read and write ends differ")
			}
			aw.WriteString("a wr " + conduit + "\n")
			if got := readLine(t, br); got != "a wr "+conduit {
				t.Errorf("a -> b: %q", got)
			}
			bw.WriteString("b wr " + conduit + "\n")
			if got := readLine(t, ar); got != "b wr "+conduit {
				t.Errorf("b -> a: %q", got)
			}
		})
	}
}

// TestPipeDefaults: "" is a pipe one way and a Unix socketpair both ways,
// POE's first choices on Unix; the ends are close-on-exec.
func TestPipeDefaults(t *testing.T) {
	r, w, err := wheel.PipeOneWay("")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	var st unix.Stat_t
	unix.Fstat(int(r.Fd()), &st)
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("one-way default mode %o, want a FIFO", st.Mode)
	}
	a, _, b, _, err := wheel.PipeTwoWay("")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	sc, _ := a.SyscallConn()
	sc.Control(func(fd uintptr) {
		if sa, err := unix.Getsockname(int(fd)); err != nil {
			t.Error(err)
		} else if _, ok := sa.(*unix.SockaddrUnix); !ok {
			t.Errorf("two-way default socket %T, want AF_UNIX", sa)
		}
		if fl, _ := unix.FcntlInt(fd, unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
			t.Error("not close-on-exec")
		}
	})
	if _, _, err := wheel.PipeOneWay("carrier pigeon"); !errors.Is(err, wheel.ErrConduit) {
		t.Errorf("unknown conduit: %v, want ErrConduit", err)
	}
	if _, _, _, _, err := wheel.PipeTwoWay("tin cans"); !errors.Is(err, wheel.ErrConduit) {
		t.Errorf("unknown conduit: %v, want ErrConduit", err)
	}
}

// TestPipeWithWheel: a pipe's read end is a ReadWrite handle, as POE
// programs use them (a wake-up pipe, a child's output).
func TestPipeWithWheel(t *testing.T) {
	r, w, err := wheel.PipeOneWay(wheel.ConduitPipe)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var got []string
	var rw *wheel.ReadWrite
	run(t, 5*time.Second, map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			rw, err = wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{
				InputHandle: r, OutputHandle: w, NoClose: true,
				InputEvent: "input", ErrorEvent: "error",
			})
			if err != nil {
				t.Fatal(err)
			}
			go func() { w.WriteString("one\ntwo\n") }()
			return nil
		},
		"input": func(e *poe.Event) any {
			got = append(got, e.String(poe.ARG0))
			if len(got) == 2 {
				rw.Close()
			}
			return nil
		},
		"error": func(e *poe.Event) any { t.Errorf("error %v", e.Args); rw.Close(); return nil },
	})
	r.Close()
	if strings.Join(got, ",") != "one,two" {
		t.Errorf("got %q", got)
	}
}
