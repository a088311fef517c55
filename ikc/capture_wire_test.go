package ikc

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
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

// TestYAMLFramesCapture (ikc-protocol.md I38): h-yaml-freezer's client
// bytes against a Go server that accepts YAML.
func TestYAMLFramesCapture(t *testing.T) {
	t.Run("I38", testYAMLServer)
}

// TestOldServerCaptures (I39): the 0.1904 server's captures against a Go
// Client: error params as a string (s1) and the IKC0 SETUP silence (s3).
func TestOldServerCaptures(t *testing.T) {
	t.Run("I39", func(t *testing.T) {
		t.Run("s1", testS1StringErrors)
		t.Run("s3", testS3SetupSilence)
	})
}

// TestMalformedProbes (I40): malformed lines, an undecodable frame and a
// frame that is not a hash, against a Go server that must survive them
// (ikc-protocol.md §16 #1).
func TestMalformedProbes(t *testing.T) {
	t.Run("I40", testProbes)
}

// testYAMLServer: h-yaml-freezer's client bytes to a Go server accepting
// YAML; it answers SETUP with FREEZER=YAML and replies in YAML with the
// capture's value.
func testYAMLServer(t *testing.T) {
	dir := filepath.Join(ikctest.CapturesDir, "h-yaml-freezer")
	c2s, err := os.ReadFile(filepath.Join(dir, "conn1.c2s.bin"))
	if err != nil {
		t.Skipf("capture not available: %v", err)
	}
	s2c, err := os.ReadFile(filepath.Join(dir, "conn1.s2c.bin"))
	if err != nil {
		t.Fatal(err)
	}
	yaml, err := freezer.Lookup("YAML")
	if err != nil {
		t.Fatal(err)
	}
	sLines, sFrames, err := captureUnits(s2c)
	if err != nil {
		t.Fatal(err)
	}
	perlID := setupKernel(sLines[0])
	rec := ikctest.NewRecorder()
	var port int
	var goID string
	ikctest.StartNode(t, func(k *poe.Kernel) {
		s, err := NewServer(k, ServerOptions{IP: "127.0.0.1", Port: EphemeralPort, Name: "Server", Serializers: []string{"Storable", "YAML"}})
		if err != nil {
			t.Error(err)
			return
		}
		port, goID = s.Port(), k.ID()
		ts := ikctest.Session(k, "test", map[string]poe.Handler{
			"posted": rec.Handler("posted", nil),
			"add": func(e *poe.Event) any {
				sum := int64(0)
				for _, x := range e.Slice(poe.ARG0) { // YAML numbers arrive as text
					n, _ := strconv.ParseInt(FromValueString(x), 10, 64)
					sum += n
				}
				return sum
			},
		})
		Publish(k, ts, "posted", "add")
	})
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(ikctest.Timeout))
	nl := bytes.IndexByte(c2s, '\n')
	conn.Write(c2s[:nl+1])
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, ";FREEZER=YAML;") {
		t.Fatalf("server SETUP %q does not pick YAML (capture: %q)", line, sLines[0])
	}
	conn.Write(c2s[nl+1:])
	if g := rec.WaitFor(t, "posted"); !reflect.DeepEqual(g[1:], []any{[]any{"1", "two", map[string]any{"three": "3"}}}) {
		t.Errorf("posted args %#v", g[1:])
	}
	fr := freezer.NewReader(br, 0)
	for i, f := range sFrames {
		p, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if bytes.HasPrefix(p, []byte{5}) || !bytes.HasPrefix(p, []byte("---")) {
			t.Errorf("frame %d is not YAML: %q", i, p)
		}
		want, err := yaml.Thaw(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := yaml.Thaw(p)
		if err != nil {
			t.Fatalf("Go frame %d does not thaw as YAML: %v\n%s", i, err, p)
		}
		w := strings.ReplaceAll(FromValueString(protocol.FromValue(want)), perlID, "SERVER-ID")
		g := strings.ReplaceAll(FromValueString(protocol.FromValue(got)), goID, "SERVER-ID")
		if w != g {
			t.Errorf("frame %d:\n got  %s\n want %s", i, g, w)
		}
	}
}

