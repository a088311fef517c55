package poe

import (
	"os/exec"
	"testing"
	"time"
)

// A reaped child must leave the kernel able to go idle: an aliased
// session that awaited it ends by IDLE and Run returns (the pidfd watch
// once made the fd count negative, and the kernel never stopped).
func TestSigChildThenIdle(t *testing.T) {
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
	done := make(chan error, 1)
	go func() { done <- k.Run() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("kernel did not go idle after reaping its children")
	}
	if reaped != 2 {
		t.Errorf("reaped %d children, want 2", reaped)
	}
}
