//go:build !openbsd && !netbsd

package bench

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/evio"
)

// The evio peer goes after gnet, as in the published tables. evio does not
// build on OpenBSD or NetBSD (no EVFILT_USER): no evio peer there.
func init() {
	i := slices.IndexFunc(echoServers, func(e echoPeer) bool { return e.name == "gnet" }) + 1
	echoServers = slices.Insert(echoServers, i, echoPeer{"evio", startEvioEcho})
}

func startEvioEcho(tb testing.TB) (string, func()) {
	addr := freePort(tb)
	var mu sync.Mutex
	stopping := false
	var ev evio.Events
	ev.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) { return in, evio.None }
	ev.Tick = func() (time.Duration, evio.Action) {
		mu.Lock()
		defer mu.Unlock()
		if stopping {
			return 0, evio.Shutdown
		}
		return 20 * time.Millisecond, evio.None
	}
	done := make(chan error, 1)
	go func() { done <- evio.Serve(ev, "tcp://"+addr) }()
	waitListening(tb, addr)
	return addr, func() {
		mu.Lock()
		stopping = true
		mu.Unlock()
		<-done
	}
}
