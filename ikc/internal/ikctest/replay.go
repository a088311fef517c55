package ikctest

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
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

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// WireUnit is one negotiation line (terminator included in Raw) or one
// frame (payload in Raw) of one direction of a capture.
type WireUnit struct {
	Line bool
	Raw  []byte
	End  int // offset after the unit in its direction's stream
}

// Text describes the unit for messages.
func (u WireUnit) Text() string {
	if u.Line {
		return strings.TrimRight(string(u.Raw), "\r\n")
	}
	return fmt.Sprintf("frame(%d bytes)", len(u.Raw))
}

// SplitWire splits a direction of a capture into lines and frames.
func SplitWire(t *testing.T, b []byte) []WireUnit {
	t.Helper()
	var out []WireUnit
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
			out = append(out, WireUnit{Raw: rest[nul+1 : nul+1+n], End: off})
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
		out = append(out, WireUnit{Line: true, Raw: rest[:j], End: off})
	}
	return out
}

// ReplayStep: once the peer has sent Need units, write Send.
type ReplayStep struct {
	Need int
	Send []byte
	// Rewrite, if set, adapts Send to what the peer sent so far.
	Rewrite func(send []byte, got []WireUnit) []byte
}

// CaptureConn is one connection of a capture.
type CaptureConn struct {
	C2S, S2C []byte
	Chunks   []string // "c2s 0 52 0.05" lines
}

// LoadCaptureConns reads the connections of a capture (it skips the test
// when the capture is missing).
func LoadCaptureConns(t *testing.T, name string) []CaptureConn {
	t.Helper()
	dir := filepath.Join(CapturesDir, name)
	var conns []CaptureConn
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
		conns = append(conns, CaptureConn{C2S: c2s, S2C: s2c, Chunks: strings.Split(strings.TrimSpace(string(ch)), "\n")})
	}
}

// ServerSteps turns a capture connection into what a fake server does:
// before each server chunk, wait for the client units the client had
// completely sent by then (counted in units, since the Go client's
// lengths differ).
func (c CaptureConn) ServerSteps(t *testing.T) []ReplayStep {
	return c.Steps(t, "c2s", "s2c", c.C2S, c.S2C)
}

// Steps turns the chunks of one direction (mine) into replay steps that
// wait for the units of the other (peer).
func (c CaptureConn) Steps(t *testing.T, peerDir, myDir string, peer, mine []byte) []ReplayStep {
	t.Helper()
	units := SplitWire(t, peer)
	var steps []ReplayStep
	seen := 0
	for _, l := range c.Chunks {
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
				if u.End <= seen {
					need++
				}
			}
			steps = append(steps, ReplayStep{Need: need, Send: mine[off : off+n]})
		}
	}
	return steps
}

// ReadWireUnit reads one line or frame as a peer sent it.
func ReadWireUnit(br *bufio.Reader) (WireUnit, error) {
	c, err := br.Peek(1)
	if err != nil {
		return WireUnit{}, err
	}
	if c[0] >= '0' && c[0] <= '9' {
		hdr, err := br.ReadString(0)
		if err != nil {
			return WireUnit{}, io.ErrUnexpectedEOF
		}
		n, err := strconv.Atoi(hdr[:len(hdr)-1])
		if err != nil || n > 1<<20 {
			return WireUnit{}, fmt.Errorf("bad frame header %q", hdr)
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			return WireUnit{}, err
		}
		return WireUnit{Raw: p}, nil
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		return WireUnit{}, err
	}
	return WireUnit{Line: true, Raw: line}, nil
}

