package ikc

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
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

// captureUnits splits one direction of a capture into negotiation lines
// (terminator removed) and frame payloads.
func captureUnits(b []byte) (lines []string, frames [][]byte, err error) {
	for len(b) > 0 {
		if b[0] >= '0' && b[0] <= '9' {
			nul := bytes.IndexByte(b, 0)
			if nul < 0 {
				return nil, nil, fmt.Errorf("frame header without NUL")
			}
			n, err := strconv.Atoi(string(b[:nul]))
			if err != nil || nul+1+n > len(b) {
				return nil, nil, fmt.Errorf("bad frame header %q", b[:nul])
			}
			frames = append(frames, b[nul+1:nul+1+n])
			b = b[nul+1+n:]
			continue
		}
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			return nil, nil, fmt.Errorf("unterminated line")
		}
		lines = append(lines, string(b[:i]))
		b = b[i:]
		for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
			b = b[1:]
		}
	}
	return lines, frames, nil
}

// setupKernel returns the first KERNEL entry of a SETUP line.
func setupKernel(line string) string {
	sp, err := protocol.ParseSetup(line)
	if err != nil || len(sp.Kernels) == 0 {
		return ""
	}
	return sp.Kernels[0]
}

// normalize decodes a frame to plain Go values with the kernel ID from
// replaced by to in every string.
func normalize(t *testing.T, payload []byte, from, to string) any {
	t.Helper()
	v, err := storable.Decode(payload)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	var walk func(any) any
	walk = func(x any) any {
		switch y := x.(type) {
		case string:
			return strings.ReplaceAll(y, from, to)
		case []any:
			for i := range y {
				y[i] = walk(y[i])
			}
		case map[string]any:
			for k, e := range y {
				y[k] = walk(e)
			}
		}
		return x
	}
	return walk(protocol.FromValue(v))
}

// replayServer runs a Go server named "Server" (setup adds its sessions),
// sends the capture's client bytes, and returns the capture's server
// frames and the Go server's, both normalized to the capture's server ID.
func replayServer(t *testing.T, name string, setup func(k *poe.Kernel)) (want, got []any) {
	t.Helper()
	dir := filepath.Join(ikctest.CapturesDir, name)
	c2s, err := os.ReadFile(filepath.Join(dir, "conn1.c2s.bin"))
	if err != nil {
		t.Skipf("capture %s not available: %v", name, err)
	}
	s2c, err := os.ReadFile(filepath.Join(dir, "conn1.s2c.bin"))
	if err != nil {
		t.Fatal(err)
	}
	sLines, sFrames, err := captureUnits(s2c)
	if err != nil {
		t.Fatal(err)
	}
	perlServerID := setupKernel(sLines[0])

	var port int
	var kernelID string
	ikctest.StartNode(t, func(k *poe.Kernel) {
		s, err := NewServer(k, ServerOptions{IP: "127.0.0.1", Port: EphemeralPort, Name: "Server"})
		if err != nil {
			t.Error(err)
			return
		}
		port, kernelID = s.Port(), k.ID()
		setup(k)
	})
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(ikctest.Timeout))
	// The client's SETUP line, then the server's.
	nl := bytes.IndexByte(c2s, '\n')
	if _, err := conn.Write(c2s[:nl+1]); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	wantPrefix := "SETUP KERNEL=" + kernelID + ",Server,127.0.0.1:"
	if !strings.HasPrefix(line, wantPrefix) || !strings.Contains(line, ";FREEZER=Storable;PID=") || !strings.HasSuffix(line, "\r\n") {
		t.Errorf("server SETUP %q, want %s<port>;FREEZER=Storable;PID=<pid>\\r\\n (capture: %q)", line, wantPrefix, sLines[0])
	}
	if _, err := conn.Write(c2s[nl+1:]); err != nil {
		t.Fatal(err)
	}
	for _, f := range sFrames {
		want = append(want, normalize(t, f, perlServerID, "SERVER-ID"))
	}
	fr := freezer.NewReader(br, 0)
	for len(got) < len(sFrames) {
		p, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %d of %d frames: %v", len(got), len(sFrames), err)
		}
		got = append(got, normalize(t, p, kernelID, "SERVER-ID"))
	}
	// Nothing more must come (undef results and is_error requests get
	// no answer).
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if p, err := fr.ReadFrame(); err == nil {
		t.Errorf("unexpected extra frame: %v", normalize(t, p, kernelID, "SERVER-ID"))
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		if err != io.EOF {
			t.Logf("after the frames: %v", err)
		}
	}
	return want, got
}

