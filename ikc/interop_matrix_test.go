package ikc

// The Go<->Perl interop matrix: {Go server, Perl server} x {Client, Lite}
// x {IKC, IKC0} x {Storable, YAML, FreezeThaw}, each cell running post,
// call, subscribe, monitor, a remote error and a battery of values.
//
// Against a Perl server the client is Go's (ikc.Client or a
// clientlite.Client). The Perl server is POE::Component::IKC 0.2402 when
// IKC_PERL5LIB points at it (ikc/testdata/real_ikc.pl), else the repo's
// own peer on plain POE (ikc/testdata/ikc_peer.pl, which CI runs).
// Against a Go server the client is Perl's Client or ClientLite, which
// only real IKC provides: those cells skip without IKC_PERL5LIB.
//
// Values go from Go to Perl and back: test/describe returns what Perl
// received, in ASCII (each string as its code points), compared with what
// the Go value means in Perl (perlDesc); test/echo returns it and the
// answer must equal what was sent. The Perl ClientLite runs the same
// battery from its side and compares with Perl's eq.

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/poe-go/poe/ikc/clientlite"
	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/poe"
)

// matrixWait bounds each wait of a matrix operation.
const matrixWait = 10 * time.Second

var (
	matrixDialects = []string{"IKC0", "IKC"}
	matrixFreezers = []string{"Storable", "YAML", "FreezeThaw"}
)

// valueCase is one value of the battery (the same list as real_ikc.pl's
// battery).
type valueCase struct {
	name string
	v    any
}

func valueBattery() []valueCase {
	var deep any = "deep"
	for range 64 {
		deep = []any{deep}
	}
	big := make([]byte, 65536)
	for i := range big {
		big[i] = byte(32 + i%90)
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	var latin strings.Builder
	for r := rune(0xa0); r <= 0xff; r++ {
		latin.WriteRune(r)
	}
	latin.WriteRune(0x100)
	return []valueCase{
		{"int32_max", int64(math.MaxInt32)}, {"int32_min", int64(math.MinInt32)}, {"int32_over", int64(1 << 31)},
		{"int53", int64(1 << 53)}, {"int53_over", int64(1<<53 + 1)}, {"int53_neg", -int64(1<<53 + 1)},
		{"int64_max", int64(math.MaxInt64)}, {"int64_min", int64(math.MinInt64)},
		{"uint64_max", uint64(math.MaxUint64)},
		{"float_tenth", 0.1}, {"float_tiny", -1.5e-300}, {"float_huge", 1e300}, {"float_pi", 3.14159},
		{"empty", ""}, {"zero", "0"}, {"leading_zeros", "007"},
		{"utf8", "h\u00e9llo w\u00f6rld \u263a \u65e5\u672c \U0001f600"},
		{"latin1_chars", latin.String()},
		{"nul_crlf", "a\x00b\r\nc\n"},
		{"bytes", all},
		{"big", string(big)},
		{"deep", deep},
		{"undef_in_array", []any{int64(1), nil, int64(3)}},
		{"undef_values", map[string]any{"a": nil, "b": int64(1)}},
		{"keys", map[string]any{"": "empty", "\u043a\u043b\u044e\u0447": "ru", "\u00e9": "e-acute", "plain": int64(1)}},
	}
}

// perlChars is a Go string as Perl holds it once sent (protocol.ToValue):
// ASCII or invalid UTF-8 as bytes, else characters.
func perlChars(s string) []rune {
	ascii := true
	for i := 0; i < len(s); i++ {
		ascii = ascii && s[i] < 0x80
	}
	if ascii || !utf8.ValidString(s) {
		r := make([]rune, len(s))
		for i := 0; i < len(s); i++ {
			r[i] = rune(s[i])
		}
		return r
	}
	return []rune(s)
}

// descChars is real_ikc.pl's desc_str.
func descChars(cps []rune) string {
	hex := make([]string, len(cps))
	for i, c := range cps {
		hex[i] = strconv.FormatInt(int64(c), 16)
	}
	h := strings.Join(hex, ".")
	if len(cps) > 64 {
		return fmt.Sprintf("#%d:%x", len(cps), md5.Sum([]byte(h)))
	}
	return "'" + h + "'"
}

// perlScalar is a Go scalar's Perl string value ("" and false for
// others).
func perlScalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int:
		return strconv.Itoa(x), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'g', 15, 64), true
	case bool:
		if x {
			return "1", true
		}
		return "", true
	}
	return "", false
}

