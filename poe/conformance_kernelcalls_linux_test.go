package poe

import (
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// testChildReaping starts `true` with os/exec, registers it nowhere, and
// looks 0.3 s later whether the kernel reaped it.
func testChildReaping(t *testing.T, mode string) {
	k := NewKernel(nil)
	var l sqLog
	var cmd *exec.Cmd
	sqCreate(t, k, Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			if mode == "sig" {
				cxMust(t, e.Kernel.Sig("CHLD", "chld"))
			}
			cmd = exec.Command("true")
			if err := cmd.Start(); err != nil {
				t.Fatalf("start: %v", err)
			}
			cxMust(t, e.Kernel.Delay("check", 300*time.Millisecond))
			return nil
		},
		"chld": func(e *Event) any {
			if e.Int(ARG1) == cmd.Process.Pid {
				l.add("CHLD unregistered status %d", e.Int(ARG2))
			}
			return nil
		},
		"check": func(e *Event) any {
			var info unix.Siginfo
			err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
			switch {
			case errors.Is(err, unix.ECHILD):
				l.add("check: already reaped")
			case err == nil && info.Signo == 0:
				l.add("check: running")
			case err == nil:
				l.add("check: zombie")
			default:
				l.add("check: %v", err)
			}
			cxMust(t, e.Kernel.Sig("CHLD", ""))
			return nil
		},
	}})
	if _, err := sqRun(t, k, 10*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := map[string][]string{
		"none": {"check: zombie"},
		"sig":  {"CHLD unregistered status 0", "check: already reaped"},
	}[mode]
	if diff := cmp.Diff(want, l.lines); diff != "" {
		t.Errorf("mode %s (-want +got):\n%s", mode, diff)
	}
	werr := cmd.Wait()
	if mode == "none" && werr != nil {
		t.Errorf("Wait of the unreaped child: %v", werr)
	}
	if mode == "sig" && werr == nil {
		t.Errorf("Wait of a child the kernel reaped succeeded")
	}
	if k.procs.chld != nil || k.procs.all {
		t.Errorf("SIGCHLD still caught after the last CHLD watcher left")
	}
}