// PlayScript runs steps on conn and records everything the peer sends
// until it closes the connection (or the timeout). The recorded units are
// sent to the returned channel when done.
func PlayScript(conn net.Conn, steps []ReplayStep, timeout time.Duration) <-chan []WireUnit {
	out := make(chan []WireUnit, 1)
	go func() {
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(timeout))
		br := bufio.NewReader(conn)
		var got []WireUnit
		read := func() bool {
			u, err := ReadWireUnit(br)
			if err != nil {
				return false
			}
			got = append(got, u)
			return true
		}
		for _, s := range steps {
			for len(got) < s.Need {
				if !read() {
					out <- got
					return
				}
			}
			send := s.Send
			if s.Rewrite != nil {
				send = s.Rewrite(send, got)
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

// FakeServer accepts one connection per script, in order, and plays it.
// It returns the listening port and, per connection, the units the
// client sent.
func FakeServer(t *testing.T, scripts [][]ReplayStep) (int, []<-chan []WireUnit) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	chans := make([]<-chan []WireUnit, len(scripts))
	conns := make([]chan net.Conn, len(scripts))
	for i := range scripts {
		conns[i] = make(chan net.Conn, 1)
		ch := make(chan []WireUnit, 1)
		chans[i] = ch
		go func(i int, ch chan []WireUnit) {
			c, ok := <-conns[i]
			if !ok {
				close(ch)
				return
			}
			ch <- <-PlayScript(c, scripts[i], Timeout)
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

// Recv waits for a recorded unit list.
func Recv(t *testing.T, ch <-chan []WireUnit) []WireUnit {
	t.Helper()
	select {
	case u := <-ch:
		return u
	case <-time.After(Timeout + time.Second):
		t.Fatal("replay peer did not finish")
		return nil
	}
}

// Masker replaces the fields that vary between runs (ikc-protocol.md §17).
type Masker []struct {
	re   *regexp.Regexp
	with string
}

// Apply masks s.
func (m Masker) Apply(s string) string {
	for _, r := range m {
		s = r.re.ReplaceAllString(s, r.with)
	}
	return s
}

// Add returns m with one more replacement.
func (m Masker) Add(re, with string) Masker {
	return append(m, struct {
		re   *regexp.Regexp
		with string
	}{regexp.MustCompile(re), with})
}

// BaseMask masks PIDs and 127.0.0.1 ports.
func BaseMask() Masker {
	return Masker{}.Add(`PID=\d+`, "PID=<pid>").Add(`127\.0\.0\.1:\d+`, "127.0.0.1:<port>")
}

// CanonFrame decodes a Storable payload, masks every string, sorts hash
// keys and re-encodes: equal results mean equal frames modulo the varying
// fields (types, structure and values are all compared).
func CanonFrame(t *testing.T, payload []byte, m Masker) string {
	t.Helper()
	v, err := storable.Decode(payload)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	var walk func(storable.Value) storable.Value
	walk = func(v storable.Value) storable.Value {
		switch x := v.(type) {
		case storable.Bytes:
			return storable.Bytes(m.Apply(string(x)))
		case storable.String:
			return storable.String(m.Apply(string(x)))
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
				h.Entries = append(h.Entries, storable.Entry{Key: m.Apply(e.Key), UTF8: e.UTF8, Value: ev})
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

// CompareUnits checks that got equals want unit by unit, modulo m.
func CompareUnits(t *testing.T, what string, want, got []WireUnit, m Masker) {
	t.Helper()
	n := len(want)
	if len(got) > n {
		n = len(got)
	}
	for i := 0; i < n; i++ {
		switch {
		case i >= len(got):
			t.Errorf("%s unit %d missing, want %s", what, i, want[i].Text())
		case i >= len(want):
			t.Errorf("%s unit %d unexpected: %s", what, i, got[i].Text())
		case want[i].Line != got[i].Line:
			t.Errorf("%s unit %d: got %s, want %s", what, i, got[i].Text(), want[i].Text())
		case want[i].Line:
			if w, g := m.Apply(string(want[i].Raw)), m.Apply(string(got[i].Raw)); w != g {
				t.Errorf("%s line %d: got %q, want %q", what, i, g, w)
			}
		default:
			if w, g := CanonFrame(t, want[i].Raw, m), CanonFrame(t, got[i].Raw, m); w != g {
				t.Errorf("%s frame %d:\n got  %s\n want %s", what, i, g, w)
			}
		}
	}
}

// CapturesDir holds the recordings of real Perl IKC sessions.
var CapturesDir = filepath.Join(moduleRoot(), "testdata", "ikc", "captures")

// moduleRoot is the directory of go.mod above the working directory (a
// test runs in its package's directory).
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		up := filepath.Dir(d)
		if up == d {
			return dir
		}
		d = up
	}
}
