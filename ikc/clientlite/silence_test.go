package clientlite

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc/internal/ikctest"
)

// s4Unpublished is the 0.1904 server's text for the unpublished state.
const s4Unpublished = "Session 'test' has not published state 'unpublished' [poe://127.0.0.1:<port>/test/unpublished] sent by [poe://LiteClient/IKCLite]"

// TestLiteSetupSilence: a server that says nothing to SETUP, as IKC
// 0.1904 does (testdata/ikc/captures/s3), gets HELLO after SetupSilence on the same
// connection, and the rest is the IKC exchange of testdata/ikc/captures/s4 (the seed
// server and a ClientLite in IKC), byte for byte.
func TestLiteSetupSilence(t *testing.T) {
	conn := ikctest.LoadCaptureConns(t, "s4-seed-server-clientlite-ikc")[0]
	steps := conn.ServerSteps(t)
	for i := range steps {
		steps[i].Need++ // the SETUP line comes first and gets nothing
	}
	port, got := ikctest.FakeServer(t, [][]ikctest.ReplayStep{steps})
	ctx := liteCtx(t)
	const silence = 300 * time.Millisecond
	start := time.Now()
	l, err := Dial(ctx, Options{Host: "127.0.0.1", Port: port, Name: "LiteClient", SetupSilence: silence, Timeout: ikctest.Timeout})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if d := time.Since(start); d < silence || d > silence+3*time.Second {
		t.Errorf("connected after %v, want about %v", d, silence)
	}
	if l.Protocol() != "IKC" {
		t.Errorf("Protocol() = %q after the fall-back, want IKC", l.Protocol())
	}
	liteBasicScript(t, ctx, l, s4Unpublished)
	l.Disconnect()
	units := ikctest.Recv(t, got[0])
	if len(units) == 0 || !units[0].Line || !strings.HasPrefix(units[0].Text(), "SETUP KERNEL=LiteClient;FREEZER=Storable;PID=") {
		t.Fatalf("first unit %v, want the SETUP line", units)
	}
	ikctest.CompareUnits(t, "after SETUP", ikctest.SplitWire(t, conn.C2S), units[1:], ikctest.BaseMask())
}

// TestLiteSetupSilenceOff: with a negative SetupSilence the Lite waits
// for the server until Timeout and fails, as Perl's ClientLite does.
func TestLiteSetupSilenceOff(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Read(make([]byte, 4096)) // the SETUP line, unanswered
			c.Read(make([]byte, 4096)) // until the Lite gives up
		}
	}()
	start := time.Now()
	_, err = Dial(context.Background(), Options{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Name: "LiteClient",
		SetupSilence: -1, Timeout: 700 * time.Millisecond})
	if !errors.Is(err, ErrNoResponse) {
		t.Errorf("Dial: %v, want ErrNoResponse", err)
	}
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Errorf("gave up after %v, before the Timeout", d)
	}
}

// TestLiteRealSeedServer: the Lite in its default IKC0 dialect against
// the seed's own POE::Component::IKC 0.1904 server (IKC_0_1904_PERL5LIB,
// or IKC_PERL5LIB pointing at 0.1904): silence, HELLO, IKC.
func TestLiteRealSeedServer(t *testing.T) {
	lib := ikctest.RealIKCLib(t, "0.1904")
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // 0.1904 takes port 0 for 603: it needs a free port named
	p, _ := ikctest.StartRealIKC(t, lib, "--role", "server", "--port", strconv.Itoa(port))
	ctx := liteCtx(t)
	l, err := Dial(ctx, Options{Host: "127.0.0.1", Port: port, Name: "LiteClient"})
	if err != nil {
		t.Fatalf("Dial (IKC0) to the 0.1904 server: %v", err)
	}
	defer l.Disconnect()
	if l.Protocol() != "IKC" {
		t.Errorf("Protocol() = %q, want IKC", l.Protocol())
	}
	p.Expect("register", func(e map[string]any) bool { return e["id"] == "LiteClient" })
	if v, err := l.Call(ctx, "test/echo", "seed"); err != nil || v != "seed" {
		t.Errorf("echo = %#v, %v", v, err)
	}
	if err := l.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
	_, err = l.Call(ctx, "test/unpublished")
	var re *RemoteError
	if !errors.As(err, &re) || !strings.HasPrefix(re.Text, "Session 'test' has not published state 'unpublished'") {
		t.Errorf("unpublished: %v", err)
	}
}
