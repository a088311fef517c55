package poe

import (
	"errors"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A reaped child must leave the kernel able to go idle: an aliased
// session that awaited it ends by IDLE and Run returns (the pidfd watch
// once made the fd count negative, and the kernel never stopped).
func TestSigChildThenIdle(t *testing.T) {
	t.Run("pidfd", testSigChildThenIdle)
	t.Run("sigchld", func(t *testing.T) { withoutPidfd(t); testSigChildThenIdle(t) })
}

func testSigChildThenIdle(t *testing.T) {
	k := NewKernel(nil)
	reaped := 0
	_, err := k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			e.Kernel.AliasSet("svc")
			for i := 0; i < 2; i++ {
				cmd := exec.Command("true")
				if err := cmd.Start(); err != nil {
					t.Error(err)
					return nil
				}
				pid := cmd.Process.Pid
				cmd.Process.Release()
				if err := e.Kernel.SigChild(pid, "chld"); err != nil {
					t.Error(err)
				}
			}
			return nil
		},
		"chld": func(e *Event) any { reaped++; return nil },
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := runAsync(t, k, 5*time.Second)(); err != nil {
		t.Fatal(err)
	}
	if reaped != 2 {
		t.Errorf("reaped %d children, want 2", reaped)
	}
}

// withoutPidfd makes SigChild take the SIGCHLD path of systems without
// pidfds (macOS, the BSDs, Linux before 5.3) for one test.
func withoutPidfd(t *testing.T) {
	old := pidfdOpen
	pidfdOpen = func(int) (int, error) { return -1, unix.ENOSYS }
	t.Cleanup(func() { pidfdOpen = old })
}

// Children are reaped the same way with and without pidfds: statuses,
// extra args, the blanket CHLD, a child that exited before it was
// watched, many exits at once, a cancelled watch, and an unknown pid.
func TestSigChildReaping(t *testing.T) {
	for _, mode := range []string{"pidfd", "sigchld"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "sigchld" {
				withoutPidfd(t)
			}
			testSigChildReaping(t)
		})
	}
}

func testSigChildReaping(t *testing.T) {
	start := func(script string) int {
		cmd := exec.Command("sh", "-c", script)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd.Process.Pid
	}
	// Gone before it is watched: a zombie by the time SigChild runs.
	early := start("exit 5")
	time.Sleep(100 * time.Millisecond)
	late := start("sleep 0.2; exit 3")
	var many []int
	for i := 0; i < 20; i++ {
		many = append(many, start("exit 0"))
	}
	cancelled := start("sleep 0.3")
	const ghost = 1 << 22 // at or above pid_max: never a process
	got := map[int]int{}  // pid -> status
	blanket := 0
	var ghostErr error
	k := NewKernel(nil)
	_, err := k.Create(Spec{Inline: map[string]Handler{
		"_start": func(e *Event) any {
			for _, pid := range append([]int{early, late, cancelled}, many...) {
				if err := e.Kernel.SigChild(pid, "reaped", "x"); err != nil {
					t.Errorf("SigChild(%d): %v", pid, err)
				}
			}
			e.Kernel.SigChild(cancelled, "")
			ghostErr = e.Kernel.SigChild(ghost, "reaped")
			e.Kernel.Sig("CHLD", "blanket")
			return nil
		},
		"reaped": func(e *Event) any {
			if e.Arg(ARG3) != "x" {
				t.Errorf("extra arg %v", e.Arg(ARG3))
			}
			got[e.Int(ARG1)] = e.Int(ARG2)
			if len(got) == 22 {
				e.Kernel.Sig("CHLD", "")
			}
			return nil
		},
		"blanket": func(e *Event) any { blanket++; return nil },
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := runAsync(t, k, 10*time.Second)(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(ghostErr, unix.ESRCH) {
		t.Errorf("SigChild of no process: %v, want ESRCH", ghostErr)
	}
	if got[early] != 5<<8 || got[late] != 3<<8 {
		t.Errorf("statuses: early %d (want %d), late %d (want %d)", got[early], 5<<8, got[late], 3<<8)
	}
	for _, pid := range many {
		if st, ok := got[pid]; !ok || st != 0 {
			t.Errorf("child %d: reaped %v status %d", pid, ok, st)
		}
	}
	if _, ok := got[cancelled]; ok || len(got) != 22 {
		t.Errorf("reaped %d children (cancelled one: %v), want 22 without it", len(got), ok)
	}
	if blanket == 0 {
		t.Error("no CHLD signal")
	}
	if k.procs.chld != nil || len(k.procs.pids) != 0 {
		t.Errorf("left watching: %v pids, SIGCHLD poll %v", len(k.procs.pids), k.procs.chld != nil)
	}
	// The cancelled child is nobody's: reap it here.
	var ws unix.WaitStatus
	unix.Wait4(cancelled, &ws, 0, nil)
}

// A child that exited before SigChild, and no other: no SIGCHLD comes
// after the watch starts, yet it is reaped.
func TestSigChildAlreadyExited(t *testing.T) {
	for _, mode := range []string{"pidfd", "sigchld"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "sigchld" {
				withoutPidfd(t)
			}
			cmd := exec.Command("sh", "-c", "exit 7")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			status := -2
			k := NewKernel(nil)
			k.Create(Spec{Inline: map[string]Handler{
				"_start": func(e *Event) any { return e.Kernel.SigChild(cmd.Process.Pid, "reaped") },
				"reaped": func(e *Event) any { status = e.Int(ARG2); return nil },
			}})
			if err := runAsync(t, k, 5*time.Second)(); err != nil {
				t.Fatal(err)
			}
			if status != 7<<8 {
				t.Errorf("status %d, want %d", status, 7<<8)
			}
		})
	}
}