func compareFrames(t *testing.T, want, got []any) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(want[i], got[i]) {
			t.Errorf("frame %d:\n got  %#v\n want %#v", i, got[i], want[i])
		}
	}
}

// TestCaptureReplay feeds the client side of Perl captures to a Go server
// (ikc-protocol.md I33-I36) and checks its answers and reactions.
func TestCaptureReplay(t *testing.T) {
	t.Run("I33", func(t *testing.T) { // c-post
		rec := ikctest.NewRecorder()
		want, got := replayServer(t, "c-post", func(k *poe.Kernel) {
			ts := ikctest.Session(k, "test", map[string]poe.Handler{"posted": rec.Handler("posted", nil)})
			Publish(k, ts, "posted")
		})
		compareFrames(t, want, got)
		wantArgs := []any{
			"hello",
			map[string]any{"list": []any{int64(1), int64(-1), int64(300), "two", nil}, "number": "1.5", "text": "café ☺"},
			[]any{"a", "b"},
		}
		for i, w := range wantArgs {
			g := rec.Wait(t)
			if len(g) != 2 || !reflect.DeepEqual(g[1], w) {
				t.Errorf("post %d: posted got %#v, want ARG0 %#v (one argument)", i, g[1:], w)
			}
		}
	})
	t.Run("I34", func(t *testing.T) { // d-call-rsvp
		rec := ikctest.NewRecorder()
		want, got := replayServer(t, "d-call-rsvp", func(k *poe.Kernel) {
			ts := ikctest.Session(k, "test", map[string]poe.Handler{
				"add": func(e *poe.Event) any {
					sum := int64(0)
					for _, x := range e.Slice(poe.ARG0) {
						sum += x.(int64)
					}
					rec <- []any{"add", sum}
					return sum
				},
				"nothing": rec.Handler("nothing", nil),
				"echo":    func(e *poe.Event) any { rec <- []any{"echo"}; return e.Arg(poe.ARG0) },
			})
			Publish(k, ts, "add", "nothing", "echo")
		})
		compareFrames(t, want, got)
		for _, name := range []string{"add", "nothing", "echo"} {
			rec.WaitFor(t, name)
		}
	})
	t.Run("I35", func(t *testing.T) { // e-remote-error
		rec := ikctest.NewRecorder()
		want, got := replayServer(t, "e-remote-error", func(k *poe.Kernel) {
			ts := ikctest.Session(k, "test", map[string]poe.Handler{
				"posted": rec.Handler("posted", nil),
				"error": func(e *poe.Event) any {
					rec <- []any{"error", e.Arg(poe.ARG1), e.Arg(poe.ARG4), e.Arg(poe.ARG5)}
					return nil
				},
			})
			ts.Do(func() {
				Publish(k, ts, "posted")
				Monitor(k, "*", map[string]string{"error": "error"}, nil)
			})
		})
		compareFrames(t, want, got)
		// server.log: four local-check errors with these texts.
		texts := []string{
			"Session 'nosuch' is not available for remote kernels.  Request poe://Server/nosuch/state",
			"Session 'test' has not published state 'unpublished'.  Request poe://Server/test/unpublished",
			"Session 'nosuch' is not available for remote kernels.  Request poe://Server/nosuch/state sent by poe://vm-6b04914c-00002c97-00000001/client/IKC:proxy",
			"Session 'nosuch' is not available for remote kernels.  Request poe://Server/nosuch/state",
		}
		for _, w := range texts {
			g := rec.WaitFor(t, "error")
			if g[1] != "Server" || g[2] != "local-check" || g[3] != w {
				t.Errorf("monitor error %q, want Server local-check %q", g[1:], w)
			}
		}
	})
	t.Run("I36", func(t *testing.T) { // f-subscribe
		rec := ikctest.NewRecorder()
		want, got := replayServer(t, "f-subscribe", func(k *poe.Kernel) {
			ts := ikctest.Session(k, "test", map[string]poe.Handler{
				"method": func(e *poe.Event) any {
					rec <- []any{"method", e.Arg(poe.ARG0)}
					e.Kernel.Post(e.Sender, "YOW", "from", "server")
					return nil
				},
			})
			Publish(k, ts, "method")
		})
		compareFrames(t, want, got)
		if g := rec.WaitFor(t, "method"); !reflect.DeepEqual(g[1], map[string]any{"type": "method"}) {
			t.Errorf("method ARG0 %#v", g[1])
		}
	})
}
