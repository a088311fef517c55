package clientlite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc"
	"github.com/poe-go/poe/poe"
)

// TestClientLiteConcurrent: goroutines share one Client; every Call,
// CallList and PostRespond gets the answer to its own arguments.
func TestClientLiteConcurrent(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	_, port, _ := liteServer(t, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort, Logger: quiet})
	ctx := liteCtx(t)
	l, err := Dial(ctx, Options{Host: "127.0.0.1", Port: port, Name: "LiteClient"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Disconnect()
	const goroutines, calls = 64, 80
	var wrong, failed atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				arg := fmt.Sprintf("g%d-%d", g, i)
				var got any
				var err error
				switch i % 5 {
				case 4:
					// A refused call gets the error report naming its own
					// target; a refused post next to it fails nobody.
					state := fmt.Sprintf("nope%d_%d", g, i)
					l.Post(ctx, "test/gone"+state)
					_, err = l.Call(ctx, "test/"+state)
					var re *RemoteError
					if errors.As(err, &re) && strings.Contains(re.Text, "'"+state+"'") {
						err, got = nil, arg
					}
				case 0:
					var v []any
					v, err = l.CallList(ctx, "test/echo", arg)
					if len(v) == 1 {
						got = v[0]
					}
				case 1:
					var v any
					v, err = l.PostRespond(ctx, "test/inc", int64(g*calls+i))
					if v != int64(g*calls+i+1) {
						got = v
					} else {
						got = arg
					}
				default:
					got, err = l.Call(ctx, "test/echo", arg)
				}
				if err != nil {
					if failed.Add(1) <= 3 {
						t.Errorf("%s: %v", arg, err)
					}
					continue
				}
				if got != arg {
					if wrong.Add(1) <= 3 {
						t.Errorf("%s: got %#v", arg, got)
					}
				}
			}
		})
	}
	wg.Wait()
	if wrong.Load() > 0 || failed.Load() > 0 {
		t.Errorf("%d wrong answers, %d errors of %d requests", wrong.Load(), failed.Load(), goroutines*calls)
	}
}

// TestClientLiteCancelOwnCall: a cancelled or timed-out call ends alone;
// calls waiting next to it on the same connection get their answers, and
// the connection stays up.
func TestClientLiteCancelOwnCall(t *testing.T) {
	_, l, ctx, rec := liteConnected(t)
	// test/nothing never answers: these calls only end by their contexts.
	cctx, cancel := context.WithCancel(ctx)
	dctx, dcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer dcancel()
	errs := make(chan error, 2)
	go func() { _, err := l.Call(cctx, "test/nothing"); errs <- err }()
	go func() { _, err := l.Call(dctx, "test/nothing"); errs <- err }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrNoResponse) || !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("ended call: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a cancelled call did not end")
		}
	}
	for i := range 20 {
		if v, err := l.Call(ctx, "test/echo", i); err != nil || v != int64(i) {
			t.Fatalf("echo %d after the cancellations: %#v, %v", i, v, err)
		}
	}
	for {
		select {
		case g := <-rec:
			if g[0] == "reg" || g[0] == "unreg" {
				t.Errorf("the connection was renewed (%v)", g)
			}
			continue
		default:
		}
		break
	}
}

// TestClientLiteLostConnection: when the server drops the connection,
// every waiting call fails at once with ErrConnClosed; the next call
// reconnects.
func TestClientLiteLostConnection(t *testing.T) {
	n, l, ctx, _ := liteConnected(t)
	const waiting = 10
	errs := make(chan error, waiting)
	for range waiting {
		go func() { _, err := l.Call(ctx, "test/nothing"); errs <- err }()
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	n.Do(func(k *poe.Kernel) { k.Call(ikc.ResponderAlias, "unregister", "LiteClient") })
	for range waiting {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrConnClosed) {
				t.Errorf("waiting call: %v, want ErrConnClosed", err)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("a waiting call did not fail when the connection was lost")
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the waiting calls failed after %v", d)
	}
	if v, err := l.Call(ctx, "test/echo", "again"); err != nil || v != "again" {
		t.Errorf("after the loss: %#v, %v", v, err)
	}
}

// TestClientLiteDisconnectFailsWaiters: Disconnect ends the calls that
// wait on the connection.
func TestClientLiteDisconnectFailsWaiters(t *testing.T) {
	_, port, _ := liteServer(t, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort})
	ctx := liteCtx(t)
	l, err := Dial(ctx, Options{Host: "127.0.0.1", Port: port, Name: "LiteClient"})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 1)
	go func() { _, err := l.Call(ctx, "test/nothing"); errs <- err }()
	time.Sleep(100 * time.Millisecond)
	l.Disconnect()
	select {
	case err := <-errs:
		if !errors.Is(err, ErrConnClosed) {
			t.Errorf("call during Disconnect: %v, want ErrConnClosed", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Disconnect left a call waiting")
	}
}

// kernelID matches a POE kernel ID (ikc-protocol.md §4.3).
var kernelID = regexp.MustCompile(`^[-\w.]+-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$`)

// TestLiteNegotiated: the Lite tells the freezer and the server's names
// the handshake gave, in both dialects.
func TestLiteNegotiated(t *testing.T) {
	_, port, _ := liteServer(t, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort})
	ctx := liteCtx(t)
	for _, proto := range []string{"IKC0", "IKC"} {
		for _, ser := range []string{"Storable", "YAML", "FreezeThaw"} {
			l, err := Dial(ctx, Options{Host: "127.0.0.1", Port: port, Name: "Lite" + proto + ser, Protocol: proto, Serializer: ser})
			if err != nil {
				t.Fatal(err)
			}
			names := l.RemoteNames()
			sock := "127.0.0.1:" + strconv.Itoa(port)
			if len(names) != 4 || !kernelID.MatchString(names[0]) ||
				!slices.Contains(names, "Inet") || !slices.Contains(names, "Ikc") || !slices.Contains(names, sock) {
				t.Errorf("%s: RemoteNames() = %q, want the kernel ID, Inet, Ikc and %s", proto, names, sock)
			}
			if proto == "IKC0" && l.RemoteKernel() != names[0] {
				t.Errorf("IKC0: RemoteKernel() = %q, want the kernel ID %q", l.RemoteKernel(), names[0])
			}
			if l.Freezer() != ser || l.Protocol() != proto {
				t.Errorf("Freezer() = %q, Protocol() = %q; want %s, %s", l.Freezer(), l.Protocol(), ser, proto)
			}
			l.Disconnect()
		}
	}
}
