package hostile

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// scaled returns n, or n/div under the race detector (whose child serves
// ten times slower), so that the suite stays well under a minute.
func scaled(n, div int) int {
	if raceEnabled {
		return n / div
	}
	return n
}

// The rows of the issue ("IKC holds against hostile and careless peers")
// and the protections that already held.
func TestHostilePeers(t *testing.T) {
	for _, a := range attacks() {
		t.Run(a.name, func(t *testing.T) { runAttack(t, a) })
	}
}

func attacks() []attack {
	return []attack{
		{name: "cyclic-storable", input: "a Storable request whose params hold an array and a hash that contain themselves",
			env: []string{envMonitor + "=1"}, peakMiB: 16, run: attackCyclic, codec: true},
		{name: "shared-substructures", input: "a Storable request of arrays holding the next one twice, 26 deep (2^26 leaves)",
			env: []string{envMonitor + "=1"}, peakMiB: 16, run: attackShared, codec: true},
		{name: "yaml-self-anchor", input: "YAML `--- &1\\na: *1`, then a request whose params hold `a: *1`",
			env: []string{envMonitor + "=1"}, peakMiB: 16, run: attackYAMLAnchor, codec: true},
		{name: "tiny-elements", input: "a 16 MiB Storable frame: an array of one-byte undefs",
			env: []string{envMonitor + "=1"}, peakMiB: 200, run: attackTinyElements, codec: true},
		{name: "large-frame", input: "one legitimate 15 MiB post (a string), then the peer leaves",
			peakMiB: 96, run: attackLargeFrame},
		{name: "fake-senders", input: fmt.Sprintf("%d posts, each from another sender kernel", scaled(100000, 5)),
			peakMiB: 48, run: attackFakeSenders},
		{name: "non-reader", input: "300 calls of 1 MiB each from a client that never reads its replies",
			env: []string{envOpts + "=stall=1s"}, peakMiB: 96, run: attackNonReader},
		{name: "unpublished-flood", input: "10000 requests for an unpublished state (no error monitor)",
			env: []string{envOpts + "=loginterval=500ms"}, peakMiB: 32, run: attackUnpublished(false)},
		{name: "unpublished-monitored", input: "10000 requests for an unpublished state (an error monitor)",
			env: []string{envMonitor + "=1"}, peakMiB: 32, run: attackUnpublished(true)},
		{name: "foreign-kernel", input: "1000 posts addressed to another kernel's name",
			peakMiB: 16, run: attackForeign},
		{name: "one-address-flood", input: fmt.Sprintf("%d connections held open from 127.0.0.2 (MaxConnsPerAddr 8)", scaled(2000, 5)),
			env: []string{envOpts + "=peraddr=8"}, peakMiB: 32, run: attackOneAddress},
		{name: "tls-silent-handshakes", input: fmt.Sprintf("%d connections to the TLS listener that never send a ClientHello, %d that stop after the handshake (300 ms deadline)", scaled(500, 5), scaled(100, 5)),
			env: []string{envOpts + "=tls=1,negotiation=300ms"}, peakMiB: 48, run: attackTLSSilent},
		// What held before and must keep holding.
		{name: "long-line", input: "a 100 KiB negotiation line", peakMiB: 16, run: attackLongLine},
		{name: "silent-peer", input: "a peer that never negotiates (300 ms deadline)",
			env: []string{envOpts + "=negotiation=300ms"}, peakMiB: 16, run: attackSilent},
		{name: "killed-mid-frame", input: "200 peers that die in the middle of a frame", peakMiB: 32, run: attackMidFrame},
		{name: "eval-freezer", input: "SETUP proposing POE::Component::IKC::Freezer", peakMiB: 16, run: attackEvalFreezer},
		{name: "idle-connections", input: fmt.Sprintf("%d idle connections", scaled(10000, 5)),
			peakMiB: 400, run: attackIdle},
		{name: "emfile", input: "200 connections to a server limited to 64 descriptors",
			env: []string{envNoFile + "=64"}, peakMiB: 16, run: attackEMFILE},
	}
}

// refused checks the peer was told about its refused frame and, with
// closed, that the connection ends.
func refused(v *verdict, p *peer, closed bool) {
	rep, err := p.errorReport(10 * time.Second)
	if !v.check(err == nil, "no error report: %v", err) {
		return
	}
	v.note("reported: %.60s", fmt.Sprint(rep...))
	if closed {
		v.check(p.closedByServer(5*time.Second), "connection not closed")
	}
}