// testS1StringErrors: a 0.1904 server's errors are one string (published
// lists, [spec] brackets); the Go client hands them to error monitors
// unchanged, as Perl's client.log shows.
func testS1StringErrors(t *testing.T) {
	const name = "s1-seed-server-ikc-client-errors"
	c := replayClient(t, name, ClientOptions{Protocol: "IKC", Serializers: []string{"Storable", "FreezeThaw"}})
	want := c.perlLog(name, "register")
	if got := c.monitors(len(want)); len(got) != len(want) {
		t.Fatalf("register monitors %q, want %q", got, want)
	}
	c.n.Do(func(k *poe.Kernel) {
		Post(k, "poe://Server/nosuch/state", 1)
		Post(k, "poe://Server/test/unpublished", 2)
	})
	got := c.monitors(2)
	c.n.Do(func(k *poe.Kernel) {
		k.AliasResolve("client").Do(func() { Post(k, "poe://Server/nosuch/state", 3) })
	})
	got = append(got, c.monitors(1)...)
	c.n.Do(func(k *poe.Kernel) {
		to, _ := protocol.StringAddress("poe://Server/nosuch/state")
		ResponderOf(k).send(&protocol.Message{Event: to, Params: storable.Int(4), IsError: true}, nil)
	})
	// client.log's error lines span several lines (the published list).
	b, err := os.ReadFile(filepath.Join(ikctest.CapturesDir, name, "client.log"))
	if err != nil {
		t.Fatal(err)
	}
	var wantErr []string
	for _, blk := range strings.Split(string(b), "CLIENT: monitor ")[1:] {
		if strings.HasPrefix(blk, "error ") {
			wantErr = append(wantErr, strings.TrimSuffix(strings.SplitN(blk, "\nCLIENT:", 2)[0], "\n"))
		}
	}
	if len(wantErr) != 3 || len(sFramesOf(t, "h-yaml-freezer")) != 1 {
		t.Fatalf("capture: %d error lines", len(wantErr))
	}
	m := ikctest.Masker{}.Add(regexp.QuoteMeta("vm-6b049155-00002d0e-00000001"), "<client-id>").Add(regexp.QuoteMeta(c.goID), "<client-id>")
	if strings.Join(mapStrings(got, m.Apply), "|") != strings.Join(mapStrings(wantErr, m.Apply), "|") {
		t.Errorf("error monitors:\n got  %q\n want %q", got, wantErr)
	}
	time.Sleep(100 * time.Millisecond)
	c.finish(ikctest.Masker{}.Add(`,POE::Component::IKC::Freezer`, ""))
}

// testS3SetupSilence: a 0.1904 server ignores SETUP (s3: Perl's client
// waits forever). The Go Client sends HELLO after SetupSilence and
// finishes the IKC exchange.
func testS3SetupSilence(t *testing.T) {
	capt := ikctest.LoadCaptureConns(t, "s3-seed-server-ikc0-client-stalls")
	if len(capt[0].S2C) != 0 {
		t.Fatalf("s3: the server was expected to send nothing")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const silence = 300 * time.Millisecond
	done := make(chan error, 1)
	var gap time.Duration
	var first string
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(ikctest.Timeout))
		br := bufio.NewReader(c)
		first, err = br.ReadString('\n') // SETUP: ignored, as 0.1904 does
		if err != nil {
			done <- err
			return
		}
		t0 := time.Now()
		sn, _ := protocol.NewServerNegotiator(protocol.Config{KernelID: "vm-0190", Names: []string{"Server", "127.0.0.1:1"}, Dialect: protocol.IKC})
		sn.Start(time.Now())
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				done <- err
				return
			}
			if gap == 0 {
				gap = time.Since(t0)
			}
			out, res, err := sn.Feed(l)
			for _, o := range out {
				c.Write([]byte(o + protocol.LineTerminator))
			}
			if err != nil || res != nil {
				done <- err
				time.Sleep(200 * time.Millisecond)
				return
			}
		}
	}()
	reg := make(chan string, 10)
	ikctest.StartNode(t, func(k *poe.Kernel) {
		s := ikctest.Session(k, "mon", map[string]poe.Handler{
			"reg": func(e *poe.Event) any { reg <- e.Arg(poe.ARG1).(string); return nil },
		})
		s.Do(func() { Monitor(k, "*", map[string]string{"register": "reg"}, nil) })
		_, err := NewClient(k, ClientOptions{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Name: "Client",
			Protocol: "IKC0", SetupSilence: silence,
			OnError: func(op string, errno int, text string) { t.Errorf("client error %s: %s", op, text) }})
		if err != nil {
			t.Error(err)
		}
	})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(ikctest.Timeout):
		t.Fatal("negotiation did not finish")
	}
	if !strings.HasPrefix(first, "SETUP KERNEL=") {
		t.Errorf("first line %q", first)
	}
	if gap < silence-20*time.Millisecond || gap > silence+2*time.Second {
		t.Errorf("HELLO after %v, want about %v", gap, silence)
	}
	select {
	case n := <-reg:
		if n != "vm-0190" {
			t.Errorf("registered %q", n)
		}
	case <-time.After(ikctest.Timeout):
		t.Fatal("server never registered")
	}
}