// perlDesc is real_ikc.pl's desc of what Perl receives for v.
func perlDesc(v any) string { return descWith(v, perlChars) }

// perlBytesDesc is the desc of v as Perl receives it from a YAML or
// FreezeThaw frame (16 #25): every string as its bytes.
func perlBytesDesc(v any) string { return descWith(v, byteChars) }

// byteChars is s as one character per byte.
func byteChars(s string) []rune {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return r
}

// descWith is perlDesc with chars giving the characters of a string.
func descWith(v any, chars func(string) []rune) string {
	switch x := v.(type) {
	case nil:
		return "undef"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = descWith(e, chars)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return slices.Compare(chars(keys[i]), chars(keys[j])) < 0 })
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = descChars(chars(k)) + "=>" + descWith(x[k], chars)
		}
		return "{" + strings.Join(parts, ",") + "}"
	case string:
		return descChars(chars(x))
	case []byte:
		r := make([]rune, len(x))
		for i, b := range x {
			r[i] = rune(b)
		}
		return descChars(r)
	}
	s, _ := perlScalar(v)
	return descChars([]rune(s))
}

// sameValue: got, an answer, is what was sent. Strings must come back as
// the same bytes; numbers may come back as their Perl string (text
// freezers); structures as the same structure.
func sameValue(sent, got any) bool {
	switch x := sent.(type) {
	case nil:
		return got == nil
	case []any:
		y, ok := got.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := got.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	case []byte:
		return sameValue(string(x), got)
	case string:
		if y, ok := got.(string); ok {
			return x == y
		}
	}
	a, ok1 := perlScalar(sent)
	b, ok2 := perlScalar(got)
	return ok1 && ok2 && a == b
}

