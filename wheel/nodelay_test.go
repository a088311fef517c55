package wheel_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
)

// TestSocketFactoryNoDelay: TCP sockets the factory connects and accepts
// have TCP_NODELAY set; Unix sockets are left alone.
func TestSocketFactoryNoDelay(t *testing.T) {
	checkFDs(t)
	got := map[string]int{}
	nodelay := func(e *poe.Event, what string) {
		fd := e.Args[0].(int)
		v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
		if err != nil {
			t.Errorf("%s: getsockopt: %v", what, err)
		}
		got[what] = v
		unix.Close(fd)
	}
	run(t, 5*time.Second, map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			srv, err := wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{BindAddress: "127.0.0.1", SuccessEvent: "acc", FailureEvent: "fail"})
			if err != nil {
				t.Fatal(err)
			}
			cli, err := wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{RemoteAddress: "127.0.0.1", RemotePort: srv.Port(), SuccessEvent: "conn", FailureEvent: "fail"})
			if err != nil {
				t.Fatal(err)
			}
			heap(e)["srv"], heap(e)["cli"] = srv, cli
			return nil
		},
		"acc": func(e *poe.Event) any {
			nodelay(e, "accepted")
			heap(e)["srv"].(*wheel.SocketFactory).Close()
			return nil
		},
		"conn": func(e *poe.Event) any {
			nodelay(e, "connected")
			heap(e)["cli"].(*wheel.SocketFactory).Close()
			return nil
		},
		"fail": func(e *poe.Event) any { t.Errorf("fail %v", e.Args); return nil },
	})
	if got["accepted"] == 0 || got["connected"] == 0 {
		t.Errorf("TCP_NODELAY: %v, want both set", got)
	}
}