// testProbes: p1-p5's probe bytes to a Go server. It answers the
// negotiation lines as Perl did (p1-p3), drops only the offending
// connection on a non-Storable or non-hash frame (p4, p5; Perl's process
// dies) and keeps serving a normal peer after each probe.
func testProbes(t *testing.T) {
	rec := ikctest.NewRecorder()
	var port int
	ikctest.StartNode(t, func(k *poe.Kernel) {
		s, err := NewServer(k, ServerOptions{IP: "127.0.0.1", Port: EphemeralPort, Name: "Server"})
		if err != nil {
			t.Error(err)
			return
		}
		port = s.Port()
		ts := ikctest.Session(k, "test", map[string]poe.Handler{
			"posted": rec.Handler("posted", nil),
			"echo":   func(e *poe.Event) any { return e.Arg(poe.ARG0) },
		})
		Publish(k, ts, "posted", "echo")
	})
	normal := func(t *testing.T, i int) {
		t.Helper()
		p := dialRaw(t, port)
		if l := p.setup("Normal" + strconv.Itoa(i)); !strings.HasPrefix(l, "SETUP KERNEL=") {
			t.Fatalf("normal peer: SETUP answer %q", l)
		}
		what := "after-" + strconv.Itoa(i)
		p.frame(storable.NewHash("event", storable.Bytes("poe://Server/test/posted"), "params", storable.Bytes(what)))
		if g := rec.WaitFor(t, "posted"); g[1] != what {
			t.Fatalf("posted %v, want %s", g[1], what)
		}
		p.conn.Close()
	}
	for i, name := range []string{"p1-probe-ikc0-lines", "p2-probe-ikc0-setup", "p3-probe-ikc-lines", "p4-probe-bad-frame", "p5-probe-array-frame"} {
		t.Run(name[:2], func(t *testing.T) {
			conns := ikctest.LoadCaptureConns(t, name)
			cc := conns[0]
			conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(ikctest.Timeout))
			var got []ikctest.WireUnit
			readDone := make(chan error, 1)
			go func() {
				br := bufio.NewReader(conn)
				for {
					u, err := ikctest.ReadWireUnit(br)
					if err != nil {
						readDone <- err
						return
					}
					got = append(got, u)
				}
			}()
			// The probe's chunks, paced as recorded.
			for _, l := range cc.Chunks {
				f := strings.Fields(l)
				if len(f) < 3 || f[0] != "c2s" {
					continue
				}
				off, _ := strconv.Atoi(f[1])
				n, _ := strconv.Atoi(f[2])
				if _, err := conn.Write(cc.C2S[off : off+n]); err != nil {
					break // p4/p5: dropped
				}
				time.Sleep(20 * time.Millisecond)
			}
			bad := strings.HasPrefix(name, "p4") || strings.HasPrefix(name, "p5")
			if bad {
				select {
				case <-readDone:
				case <-time.After(ikctest.Timeout):
					t.Fatal("connection with a bad frame not dropped")
				}
			} else {
				time.Sleep(150 * time.Millisecond)
				conn.Close()
				<-readDone
			}
			// Negotiation lines equal Perl's, modulo the varying fields.
			var want, gotLines []ikctest.WireUnit
			for _, u := range ikctest.SplitWire(t, cc.S2C) {
				if u.Line {
					want = append(want, u)
				}
			}
			for _, u := range got {
				if u.Line {
					gotLines = append(gotLines, u)
				}
			}
			m := ikctest.BaseMask().Add(`KERNEL=[^,;]+`, "KERNEL=<id>").Add(`^IAM vm-\S+`, "IAM <id>")
			ikctest.CompareUnits(t, "server", want, gotLines, m)
			time.Sleep(50 * time.Millisecond)
			normal(t, i)
		})
	}
}

func sFramesOf(t *testing.T, name string) [][]byte {
	b, err := os.ReadFile(filepath.Join(ikctest.CapturesDir, name, "conn1.s2c.bin"))
	if err != nil {
		t.Fatal(err)
	}
	_, f, _ := captureUnits(b)
	return f
}