// monitored checks the error monitor heard of at least n errors.
func monitored(v *verdict, c *child, n int64) {
	if !c.alive() {
		return
	}
	st, err := c.stats()
	if !v.check(err == nil, "stats: %v", err) {
		return
	}
	v.check(num(st, "errors") >= n, "error monitor fired %d times, want %d", num(st, "errors"), n)
}

// The cyclic and shared rows are served as Perl serves them: thawed
// once, with cycles and shared parts kept, and echoed back in a frame as
// small as the request's.

func attackCyclic(t *testing.T, c *child, v *verdict) {
	p, err := dialPeer(c.port, "Cyclic", "Storable")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	got, n, err := p.echo(cyclicParams(), 10*time.Second)
	if !v.check(err == nil, "no echo: %v", err) {
		return
	}
	v.note("echoed in a %d-byte frame", n)
	l, _ := got.(*storable.Array)
	if !v.check(l != nil && len(l.Elems) == 2, "echo %T", got) {
		return
	}
	a, _ := l.Elems[0].(*storable.Array)
	h, _ := l.Elems[1].(*storable.Hash)
	v.check(a != nil && len(a.Elems) == 2 && a.Elems[1] == a, "the array no longer contains itself")
	v.check(h != nil && get(h, "self") == h, "the hash no longer contains itself")
}

func attackShared(t *testing.T, c *child, v *verdict) {
	p, err := dialPeer(c.port, "Shared", "Storable")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	got, n, err := p.echo(sharedParams(26), 10*time.Second)
	if !v.check(err == nil, "no echo: %v", err) {
		return
	}
	v.note("echoed in a %d-byte frame", n)
	v.check(n < 2048, "the echo took %d bytes", n)
	depth := 0
	for {
		l, ok := got.(*storable.Array)
		if !ok || len(l.Elems) != 2 {
			break
		}
		if !v.check(l.Elems[0] == l.Elems[1], "level %d no longer shared", depth) {
			return
		}
		got, depth = l.Elems[0], depth+1
	}
	v.check(depth == 26, "echo %d levels deep, want 26", depth)
}

func attackYAMLAnchor(t *testing.T, c *child, v *verdict) {
	p, err := dialPeer(c.port, "Anchor", "YAML")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// The bare document has no event: refused at check, on any version.
	p.sendPayload([]byte("--- &1\na: *1\n"))
	refused(v, p, false)
	// The same anchor as a request's params: the params hold the request,
	// which holds the params.
	p.sendPayload([]byte("--- &1\nevent: poe://Demo/demo/echo\nparams:\n  a: *1\nrsvp: poe://Anchor/IKC/reply\n"))
	got, err := p.reply(10 * time.Second)
	if v.check(err == nil, "no echo: %v", err) {
		ph, _ := got.(*storable.Hash)
		var req *storable.Hash
		if ph != nil {
			req, _ = get(ph, "a").(*storable.Hash)
		}
		v.check(req != nil && get(req, "params") == ph, "echo %v: the cycle through the request is lost", got)
	}
	monitored(v, c, 1)
}

func attackTinyElements(t *testing.T, c *child, v *verdict) {
	p, err := dialPeer(c.port, "Tiny", "Storable")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	b, err := tinyElementsPayload("poe://Demo/demo/hit", 16<<20-16)
	if err != nil {
		t.Fatal(err)
	}
	go p.sendPayload(b)
	refused(v, p, true)
	monitored(v, c, 1)
}

func attackLargeFrame(t *testing.T, c *child, v *verdict) {
	p, err := dialPeer(c.port, "Large", "Storable")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	big := storable.Bytes(strings.Repeat("x", 15<<20))
	h := p.request("poe://Demo/demo/hit", big, false)
	h.Entries = append(h.Entries, storable.Entry{Key: "from", Value: storable.NewHash(
		"kernel", storable.Bytes("Large"), "session", storable.Bytes("big"), "state", storable.Bytes("IKC:proxy"))})
	if err := p.send(h); err != nil {
		t.Fatal(err)
	}
	got, err := p.call("poe://Demo/demo/count", storable.Bytes(""), 20*time.Second)
	v.check(err == nil && got == int64(1), "count %v, %v", got, err)
	// Whatever the server caches of that frame (names, thunks) must not
	// keep its payload once the peer has gone: runAttack checks the heap.
}

