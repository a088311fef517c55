package ikc

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"github.com/poe-go/poe/ikc/protocol"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// wireUnit is one negotiation line (terminator included in raw) or one
// frame (payload in raw) of one direction of a capture.
type wireUnit struct {
	line bool
	raw  []byte
	end  int // offset after the unit in its direction's stream
}

func (u wireUnit) text() string {
	if u.line {
		return strings.TrimRight(string(u.raw), "\r\n")
	}
	return fmt.Sprintf("frame(%d bytes)", len(u.raw))
}

// splitWire splits a direction of a capture into lines and frames.
func splitWire(t *testing.T, b []byte) []wireUnit {
	t.Helper()
	var out []wireUnit
	off := 0
	for off < len(b) {
		rest := b[off:]
		if rest[0] >= '0' && rest[0] <= '9' {
			nul := bytes.IndexByte(rest, 0)
			n, err := strconv.Atoi(string(rest[:nul]))
			if nul < 0 || err != nil || nul+1+n > len(rest) {
				t.Fatalf("bad frame at %d", off)
			}
			off += nul + 1 + n
			out = append(out, wireUnit{raw: rest[nul+1 : nul+1+n], end: off})
			continue
		}
		i := bytes.IndexAny(rest, "\r\n")
		if i < 0 {
			t.Fatalf("unterminated line at %d", off)
		}
		j := i
		for j < len(rest) && j < i+2 && (rest[j] == '\r' || rest[j] == '\n') {
			j++
		}
		off += j
		out = append(out, wireUnit{line: true, raw: rest[:j], end: off})
	}
	return out
}

// replayStep: once the peer has sent need units, write send.
type replayStep struct {
	need int
	send []byte
	// rewrite, if set, adapts send to what the peer sent so far.
	rewrite func(send []byte, got []wireUnit) []byte
}

// captureConn is one connection of a capture.
type captureConn struct {
	c2s, s2c []byte
	chunks   []string // "c2s 0 52 0.05" lines
}

func loadCaptureConns(t *testing.T, name string) []captureConn {
	t.Helper()
	dir := filepath.Join(capturesDir, name)
	var conns []captureConn
	for i := 1; ; i++ {
		p := filepath.Join(dir, "conn"+strconv.Itoa(i))
		c2s, err := os.ReadFile(p + ".c2s.bin")
		if err != nil {
			if i == 1 {
				t.Skipf("capture %s not available: %v", name, err)
			}
			return conns
		}
		s2c, err := os.ReadFile(p + ".s2c.bin")
		if err != nil {
			t.Fatal(err)
		}
		ch, err := os.ReadFile(p + ".chunks")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, captureConn{c2s: c2s, s2c: s2c, chunks: strings.Split(strings.TrimSpace(string(ch)), "\n")})
	}
}

// serverSteps turns a capture connection into what a fake server does:
// before each server chunk, wait for the client units the client had
// completely sent by then (counted in units, since the Go client's
// lengths differ).
func (c captureConn) serverSteps(t *testing.T) []replayStep {
	return c.steps(t, "c2s", "s2c", c.c2s, c.s2c)
}

func (c captureConn) steps(t *testing.T, peerDir, myDir string, peer, mine []byte) []replayStep {
	t.Helper()
	units := splitWire(t, peer)
	var steps []replayStep
	seen := 0
	for _, l := range c.chunks {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		off, _ := strconv.Atoi(f[1])
		n, _ := strconv.Atoi(f[2])
		switch f[0] {
		case peerDir:
			seen = off + n
		case myDir:
			need := 0
			for _, u := range units {
				if u.end <= seen {
					need++
				}
			}
			steps = append(steps, replayStep{need: need, send: mine[off : off+n]})
		}
	}
	return steps
}

// readWireUnit reads one line or frame as a peer sent it.
func readWireUnit(br *bufio.Reader) (wireUnit, error) {
	c, err := br.Peek(1)
	if err != nil {
		return wireUnit{}, err
	}
	if c[0] >= '0' && c[0] <= '9' {
		hdr, err := br.ReadString(0)
		if err != nil {
			return wireUnit{}, io.ErrUnexpectedEOF
		}
		n, err := strconv.Atoi(hdr[:len(hdr)-1])
		if err != nil || n > 1<<20 {
			return wireUnit{}, fmt.Errorf("bad frame header %q", hdr)
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			return wireUnit{}, err
		}
		return wireUnit{raw: p}, nil
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		return wireUnit{}, err
	}
	return wireUnit{line: true, raw: line}, nil
}

// playScript runs steps on conn and records everything the peer sends
// until it closes the connection (or the timeout). The recorded units are
// sent to the returned channel when done.
func playScript(conn net.Conn, steps []replayStep, timeout time.Duration) <-chan []wireUnit {
	out := make(chan []wireUnit, 1)
	go func() {
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(timeout))
		br := bufio.NewReader(conn)
		var got []wireUnit
		read := func() bool {
			u, err := readWireUnit(br)
			if err != nil {
				return false
			}
			got = append(got, u)
			return true
		}
		for _, s := range steps {
			for len(got) < s.need {
				if !read() {
					out <- got
					return
				}
			}
			send := s.send
			if s.rewrite != nil {
				send = s.rewrite(send, got)
			}
			if _, err := conn.Write(send); err != nil {
				out <- got
				return
			}
		}
		for read() {
		}
		out <- got
	}()
	return out
}