// short is v printed for an error message, cut.
func short(v any) string {
	s := fmt.Sprintf("%#v", v)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// matrixTable collects each cell's outcome for the summary.
type matrixTable struct {
	mu   sync.Mutex
	rows map[string]map[string]string // cell -> op -> "ok", "FAIL: ...", "skip: ..."
	ops  []string
	// Operations that would start after end fail unrun: with each wait
	// bounded by matrixWait, the matrix ends within budget+matrixWait.
	budget time.Duration
	end    time.Time
}

// Time budgets of the matrix: CI's (the plain-POE peer, about 10 s under
// -race) stays under a minute; real IKC adds 24 cells of Perl clients.
const (
	matrixBudget     = 45 * time.Second
	matrixBudgetReal = 150 * time.Second
)

func (m *matrixTable) set(cell, op, outcome string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rows[cell] == nil {
		m.rows[cell] = map[string]string{}
	}
	m.rows[cell][op] = outcome
	if !slices.Contains(m.ops, op) {
		m.ops = append(m.ops, op)
	}
}

// op runs one operation of a cell as a subtest and records it: fn returns
// an error for a failure, errSkip-wrapped for one that does not apply.
func (m *matrixTable) op(t *testing.T, cell, name string, fn func() error) {
	t.Run(name, func(t *testing.T) {
		if time.Now().After(m.end) {
			m.set(cell, name, "FAIL: not run: over the matrix's time budget")
			t.Fatalf("not run: the matrix is over its %v budget", m.budget)
		}
		err := fn()
		known := matrixKnown(cell, name)
		switch {
		case err == nil && known != "":
			m.set(cell, name, "FAIL: passes, though matrixKnown says it does not")
			t.Errorf("passes now: drop it from matrixKnown (%s)", known)
		case err == nil:
			m.set(cell, name, "ok")
		case known != "" && errors.Is(err, errKnown):
			m.set(cell, name, "known: "+err.Error())
			t.Logf("known failure (%s): %v", known, err)
		case errors.Is(err, errNotApplicable):
			m.set(cell, name, "n/a")
			t.Skip(err)
		default:
			m.set(cell, name, "FAIL: "+err.Error())
			t.Error(err)
		}
	})
}

// Known failures: Perl's own behaviour (docs/ikc-protocol.md 16), not
// Go's. Such an operation passes the matrix only when it fails exactly as
// described (its error wraps errKnown); any other failure fails, and so
// does passing (then drop it here).
const (
	knownBytes = "16 #25: Perl's YAML and FreezeThaw thaw a frame's bytes one character per byte; Go sends text as UTF-8, so Perl holds its bytes (é as c3 a9), and the echo comes back exact"
	knownLite  = "16 #24: Perl's ClientLite writes a YAML or FreezeThaw frame holding characters above 0xff unencoded and dies with \"Wide character in syswrite\": the request is never sent"
)

// errKnown marks a failure that is exactly the one matrixKnown names.
var errKnown = errors.New("known Perl behaviour")

// matrixKnown returns why op is known to fail in cell, or "".
func matrixKnown(cell, op string) string {
	parts := strings.Split(cell, "/") // server, client, dialect, freezer
	server, client, fz := parts[0], parts[1], parts[3]
	v, isValue := strings.CutPrefix(op, "values/")
	text := v == "utf8" || v == "latin1_chars" || v == "keys"
	switch {
	case !isValue || fz == "Storable" || !text:
		return ""
	case server == "go-server" && client == "Lite":
		return knownLite
	}
	return knownBytes
}

// errNotApplicable marks an operation a client cannot do.
var errNotApplicable = errors.New("not applicable")

// summary logs the table: per cell, the failed operations.
func (m *matrixTable) summary(t *testing.T) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cells := make([]string, 0, len(m.rows))
	for c := range m.rows {
		cells = append(cells, c)
	}
	sort.Strings(cells)
	var b strings.Builder
	for _, c := range cells {
		var ok, na int
		var failed, known []string
		for _, op := range m.ops {
			switch o := m.rows[c][op]; {
			case strings.HasPrefix(o, "ok"):
				ok++
			case o == "n/a":
				na++
			case strings.HasPrefix(o, "known"):
				known = append(known, strings.TrimPrefix(op, "values/"))
			case o != "":
				failed = append(failed, op)
			}
		}
		fmt.Fprintf(&b, "%-34s %3d ok %2d n/a %2d known %2d failed", c, ok, na, len(known), len(failed))
		if len(known) > 0 {
			fmt.Fprintf(&b, "; known: %s", strings.Join(known, " "))
		}
		if len(failed) > 0 {
			fmt.Fprintf(&b, "; FAILED: %s", strings.Join(failed, " "))
		}
		b.WriteByte('\n')
	}
	t.Logf("interop matrix:\n%s", b.String())
	if path := os.Getenv("IKC_MATRIX_OUT"); path != "" {
		var d strings.Builder
		d.WriteString(b.String())
		for _, c := range cells {
			for _, op := range m.ops {
				if o := m.rows[c][op]; strings.HasPrefix(o, "FAIL") || strings.HasPrefix(o, "known") {
					fmt.Fprintf(&d, "%s %s: %s\n", c, op, o)
				}
			}
		}
		os.WriteFile(path, []byte(d.String()), 0o644)
	}
}