func attackFakeSenders(t *testing.T, c *child, v *verdict) {
	n := scaled(100000, 5)
	p, err := dialPeer(c.port, "Faker", "Storable")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	before, err := c.stats()
	if err != nil {
		t.Fatal(err)
	}
	frames, err := fakeSenderFrames("poe://Demo/demo/hit", n)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := p.conn.Write(frames); err != nil {
		v.check(false, "writing: %v", err)
		return
	}
	got, err := p.call("poe://Demo/demo/count", storable.Bytes(""), 60*time.Second)
	if !v.check(err == nil, "count: %v", err) {
		return
	}
	v.check(got == int64(n), "%v posts served, want %d", got, n)
	v.note("served in %v", time.Since(start).Round(time.Millisecond))
	// While the peer is still connected.
	st, err := c.stats()
	if !v.check(err == nil, "stats: %v", err) {
		return
	}
	grown := num(st, "sessions") - num(before, "sessions")
	v.note("%d more sessions while connected", grown)
	v.check(grown <= 1100, "%d sessions more than before the flood", grown)
}

func attackNonReader(t *testing.T, c *child, v *verdict) {
	p, err := dialPeer(c.port, "Hoarder", "Storable")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	big := storable.Bytes(strings.Repeat("x", 1<<20))
	b, err := storable.Encode(p.request("poe://Demo/demo/echo", big, true))
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for ; sent < 300; sent++ {
		p.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if err := p.sendPayload(b); err != nil {
			break
		}
	}
	v.note("%d of 300 sent before the server stopped reading", sent)
	if _, ok := c.knob("stall"); ok {
		v.check(sent < 300, "the server read all 300 requests of a peer that reads nothing")
		time.Sleep(1500 * time.Millisecond)
		v.check(p.closedByServer(5*time.Second), "a peer above the high-water mark past the stall timeout is not dropped")
	}
}

func attackUnpublished(monitor bool) func(t *testing.T, c *child, v *verdict) {
	return func(t *testing.T, c *child, v *verdict) {
		const n = 10000
		p, err := dialPeer(c.port, "Prober", "Storable")
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		frames, err := repeatFrames(p.request("poe://Demo/demo/nosuch", storable.Bytes("x"), false), n)
		if err != nil {
			t.Fatal(err)
		}
		var reports int
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for reports < n {
				if _, err := p.errorReport(20 * time.Second); err != nil {
					return
				}
				reports++
			}
		}()
		p.conn.Write(frames)
		wg.Wait()
		v.check(reports == n, "%d error reports for %d refused requests", reports, n)
		time.Sleep(1200 * time.Millisecond) // the summaries' interval
		lines := c.countLines(regexp.MustCompile(`refused`))
		v.note("%d log lines", lines)
		if monitor {
			monitored(v, c, n)
			v.check(lines == 0, "%d log lines although a monitor hears every refusal", lines)
			return
		}
		v.check(lines <= 10, "%d log lines for %d refusals", lines, n)
		if _, ok := c.knob("loginterval"); ok {
			folded := c.sumCounts(regexp.MustCompile(`refused a request \(repeated\).* count=(\d+)`))
			v.check(folded == n-1, "the summaries count %d refusals, want %d", folded, n-1)
		}
	}
}

func attackForeign(t *testing.T, c *child, v *verdict) {
	const n = 1000
	p, err := dialPeer(c.port, "Misdirected", "Storable")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	frames, err := repeatFrames(p.request("poe://Other/demo/hit", storable.Bytes("x"), false), n)
	if err != nil {
		t.Fatal(err)
	}
	p.conn.Write(frames)
	got, err := p.call("poe://Demo/demo/count", storable.Bytes(""), 20*time.Second)
	if !v.check(err == nil, "count: %v", err) {
		return
	}
	v.note("%v of %d run here", got, n)
	v.check(got == int64(0), "%v of %d posts for kernel Other ran here", got, n)
	foreignStats(c, v, n)
}

func attackLongLine(t *testing.T, c *child, v *verdict) {
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(c.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte(strings.Repeat("x", 100<<10) + "\r\n"))
	v.check((&peer{conn: conn, br: newReader(conn)}).closedByServer(5*time.Second), "not dropped")
}