// fakeServer accepts one connection per script, in order, and plays it.
// It returns the listening port and, per connection, the units the
// client sent.
func fakeServer(t *testing.T, scripts [][]replayStep) (int, []<-chan []wireUnit) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	chans := make([]<-chan []wireUnit, len(scripts))
	conns := make([]chan net.Conn, len(scripts))
	for i := range scripts {
		conns[i] = make(chan net.Conn, 1)
		ch := make(chan []wireUnit, 1)
		chans[i] = ch
		go func(i int, ch chan []wireUnit) {
			c, ok := <-conns[i]
			if !ok {
				close(ch)
				return
			}
			ch <- <-playScript(c, scripts[i], testTimeout)
		}(i, ch)
	}
	go func() {
		for i := range scripts {
			c, err := ln.Accept()
			if err != nil {
				for j := i; j < len(scripts); j++ {
					close(conns[j])
				}
				return
			}
			conns[i] <- c
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, chans
}

// recv waits for a recorded unit list.
func recv(t *testing.T, ch <-chan []wireUnit) []wireUnit {
	t.Helper()
	select {
	case u := <-ch:
		return u
	case <-time.After(testTimeout + time.Second):
		t.Fatal("replay peer did not finish")
		return nil
	}
}

// masker replaces the fields that vary between runs (spec 17).
type masker []struct {
	re   *regexp.Regexp
	with string
}

func (m masker) apply(s string) string {
	for _, r := range m {
		s = r.re.ReplaceAllString(s, r.with)
	}
	return s
}

func (m masker) add(re, with string) masker {
	return append(m, struct {
		re   *regexp.Regexp
		with string
	}{regexp.MustCompile(re), with})
}

// baseMask masks PIDs and 127.0.0.1 ports.
func baseMask() masker {
	return masker{}.add(`PID=\d+`, "PID=<pid>").add(`127\.0\.0\.1:\d+`, "127.0.0.1:<port>")
}

// canonFrame decodes a Storable payload, masks every string, sorts hash
// keys and re-encodes: equal results mean equal frames modulo the varying
// fields (types, structure and values are all compared).
func canonFrame(t *testing.T, payload []byte, m masker) string {
	t.Helper()
	v, err := storable.Decode(payload)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	var walk func(storable.Value) storable.Value
	walk = func(v storable.Value) storable.Value {
		switch x := v.(type) {
		case storable.Bytes:
			return storable.Bytes(m.apply(string(x)))
		case storable.String:
			return storable.String(m.apply(string(x)))
		case *storable.Array:
			a := &storable.Array{Class: x.Class, Elems: make([]storable.Value, len(x.Elems))}
			for i, e := range x.Elems {
				a.Elems[i] = walk(e)
			}
			return a
		case *storable.Hash:
			h := &storable.Hash{Class: x.Class}
			for _, e := range x.Entries {
				ev := walk(e.Value)
				if _, ok := ev.(storable.Int); ok && e.Key == "session" {
					ev = storable.Bytes("<session-number>") // POE session IDs vary
				}
				h.Entries = append(h.Entries, storable.Entry{Key: m.apply(e.Key), UTF8: e.UTF8, Value: ev})
			}
			sort.Slice(h.Entries, func(i, j int) bool { return h.Entries[i].Key < h.Entries[j].Key })
			return h
		case *storable.Ref:
			return &storable.Ref{Class: x.Class, Target: walk(x.Target)}
		}
		return v
	}
	b, err := storable.Encode(walk(v))
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return hex.EncodeToString(b) + " " + fmt.Sprint(protocol.FromValue(walk(v)))
}

// compareUnits checks that got equals want unit by unit, modulo m.
func compareUnits(t *testing.T, what string, want, got []wireUnit, m masker) {
	t.Helper()
	n := len(want)
	if len(got) > n {
		n = len(got)
	}
	for i := 0; i < n; i++ {
		switch {
		case i >= len(got):
			t.Errorf("%s unit %d missing, want %s", what, i, want[i].text())
		case i >= len(want):
			t.Errorf("%s unit %d unexpected: %s", what, i, got[i].text())
		case want[i].line != got[i].line:
			t.Errorf("%s unit %d: got %s, want %s", what, i, got[i].text(), want[i].text())
		case want[i].line:
			if w, g := m.apply(string(want[i].raw)), m.apply(string(got[i].raw)); w != g {
				t.Errorf("%s line %d: got %q, want %q", what, i, g, w)
			}
		default:
			if w, g := canonFrame(t, want[i].raw, m), canonFrame(t, got[i].raw, m); w != g {
				t.Errorf("%s frame %d:\n got  %s\n want %s", what, i, g, w)
			}
		}
	}
}