// TestInteropMatrix runs the matrix (see the top of this file).
func TestInteropMatrix(t *testing.T) {
	ikctest.NeedPerl(t, "YAML", "FreezeThaw", "Digest::MD5")
	lib := os.Getenv("IKC_PERL5LIB")
	if lib != "" && ikctest.RealIKCVersion(lib) != "0.2402" {
		lib = ""
	}
	m := &matrixTable{rows: map[string]map[string]string{}, budget: matrixBudget}
	if lib != "" {
		m.budget = matrixBudgetReal
	}
	m.end = time.Now().Add(m.budget)
	t.Cleanup(func() { m.summary(t) })
	t.Run("perl-server", func(t *testing.T) {
		for _, client := range []string{"Client", "Lite"} {
			for _, d := range matrixDialects {
				for _, f := range matrixFreezers {
					cell := "perl-server/" + client + "/" + d + "/" + f
					t.Run(client+"/"+d+"/"+f, func(t *testing.T) {
						s := startPerlServer(t, lib)
						if client == "Client" {
							goClientCell(t, m, cell, s, d, f)
						} else {
							goLiteCell(t, m, cell, s, d, f)
						}
					})
				}
			}
		}
	})
	t.Run("go-server", func(t *testing.T) {
		if lib == "" {
			t.Skip("Perl's Client and ClientLite need POE::Component::IKC 0.2402: set IKC_PERL5LIB")
		}
		g := startGoServer(t)
		for _, client := range []string{"Client", "Lite"} {
			for _, d := range matrixDialects {
				for _, f := range matrixFreezers {
					cell := "go-server/" + client + "/" + d + "/" + f
					t.Run(client+"/"+d+"/"+f, func(t *testing.T) {
						if client == "Client" {
							perlClientCell(t, m, cell, g, lib, d, f)
						} else {
							perlLiteCell(t, m, cell, g, lib, d, f)
						}
					})
				}
			}
		}
	})
}

// perlServer is a running Perl server: real IKC or ikc_peer.pl.
type perlServer struct {
	p    *ikctest.PerlPeer
	port int
	real bool
}

// perlServerName is the Perl server's kernel name.
const perlServerName = "PerlServer"

func startPerlServer(t *testing.T, lib string) perlServer {
	var p *ikctest.PerlPeer
	var ready map[string]any
	if lib != "" {
		p, ready = ikctest.StartRealIKC(t, lib, "--role", "server", "--port", "0", "--name", perlServerName)
	} else {
		p, ready = ikctest.StartPerlScript(t, "ikc_peer.pl", "", "--role", "server", "--protocol", "IKC0", "--name", perlServerName)
	}
	return perlServer{p: p, port: int(ready["port"].(float64)), real: lib != ""}
}

// awaitPosted waits for the Perl server's test/posted to get marker.
func (s perlServer) awaitPosted(marker string) error {
	_, err := s.p.Await("invoke", func(e map[string]any) bool {
		if e["state"] != "posted" {
			return false
		}
		if s.real {
			return e["desc"] == perlDesc(marker)
		}
		args, _ := e["args"].([]any)
		return len(args) > 0 && args[0] == marker
	}, matrixWait)
	return err
}

// checkValue runs describe and echo for one value through call. With fz
// YAML or FreezeThaw, Perl holding a string's bytes instead of its
// characters (16 #25) is errKnown, when the echo is exact.
func checkValue(c valueCase, fz string, call func(state string, v any) (any, error)) error {
	d, err := call("describe", c.v)
	if err != nil {
		return fmt.Errorf("describe: %w", err)
	}
	var errs []error
	var asBytes error
	if want := perlDesc(c.v); d != want {
		if fz != "Storable" && d == perlBytesDesc(c.v) {
			asBytes = fmt.Errorf("%w: Perl received the UTF-8 bytes %s, not the characters %s", errKnown, short(d), short(want))
		} else {
			errs = append(errs, fmt.Errorf("Perl received %s, want %s", short(d), short(want)))
		}
	}
	back, err := call("echo", c.v)
	if err != nil {
		errs = append(errs, fmt.Errorf("echo: %w", err))
	} else if !sameValue(c.v, back) {
		errs = append(errs, fmt.Errorf("echo returned %s, sent %s", short(back), short(c.v)))
	}
	if len(errs) == 0 {
		return asBytes
	}
	if asBytes != nil {
		errs = append(errs, errors.New(strings.TrimPrefix(asBytes.Error(), errKnown.Error()+": ")))
	}
	return errors.Join(errs...)
}