func attackSilent(t *testing.T, c *child, v *verdict) {
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(c.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	v.check((&peer{conn: conn, br: newReader(conn)}).closedByServer(5*time.Second), "silent peer not dropped")
}

func attackMidFrame(t *testing.T, c *child, v *verdict) {
	for i := range 200 {
		p, err := dialPeer(c.port, "Dying"+strconv.Itoa(i), "Storable")
		if err != nil {
			t.Fatal(err)
		}
		p.conn.Write([]byte("100\x00\x05\x0b"))
		p.Close()
	}
}

func attackEvalFreezer(t *testing.T, c *child, v *verdict) {
	_, err := dialPeer(c.port, "Evil", "POE::Component::IKC::Freezer")
	v.check(err != nil, "the eval freezer was accepted")
}

func attackIdle(t *testing.T, c *child, v *verdict) {
	n := scaled(10000, 5)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, cn := range conns {
			cn.Close()
		}
	}()
	for range n {
		cn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(c.port))
		if err != nil {
			v.check(false, "connection %d: %v", len(conns), err)
			return
		}
		conns = append(conns, cn)
	}
	d, err := c.latency(5)
	if v.check(err == nil, "fresh client among %d idle ones: %v", n, err) {
		v.note("fresh client in %v among %d idle connections", d.Round(10*time.Microsecond), n)
	}
}

func attackEMFILE(t *testing.T, c *child, v *verdict) {
	var conns []net.Conn
	for range 200 {
		cn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(c.port), time.Second)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			continue
		}
		conns = append(conns, cn)
	}
	time.Sleep(300 * time.Millisecond)
	for _, cn := range conns {
		cn.Close()
	}
	time.Sleep(300 * time.Millisecond)
}

// attackOneAddress: one address opens many connections and holds them;
// all but MaxConnsPerAddr are closed as they are accepted, and a client
// from another address is served.
func attackOneAddress(t *testing.T, c *child, v *verdict) {
	const perAddr = 8
	n := scaled(2000, 5)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 2 * time.Second}
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, cn := range conns {
			cn.Close()
		}
	}()
	for range n {
		cn, err := d.Dial("tcp", "127.0.0.1:"+strconv.Itoa(c.port))
		if err != nil {
			if len(conns) == 0 {
				t.Skipf("no connection from 127.0.0.2: %v", err)
			}
			v.check(false, "connection %d: %v", len(conns), err)
			return
		}
		conns = append(conns, cn)
	}
	deadline := time.Now().Add(10 * time.Second)
	var st map[string]any
	for {
		var err error
		if st, err = c.stats(); !v.check(err == nil, "stats: %v", err) {
			return
		}
		if num(st, "refusedConnections") >= int64(n-perAddr) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	v.note("%d of %d refused", num(st, "refusedConnections"), n)
	v.check(num(st, "refusedConnections") == int64(n-perAddr), "%d connections refused, want %d", num(st, "refusedConnections"), n-perAddr)
	// The stats' own client is one of them.
	v.check(num(st, "connections") <= perAddr+1, "%d connections open", num(st, "connections"))
	rtt, err := c.latency(5)
	if v.check(err == nil, "a client from 127.0.0.1 during the flood: %v", err) {
		v.note("fresh client in %v during the flood", rtt.Round(10*time.Microsecond))
	}
}

// attackTLSSilent: peers that hold TLS connections without a handshake,
// or without IKC after it, are closed at the negotiation deadline, and
// their bridges' goroutines end.
func attackTLSSilent(t *testing.T, c *child, v *verdict) {
	before, err := c.stats()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(c.tlsPort)
	var conns []net.Conn
	defer func() {
		for _, cn := range conns {
			cn.Close()
		}
	}()
	for range scaled(500, 5) {
		cn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if !v.check(err == nil, "connection %d: %v", len(conns), err) {
			return
		}
		conns = append(conns, cn)
	}
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	for range scaled(100, 5) {
		cn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, cfg)
		if !v.check(err == nil, "TLS connection %d: %v", len(conns), err) {
			return
		}
		conns = append(conns, cn)
	}
	closed := 0
	deadline := time.Now().Add(5 * time.Second)
	for _, cn := range conns {
		cn.SetReadDeadline(deadline)
		var ne net.Error
		if _, err := cn.Read(make([]byte, 1)); err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			closed++
		}
	}
	v.note("%d of %d closed by the server", closed, len(conns))
	v.check(closed == len(conns), "%d of %d silent TLS peers closed", closed, len(conns))
	for _, cn := range conns {
		cn.Close()
	}
	conns = nil
	var st map[string]any
	deadline = time.Now().Add(5 * time.Second)
	for {
		if st, err = c.stats(); !v.check(err == nil, "stats: %v", err) {
			return
		}
		if num(st, "goroutines") <= num(before, "goroutines") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	v.check(num(st, "goroutines") <= num(before, "goroutines"), "%d goroutines once the peers left, %d before", num(st, "goroutines"), num(before, "goroutines"))
}
