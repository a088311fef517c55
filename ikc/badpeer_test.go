package ikc

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// rawPeer is a hand-driven IKC0 client on a plain socket.
type rawPeer struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
	name string
}

func dialRaw(t *testing.T, port int) *rawPeer {
	t.Helper()
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(ikctest.Timeout))
	return &rawPeer{t: t, conn: c, br: bufio.NewReader(c)}
}

func (p *rawPeer) write(s string) {
	p.t.Helper()
	if _, err := p.conn.Write([]byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

// setup sends an IKC0 SETUP for the given names and reads the answer.
func (p *rawPeer) setup(names string) string {
	p.t.Helper()
	p.write("SETUP KERNEL=" + names + ";FREEZER=Storable;PID=1\r\n")
	line, err := p.br.ReadString('\n')
	if err != nil {
		p.t.Fatalf("reading SETUP: %v", err)
	}
	return line
}

func (p *rawPeer) frame(v storable.Value) {
	p.t.Helper()
	b, err := storable.Encode(v)
	if err != nil {
		p.t.Fatal(err)
	}
	p.write(string(freezer.AppendFrame(nil, b)))
}

// closedByServer reports whether the server closes the connection.
func (p *rawPeer) closedByServer() bool {
	p.conn.SetReadDeadline(time.Now().Add(ikctest.Timeout))
	_, err := io.Copy(io.Discard, p.br)
	var ne net.Error
	return err == nil || !(errors.As(err, &ne) && ne.Timeout())
}

// TestBadPeers: garbage, bad frames, oversized frames, duplicate IDs,
// silent and vanishing peers never take the server down (ikc-protocol.md §14, 16 #1,
// #2, #22); every other peer is still served.
func TestBadPeers(t *testing.T) {
	rec := ikctest.NewRecorder()
	var port int
	ikctest.StartNode(t, func(k *poe.Kernel) {
		s, err := NewServer(k, ServerOptions{IP: "127.0.0.1", Port: EphemeralPort, Name: "Server", NegotiationTimeout: 300 * time.Millisecond, MaxFrame: 1 << 16})
		if err != nil {
			t.Error(err)
			return
		}
		port = s.Port()
		ts := ikctest.Session(k, "test", map[string]poe.Handler{"posted": rec.Handler("posted", nil)})
		Publish(k, ts, "posted")
	})
	post := func(t *testing.T, p *rawPeer, what string) {
		t.Helper()
		p.frame(storable.NewHash("event", storable.Bytes("poe://Server/test/posted"), "params", storable.Bytes(what)))
		if g := rec.WaitFor(t, "posted"); g[1] != what {
			t.Fatalf("posted %v, want %s", g[1], what)
		}
	}
	t.Run("garbage-negotiation", func(t *testing.T) {
		p := dialRaw(t, port)
		p.write("\x00\x01garbage\r\nmore garbage\r\n")
		p.conn.Close()
	})
	t.Run("silent-peer", func(t *testing.T) {
		p := dialRaw(t, port)
		if !p.closedByServer() {
			t.Fatal("silent peer not dropped after the negotiation timeout")
		}
	})
	t.Run("long-line", func(t *testing.T) {
		p := dialRaw(t, port)
		p.write(strings.Repeat("x", protocol.DefaultMaxLine+10) + "\r\n")
		if !p.closedByServer() {
			t.Fatal("not dropped")
		}
	})
	t.Run("not-storable", func(t *testing.T) {
		p := dialRaw(t, port)
		p.setup("Bad1")
		p.write("3\x00abc")
		if !p.closedByServer() {
			t.Fatal("not dropped")
		}
	})
	t.Run("array-frame", func(t *testing.T) {
		p := dialRaw(t, port)
		p.setup("Bad2")
		p.frame(storable.NewArray(storable.Bytes("x")))
		if !p.closedByServer() {
			t.Fatal("not dropped")
		}
	})
	t.Run("oversized-frame", func(t *testing.T) {
		p := dialRaw(t, port)
		p.setup("Bad3")
		p.write("99999999\x00")
		if !p.closedByServer() {
			t.Fatal("not dropped")
		}
	})
	t.Run("bad-header", func(t *testing.T) {
		p := dialRaw(t, port)
		p.setup("Bad4")
		p.write("12x\x00abc")
		if !p.closedByServer() {
			t.Fatal("not dropped")
		}
	})
	t.Run("vanish-mid-frame", func(t *testing.T) {
		p := dialRaw(t, port)
		p.setup("Bad5")
		p.write("100\x00\x05\x0b")
		p.conn.Close()
	})
	t.Run("duplicate-id", func(t *testing.T) {
		a := dialRaw(t, port)
		a.setup("Dup")
		b := dialRaw(t, port)
		b.setup("Dup")
		if !b.closedByServer() {
			t.Fatal("duplicate kernel ID not refused")
		}
		post(t, a, "first still works")
	})
	t.Run("still-serving", func(t *testing.T) {
		p := dialRaw(t, port)
		if line := p.setup("Good,GoodAlias"); !strings.HasPrefix(line, "SETUP KERNEL=") {
			t.Fatalf("SETUP answer %q", line)
		}
		post(t, p, "hello")
	})
}