// goClientCell: a Go kernel Client against the Perl server.
func goClientCell(t *testing.T, m *matrixTable, cell string, s perlServer, dialect, fz string) {
	events := make(chan []any, 1000)
	peers := make(chan Peer, 1)
	name := "GoClient" + dialect + fz
	n := ikctest.StartNode(t, func(k *poe.Kernel) {
		mon := ikctest.Session(k, "mon", map[string]poe.Handler{
			"reg":   func(e *poe.Event) any { events <- []any{"reg", e.Arg(poe.ARG1), e.Bool(poe.ARG2)}; return nil },
			"unreg": func(e *poe.Event) any { events <- []any{"unreg", e.Arg(poe.ARG1)}; return nil },
			"err":   func(e *poe.Event) any { events <- []any{"err", e.Arg(poe.ARG4), e.Arg(poe.ARG5)}; return nil },
		})
		mon.Do(func() {
			Monitor(k, "*", map[string]string{"register": "reg", "unregister": "unreg", "error": "err"}, nil)
		})
		_, err := NewClient(k, ClientOptions{Host: "127.0.0.1", Port: s.port, Name: name, Protocol: dialect,
			Serializers: []string{fz}, Subscribe: []string{"poe://" + perlServerName + "/test"},
			OnConnected: func(p Peer) { peers <- p },
			OnError:     func(op string, errno int, text string) { events <- []any{"clienterr", op, text} }})
		if err != nil {
			events <- []any{"clienterr", "new", err.Error()}
		}
	})
	var peer Peer
	select {
	case peer = <-peers:
	case <-time.After(matrixWait):
		var seen []any
		for len(events) > 0 {
			seen = append(seen, <-events)
		}
		m.set(cell, "connect", "FAIL: no connection")
		t.Fatalf("the Client did not connect (%v)", seen)
	}
	await := func(what string, match func([]any) bool) error {
		deadline := time.After(matrixWait)
		for {
			select {
			case e := <-events:
				if match(e) {
					return nil
				}
			case <-deadline:
				return fmt.Errorf("no %s", what)
			}
		}
	}
	call := func(target string, v any) (any, error) {
		ch := make(chan any, 1)
		var err error
		n.Do(func(k *poe.Kernel) { _, err = CallFunc(k, target, func(r any) { ch <- r }, v) })
		if err != nil {
			return nil, err
		}
		select {
		case r := <-ch:
			return r, nil
		case <-time.After(matrixWait):
			return nil, errors.New("no answer")
		}
	}
	m.op(t, cell, "connect", func() error {
		if peer.Freezer != fz || peer.Protocol != dialect {
			return fmt.Errorf("negotiated %s in %s, asked for %s in %s", peer.Freezer, peer.Protocol, fz, dialect)
		}
		return nil
	})
	m.op(t, cell, "monitor", func() error {
		return await("register for "+peer.ID, func(e []any) bool { return e[0] == "reg" && e[1] == peer.ID && e[2] == true })
	})
	m.op(t, cell, "post", func() error {
		n.Do(func(k *poe.Kernel) { Post(k, "poe://"+perlServerName+"/test/posted", "posted-"+cell) })
		return s.awaitPosted("posted-" + cell)
	})
	m.op(t, cell, "call", func() error {
		if r, err := call("poe://"+perlServerName+"/test/echo", "x"); err != nil || r != "x" {
			return fmt.Errorf("echo x: %v, %v", short(r), err)
		}
		return nil
	})
	m.op(t, cell, "subscribe", func() error {
		// The subscription was granted before OnConnected; post through
		// the proxy session.
		n.Do(func(k *poe.Kernel) { k.Post("poe://"+perlServerName+"/test", "posted", "proxied-"+cell) })
		return s.awaitPosted("proxied-" + cell)
	})
	m.op(t, cell, "remote_error", func() error {
		n.Do(func(k *poe.Kernel) { Post(k, "poe://"+perlServerName+"/test/nope", 1) })
		return await("remote-check error", func(e []any) bool {
			text, _ := e[2].(string)
			return e[0] == "err" && e[1] == "remote-check" && strings.Contains(text, "'nope'")
		})
	})
	for _, c := range valueBattery() {
		m.op(t, cell, "values/"+c.name, func() error {
			return checkValue(c, fz, func(state string, v any) (any, error) {
				return call("poe://"+perlServerName+"/test/"+state, v)
			})
		})
	}
}

// goLiteCell: a Go ClientLite against the Perl server.
func goLiteCell(t *testing.T, m *matrixTable, cell string, s perlServer, dialect, fz string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: s.port, Name: "GoLite" + dialect + fz,
		Protocol: dialect, Serializer: fz, Timeout: matrixWait})
	if err != nil {
		m.set(cell, "connect", "FAIL: "+err.Error())
		t.Fatal(err)
	}
	defer l.Disconnect()
	m.op(t, cell, "connect", func() error {
		if l.Freezer() != fz || l.Protocol() != dialect {
			return fmt.Errorf("negotiated %s in %s", l.Freezer(), l.Protocol())
		}
		return nil
	})
	m.op(t, cell, "monitor", func() error { return fmt.Errorf("%w: a ClientLite has no monitors", errNotApplicable) })
	m.op(t, cell, "post", func() error {
		if err := l.Post(ctx, "test/posted", "posted-"+cell); err != nil {
			return err
		}
		return s.awaitPosted("posted-" + cell)
	})
	m.op(t, cell, "call", func() error {
		if r, err := l.Call(ctx, "test/echo", "x"); err != nil || r != "x" {
			return fmt.Errorf("echo x: %v, %v", short(r), err)
		}
		if r, err := l.PostRespond(ctx, "test/add_1", 7); err != nil || r != int64(8) && r != "8" {
			return fmt.Errorf("post_respond add_1 7: %v, %v", short(r), err)
		}
		return nil
	})
	m.op(t, cell, "subscribe", func() error {
		return fmt.Errorf("%w: a ClientLite has no subscriptions", errNotApplicable)
	})
	m.op(t, cell, "remote_error", func() error {
		_, err := l.Call(ctx, "test/nope")
		var re *clientlite.RemoteError
		if !errors.As(err, &re) || re.Phase != "check" || !strings.Contains(re.Text, "'nope'") {
			return fmt.Errorf("call test/nope: %v, want a check-phase RemoteError", err)
		}
		return nil
	})
	for _, c := range valueBattery() {
		m.op(t, cell, "values/"+c.name, func() error {
			return checkValue(c, fz, func(state string, v any) (any, error) { return l.Call(ctx, "test/"+state, v) })
		})
	}
}

// goServer is the Go server of the go-server cells: kernel GoServer,
// session gotest publishing echo, posted and add_1.
type goServer struct {
	n      *ikctest.Node
	port   int
	id     string
	events chan []any
}

func startGoServer(t *testing.T) *goServer {
	g := &goServer{events: make(chan []any, 1000)}
	g.n = ikctest.StartNode(t, func(k *poe.Kernel) {
		s, err := NewServer(k, ServerOptions{IP: "127.0.0.1", Port: EphemeralPort, Name: "GoServer",
			Logger: quietLogger()})
		if err != nil {
			t.Error(err)
			return
		}
		g.port, g.id = s.Port(), k.ID()
		sess := ikctest.Session(k, "gotest", map[string]poe.Handler{
			"echo":   func(e *poe.Event) any { return e.Arg(poe.ARG0) },
			"posted": func(e *poe.Event) any { g.events <- []any{"posted", e.Arg(poe.ARG0)}; return nil },
			"add_1": func(e *poe.Event) any {
				a := e.Slice(poe.ARG0)
				if len(a) == 2 {
					n, _ := strconv.ParseInt(fmt.Sprint(a[0]), 10, 64)
					Post(e.Kernel, a[1], n+1)
				}
				return nil
			},
			"reg":   func(e *poe.Event) any { g.events <- []any{"reg", e.Arg(poe.ARG1), e.Bool(poe.ARG2)}; return nil },
			"unreg": func(e *poe.Event) any { g.events <- []any{"unreg", e.Arg(poe.ARG1)}; return nil },
			"err":   func(e *poe.Event) any { g.events <- []any{"err", e.Arg(poe.ARG4), e.Arg(poe.ARG5)}; return nil },
		})
		sess.Do(func() {
			Publish(k, sess, "echo", "posted", "add_1")
			Monitor(k, "*", map[string]string{"register": "reg", "unregister": "unreg", "error": "err"}, nil)
		})
	})
	return g
}

// await waits for a server event for which match holds.
func (g *goServer) await(what string, match func([]any) bool) error {
	deadline := time.After(matrixWait)
	for {
		select {
		case e := <-g.events:
			if match(e) {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("no %s", what)
		}
	}
}

func (g *goServer) awaitPosted(marker string) error {
	return g.await("post of "+marker, func(e []any) bool { return e[0] == "posted" && e[1] == marker })
}

// perlClientCell: Perl's POE Client against the Go server.
func perlClientCell(t *testing.T, m *matrixTable, cell string, g *goServer, lib, dialect, fz string) {
	name := "PerlClient" + dialect + fz
	p, _ := ikctest.StartRealIKC(t, lib, "--role", "client", "--port", strconv.Itoa(g.port), "--name", name,
		"--protocol", dialect, "--freezer", fz)
	m.op(t, cell, "connect", func() error {
		_, err := p.Await("connected", nil, matrixWait)
		return err
	})
	m.op(t, cell, "monitor", func() error {
		if _, err := p.Await("register", func(e map[string]any) bool { return e["id"] == g.id && e["real"] == 1.0 }, matrixWait); err != nil {
			return fmt.Errorf("Perl's monitor: %w", err)
		}
		return g.await("register of "+name, func(e []any) bool { return e[0] == "reg" && e[1] == name })
	})
	m.op(t, cell, "post", func() error {
		if err := p.Command(map[string]any{"op": "post", "to": "poe://GoServer/gotest/posted", "params": "posted-" + cell}); err != nil {
			return err
		}
		return g.awaitPosted("posted-" + cell)
	})
	m.op(t, cell, "call", func() error {
		if err := p.Command(map[string]any{"op": "call", "to": "poe://GoServer/gotest/echo", "params": "x"}); err != nil {
			return err
		}
		a, err := p.Await("answer", nil, matrixWait)
		if err != nil || a["value"] != "x" {
			return fmt.Errorf("echo x: %v, %v", a, err)
		}
		return nil
	})
	m.op(t, cell, "subscribe", func() error {
		if err := p.Command(map[string]any{"op": "subscribe", "spec": "poe://GoServer/gotest"}); err != nil {
			return err
		}
		s, err := p.Await("subscribed", nil, matrixWait)
		if specs, _ := s["specs"].([]any); err != nil || len(specs) != 1 {
			return fmt.Errorf("subscribe: %v, %v", s, err)
		}
		if err := p.Command(map[string]any{"op": "proxy_post", "session": "poe://GoServer/gotest", "state": "posted", "params": "proxied-" + cell}); err != nil {
			return err
		}
		return g.awaitPosted("proxied-" + cell)
	})
	m.op(t, cell, "remote_error", func() error {
		if err := p.Command(map[string]any{"op": "post", "to": "poe://GoServer/gotest/nope", "params": 1}); err != nil {
			return err
		}
		_, err := p.Await("error", func(e map[string]any) bool {
			text, _ := e["text"].(string)
			return e["op"] == "remote-check" && strings.Contains(text, "'nope'")
		}, matrixWait)
		return err
	})
	call := func(state string, v any) (any, error) {
		ch := make(chan any, 1)
		var err error
		g.n.Do(func(k *poe.Kernel) { _, err = CallFunc(k, "poe://"+name+"/test/"+state, func(r any) { ch <- r }, v) })
		if err != nil {
			return nil, err
		}
		select {
		case r := <-ch:
			return r, nil
		case <-time.After(matrixWait):
			return nil, errors.New("no answer")
		}
	}
	for _, c := range valueBattery() {
		m.op(t, cell, "values/"+c.name, func() error { return checkValue(c, fz, call) })
	}
	p.Command(map[string]any{"op": "quit"})
}

// perlLiteCell: Perl's ClientLite against the Go server; the battery
// runs on the Perl side (same values, Perl's eq).
func perlLiteCell(t *testing.T, m *matrixTable, cell string, g *goServer, lib, dialect, fz string) {
	p, _ := ikctest.StartRealIKC(t, lib, "--role", "lite", "--port", strconv.Itoa(g.port), "--name", "PerlLite"+dialect+fz,
		"--protocol", dialect, "--freezer", fz)
	connected := true
	m.op(t, cell, "connect", func() error {
		if e, err := p.Await("connected", nil, matrixWait); err != nil {
			connected = false
			return fmt.Errorf("%v %v", e, err)
		}
		return nil
	})
	if !connected {
		return
	}
	answer := func(cmd map[string]any) (map[string]any, error) {
		if err := p.Command(cmd); err != nil {
			return nil, err
		}
		return p.Await("answer", nil, matrixWait)
	}
	m.op(t, cell, "monitor", func() error { return fmt.Errorf("%w: a ClientLite has no monitors", errNotApplicable) })
	m.op(t, cell, "post", func() error {
		if err := p.Command(map[string]any{"op": "post", "to": "gotest/posted", "params": "posted-" + cell}); err != nil {
			return err
		}
		return g.awaitPosted("posted-" + cell)
	})
	m.op(t, cell, "call", func() error {
		if a, err := answer(map[string]any{"op": "call", "to": "gotest/echo", "params": "x"}); err != nil || a["value"] != "x" {
			return fmt.Errorf("echo x: %v, %v", a, err)
		}
		if a, err := answer(map[string]any{"op": "post_respond", "to": "gotest/add_1", "params": 7}); err != nil || a["value"] != 8.0 && a["value"] != "8" {
			return fmt.Errorf("post_respond add_1 7: %v, %v", a, err)
		}
		return nil
	})
	m.op(t, cell, "subscribe", func() error {
		return fmt.Errorf("%w: a ClientLite has no subscriptions", errNotApplicable)
	})
	m.op(t, cell, "remote_error", func() error {
		if err := p.Command(map[string]any{"op": "call", "to": "gotest/nope", "params": 1}); err != nil {
			return err
		}
		// Perl's ClientLite turns a 0.2402-style report into
		// "ARRAY(0x...)" (ikc-protocol.md §16 #18): only the failure is checked.
		_, err := p.Await("failed", nil, matrixWait)
		return err
	})
	if err := p.Command(map[string]any{"op": "battery", "to": "gotest/echo"}); err != nil {
		t.Fatal(err)
	}
	b, err := p.Await("battery", nil, 2*time.Minute)
	results := map[string]map[string]any{}
	if err == nil {
		list, _ := b["results"].([]any)
		for _, r := range list {
			if r, ok := r.(map[string]any); ok {
				results[fmt.Sprint(r["name"])] = r
			}
		}
	}
	for _, c := range valueBattery() {
		m.op(t, cell, "values/"+c.name, func() error {
			r := results[c.name]
			switch {
			case err != nil:
				return err
			case r == nil:
				return errors.New("no result from the Perl battery")
			case r["ok"] != 1.0 && r["got"] == "undef" && strings.HasPrefix(fmt.Sprint(r["error"]), "Wide character in syswrite"):
				return fmt.Errorf("%w: Perl sent %v: %v", errKnown, r["want"], r["error"])
			case r["ok"] != 1.0:
				return fmt.Errorf("Perl sent %v, got back %v %v", r["want"], r["got"], r["error"])
			}
			return nil
		})
	}
	p.Command(map[string]any{"op": "quit"})
}

// quietLogger drops the server's warnings about the refused requests the
// matrix makes on purpose.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
