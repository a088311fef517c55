package protocol

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/wheel/freezer"
)

// The fields the captures' README marks as varying, masked on both sides.
var normalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`vm-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}`), "<ID>"},
	{regexp.MustCompile(`127\.0\.0\.1:[0-9]+`), "127.0.0.1:<port>"},
	{regexp.MustCompile(`PID=[0-9]+`), "PID=<pid>"},
	{regexp.MustCompile(`(unix:[-.\w]+):[0-9]+-[0-9]+`), "$1:<pid>-<fd>"},
}

func normalise(lines []string, dropEval bool) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		for _, n := range normalisers {
			l = n.re.ReplaceAllString(l, n.with)
		}
		if dropEval {
			// A Go client never offers the eval freezer (ikc-protocol.md §16 #12).
			l = strings.ReplaceAll(l, ","+freezer.NamePerlFreezer, "")
		}
		out[i] = l
	}
	return out
}

// Our side's varying values (masked by the normaliser).
const (
	goID   = "vm-00000000-00000001-00000001"
	goPort = "127.0.0.1:1"
	goPID  = 1
)

// localOnly stands for the Perl-only serializer Capture::LocalOnly that the
// b4/b5/b7 clients could load and the server could not.
type localOnly struct{ freezer.Storable }

func (localOnly) Name() string { return "Capture::LocalOnly" }

func lookupWithLocalOnly(name string) (freezer.Freezer, error) {
	if name == "Capture::LocalOnly" {
		return localOnly{}, nil
	}
	return freezer.Lookup(name)
}

type side struct {
	dialect  Dialect
	names    []string
	freezers []string
	want     Result // Freezer field unused: FreezerName is compared
}

type replayCase struct {
	id      string // conformance case
	capture string
	server  *side // the Go server's config and expected result, nil: not replayed
	client  *side
}

var replayCases = []replayCase{
	{"I27", "a-ikc-negotiation",
		&side{IKC, []string{"Server", "Srv", goPort}, nil,
			Result{RemoteID: "vm-6b04913f-00002c26-00000001", RemoteAliases: []string{"127.0.0.1:36398", "Client"}, FreezerName: "Storable"}},
		&side{IKC, []string{"Client", goPort}, []string{"Storable", "FreezeThaw"},
			Result{RemoteID: "vm-6b04913f-00002c24-00000001", RemoteAliases: []string{"127.0.0.1:36635", "Srv", "Server"}, FreezerName: "Storable"}}},
	{"I28", "b-ikc0-negotiation",
		&side{IKC0, []string{"Server", "Srv", goPort}, nil,
			Result{RemoteID: "vm-6b049141-00002c2b-00000001", RemoteAliases: []string{"Client", "127.0.0.1:42902"}, RemotePID: 11307, FreezerName: "Storable", IKC0: true}},
		&side{IKC0, []string{"Client", goPort}, []string{"Storable", "FreezeThaw"},
			Result{RemoteID: "vm-6b049141-00002c29-00000001", RemoteAliases: []string{"Server", "Srv", "127.0.0.1:37561"}, RemotePID: 11305, FreezerName: "Storable", IKC0: true}}},
	{"I29", "b2-ikc0-client-ikc-server",
		&side{IKC, []string{"Server", goPort}, nil,
			Result{RemoteID: "vm-6b049142-00002c35-00000001", RemoteAliases: []string{"127.0.0.1:44534", "Client"}, FreezerName: "Storable"}},
		&side{IKC0, []string{"Client", goPort}, []string{"Storable", "FreezeThaw"},
			Result{RemoteID: "vm-6b049142-00002c33-00000001", RemoteAliases: []string{"127.0.0.1:33493", "Server"}, FreezerName: "Storable"}}},
	{"I30", "b3-ikc-client-ikc0-server",
		&side{IKC0, []string{"Server", goPort}, nil,
			Result{RemoteID: "vm-6b049143-00002c3a-00000001", RemoteAliases: []string{"127.0.0.1:37128", "Client"}, FreezerName: "Storable"}},
		&side{IKC, []string{"Client", goPort}, []string{"Storable"},
			Result{RemoteID: "vm-6b049143-00002c38-00000001", RemoteAliases: []string{"127.0.0.1:42109", "Server"}, FreezerName: "Storable"}}},
	{"I31", "b4-freezer-refused-ikc",
		&side{IKC0, []string{"Server", goPort}, nil,
			Result{RemoteID: "vm-6b049145-00002c47-00000001", RemoteAliases: []string{"127.0.0.1:56868", "Client"}, FreezerName: "Storable"}},
		&side{IKC, []string{"Client", goPort}, []string{"Capture::LocalOnly", "Storable"},
			Result{RemoteID: "vm-6b049144-00002c45-00000001", RemoteAliases: []string{"127.0.0.1:46353", "Server"}, FreezerName: "Storable"}}},
	{"I31", "b5-freezer-refused-ikc0",
		&side{IKC0, []string{"Server", goPort}, nil,
			Result{RemoteID: "vm-6b049146-00002c65-00000001", RemoteAliases: []string{"Client", "127.0.0.1:55766"}, RemotePID: 11365, FreezerName: "Storable", IKC0: true}},
		&side{IKC0, []string{"Client", goPort}, []string{"Capture::LocalOnly", "Storable"},
			Result{RemoteID: "vm-6b049146-00002c61-00000001", RemoteAliases: []string{"Server", "127.0.0.1:42567"}, RemotePID: 11361, FreezerName: "Storable", IKC0: true}}},
	{"I31", "b7-freezer-none-acceptable",
		&side{IKC0, []string{"Server", goPort}, nil,
			Result{RemoteID: "vm-6b049147-00002c6a-00000001", RemoteAliases: []string{"127.0.0.1:56278", "Client"}, FreezerName: "Storable", FreezerDefaulted: true}},
		&side{IKC0, []string{"Client", goPort}, []string{"Capture::LocalOnly"},
			Result{RemoteID: "vm-6b049147-00002c68-00000001", RemoteAliases: []string{"127.0.0.1:42147", "Server"}, FreezerName: "Storable", FreezerDefaulted: true}}},
	{"I32", "b6-unix-ikc0",
		&side{IKC0, []string{"Server", UnixName("ikc.sock")}, nil,
			Result{RemoteID: "vm-6b049148-00002c82-00000001", RemoteAliases: []string{"Client", "unix:relay.sock:11394-3"}, RemotePID: 11394, FreezerName: "Storable", IKC0: true}},
		&side{IKC0, []string{"Client", UnixClientName("relay.sock", 1, 3)}, []string{"Storable", "FreezeThaw"},
			Result{RemoteID: "vm-6b049148-00002c80-00000001", RemoteAliases: []string{"Server", "unix:ikc.sock"}, RemotePID: 11392, FreezerName: "Storable", IKC0: true}}},
	// Server reactions to a raw probe's malformed lines.
	{"I40", "p1-probe-ikc0-lines",
		&side{IKC0, []string{"Server", goPort}, nil,
			Result{RemoteID: "Probe", RemoteAliases: []string{}, RemotePID: 4242, FreezerName: "Storable", IKC0: true}}, nil},
	{"I40", "p2-probe-ikc0-setup",
		&side{IKC0, []string{"Server", goPort}, nil,
			Result{RemoteID: "Probe", RemoteAliases: []string{"ProbeAlias"}, RemotePID: 4242, FreezerName: "Storable", IKC0: true}}, nil},
	{"I40", "p3-probe-ikc-lines",
		&side{IKC, []string{"Server", goPort}, nil,
			Result{RemoteID: "Probe", RemoteAliases: []string{}, FreezerName: "Storable", FreezerDefaulted: true}}, nil},
}

// TestNegotiationReplay replays each negotiation capture against a Go
// server (fed the client's lines) and a Go client (fed the server's
// lines): our lines must equal the other direction of the capture, modulo
// the varying fields.
func TestNegotiationReplay(t *testing.T) {
	for _, rc := range replayCases {
		t.Run(rc.id+"/"+rc.capture, func(t *testing.T) {
			conns := loadCapture(t, rc.capture)
			c2s, s2c := lines(conns[0].C2S), lines(conns[0].S2C)
			if rc.server != nil {
				t.Run("server", func(t *testing.T) {
					var warnings []string
					s, err := NewServerNegotiator(Config{KernelID: goID, Names: rc.server.names, Freezers: rc.server.freezers,
						PID: goPID, Dialect: rc.server.dialect, Warn: func(m string) { warnings = append(warnings, m) }})
					if err != nil {
						t.Fatal(err)
					}
					got := s.Start(time.Now())
					var res *Result
					for i, l := range c2s {
						if res != nil {
							t.Fatalf("line %d %q after the result", i, l)
						}
						out, r, err := s.Feed(l)
						if err != nil {
							t.Fatalf("Feed(%q): %v", l, err)
						}
						got, res = append(got, out...), r
					}
					compareLines(t, got, s2c, false)
					checkResult(t, res, rc.server.want)
					t.Logf("warnings: %q", warnings)
				})
			}
			if rc.client != nil {
				t.Run("client", func(t *testing.T) {
					c, err := NewClientNegotiator(Config{KernelID: goID, Names: rc.client.names, Freezers: rc.client.freezers,
						PID: goPID, Dialect: rc.client.dialect, Lookup: lookupWithLocalOnly})
					if err != nil {
						t.Fatal(err)
					}
					got := c.Start(time.Now())
					var res *Result
					for i, l := range s2c {
						if res != nil {
							t.Fatalf("line %d %q after the result", i, l)
						}
						out, r, err := c.Feed(l)
						if err != nil {
							t.Fatalf("Feed(%q): %v", l, err)
						}
						got, res = append(got, out...), r
					}
					compareLines(t, got, c2s, true)
					checkResult(t, res, rc.client.want)
				})
			}
		})
	}
}

func compareLines(t *testing.T, got, want []string, dropEval bool) {
	t.Helper()
	g, w := normalise(got, false), normalise(want, dropEval)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("lines differ\n got %q\nwant %q", g, w)
	}
}

func checkResult(t *testing.T, res *Result, want Result) {
	t.Helper()
	if res == nil {
		t.Fatal("no result at the end of the capture")
	}
	if res.Freezer == nil || res.Freezer.Name() != res.FreezerName {
		t.Errorf("freezer %v named %q", res.Freezer, res.FreezerName)
	}
	got := *res
	got.Freezer = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("result\n got %+v\nwant %+v", got, want)
	}
}

// feedAll feeds lines and returns the output, the result and the first error.
func feedAll(f interface {
	Feed(string) ([]string, *Result, error)
}, in ...string) (out []string, res *Result, err error) {
	for _, l := range in {
		o, r, e := f.Feed(l)
		out = append(out, o...)
		if e != nil {
			return out, nil, e
		}
		if r != nil {
			res = r
		}
	}
	return out, res, nil
}

func newServer(t *testing.T, cfg Config) *ServerNegotiator {
	t.Helper()
	if cfg.KernelID == "" {
		cfg.KernelID = goID
	}
	if cfg.Names == nil {
		cfg.Names = []string{"Server", goPort}
	}
	s, err := NewServerNegotiator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Start(time.Unix(1000, 0))
	return s
}

// TestServerMalformed covers server reactions beyond the captures.
func TestServerMalformed(t *testing.T) {
	t.Run("setup", func(t *testing.T) {
		for _, line := range []string{
			"SETUP FREEZER=Storable;PID=1",                        // no KERNEL
			"SETUP KERNEL=P;FREEZER=No::Such::Freezer;PID=1",      // no usable freezer
			"SETUP KERNEL=P;FREEZER=Storable;PID=abc",             // bad PID
			"SETUP KERNEL=P;FREEZER=Storable;COLOUR=blue",         // unknown field
			"SETUP xKERNEL=P;FREEZER=Storable",                    // whole field names only
			"SETUP KERNEL=;FREEZER=Storable",                      // empty KERNEL
			"SETUP KERNEL=P",                                      // no FREEZER at all
			"SETUP KERNEL=P;FREEZER=POE::Component::IKC::Freezer", // eval freezer refused
			"SETUP KERNEL=has space;FREEZER=Storable",             // not a kernel name
			"SETUP KERNEL=P;;FREEZER=Storable",                    // empty inner field
		} {
			s := newServer(t, Config{})
			out, res, err := s.Feed(line)
			if err != nil || res != nil || !reflect.DeepEqual(out, []string{"NOT"}) {
				t.Errorf("Feed(%q) = %q, %v, %v; want NOT", line, out, res, err)
			}
			// The connection stays usable (p2): a good SETUP follows.
			out, res, err = s.Feed("SETUP KERNEL=P,Q;FREEZER=YAML,Storable;PID=7;")
			if err != nil || res == nil || res.RemoteID != "P" || res.RemotePID != 7 || res.FreezerName != "Storable" ||
				!reflect.DeepEqual(out, []string{"SETUP KERNEL=" + goID + ",Server," + goPort + ";FREEZER=Storable"}) {
				t.Errorf("after %q: %q, %+v, %v", line, out, res, err)
			}
		}
	})
	t.Run("ignored", func(t *testing.T) {
		// Perl's IKC0 server ignores these before HELLO or SETUP (p1).
		s := newServer(t, Config{})
		for _, line := range []string{"SETUP ", "SETUP", "BOGUS LINE", "", "OK", "NOT", "WORLD", "IAM x"} {
			if out, res, err := s.Feed(line); out != nil || res != nil || err != nil {
				t.Errorf("Feed(%q) = %q, %v, %v; want nothing", line, out, res, err)
			}
		}
	})
	t.Run("allowed freezers", func(t *testing.T) {
		s := newServer(t, Config{Freezers: []string{"YAML", "Storable"}})
		out, res, err := s.Feed("SETUP KERNEL=P;FREEZER=POE::Component::IKC::Freezer,YAML,Storable")
		if err != nil || res == nil || res.FreezerName != "YAML" || !strings.HasSuffix(out[0], ";FREEZER=YAML") {
			t.Errorf("%q %+v %v", out, res, err)
		}
		if _, err := NewServerNegotiator(Config{KernelID: goID, Freezers: []string{"Storable", freezer.NamePerlFreezer}}); !errors.Is(err, freezer.ErrEvalFreezer) {
			t.Errorf("eval freezer in config: %v", err)
		}
	})
	t.Run("ikc", func(t *testing.T) {
		var warnings []string
		s := newServer(t, Config{Dialect: IKC, Freezers: []string{"Storable", "YAML"}, Warn: func(m string) { warnings = append(warnings, m) }})
		steps := []struct{ in, out string }{
			{"SETUP KERNEL=P;FREEZER=Storable", "NOT"}, // IKC-only server
			{"HELLO IKC2", "NOT"},
			{"", ""}, // ignored before HELLO
			{"HELLO", "IAM " + goID},
			{"IAM x", "NOT"}, // not OK
			{"NOT", ""},      // never answered
			{"OK", "IAM " + goPort},
			{"OK", "IAM Server"},
			{"OK", "DONE"},
			{"OK", "NOT"},
			{"IAM\tP", "OK"}, // \s+
			{"IAM has space", "NOT"},
			{"IAM", "NOT"},
			{"DONE", ""},
			{"FREEZER POE::Component::IKC::Freezer", "NOT"},
			{"FREEZER", "NOT"},
			{"FREEZER  YAML", "OK"},
			{"FREEZER Bad/Name", "NOT"}, // last accepted (YAML) stays
			{"NOT", ""},
			{"HELLO", "NOT"},
			{"WORLD", "UP"},
		}
		for i, st := range steps {
			out, res, err := s.Feed(st.in)
			if err != nil {
				t.Fatalf("step %d %q: %v", i, st.in, err)
			}
			if got := strings.Join(out, "|"); got != st.out {
				t.Errorf("step %d Feed(%q) = %q, want %q", i, st.in, got, st.out)
			}
			if (res != nil) != (i == len(steps)-1) {
				t.Errorf("step %d: result %+v", i, res)
			}
			if res != nil && (res.FreezerName != "YAML" || res.RemoteID != "P" || res.IKC0 || res.FreezerDefaulted) {
				t.Errorf("result %+v", res)
			}
		}
		if len(warnings) == 0 || !strings.Contains(strings.Join(warnings, "\n"), "ErrEval") && !strings.Contains(strings.Join(warnings, "\n"), "eval") {
			t.Errorf("no warning about the eval freezer: %q", warnings)
		}
		if _, _, err := s.Feed("anything"); !errors.Is(err, ErrNegotiated) {
			t.Errorf("Feed after done: %v", err)
		}
	})
	t.Run("no names", func(t *testing.T) {
		s := newServer(t, Config{})
		_, _, err := feedAll(s, "HELLO", "OK", "OK", "OK", "DONE", "WORLD")
		if !errors.Is(err, ErrNoRemoteName) || s.Err() == nil {
			t.Errorf("WORLD without IAM: %v", err)
		}
	})
	t.Run("line cap", func(t *testing.T) {
		s := newServer(t, Config{MaxLine: 64})
		if _, _, err := s.Feed(strings.Repeat("x", 65)); !errors.Is(err, ErrLineTooLong) {
			t.Errorf("long line: %v", err)
		}
		if _, _, err := s.Feed("HELLO"); !errors.Is(err, ErrLineTooLong) {
			t.Errorf("after failure: %v", err)
		}
		if s.MaxLine() != 64 {
			t.Errorf("MaxLine %d", s.MaxLine())
		}
	})
	t.Run("timeout", func(t *testing.T) {
		s := newServer(t, Config{Timeout: 5 * time.Second})
		if want := time.Unix(1005, 0); !s.Deadline().Equal(want) {
			t.Errorf("deadline %v, want %v", s.Deadline(), want)
		}
		if err := s.Expire(time.Unix(1004, 0)); err != nil {
			t.Errorf("early Expire: %v", err)
		}
		s.Feed("HELLO")
		err := s.Expire(time.Unix(1005, 0))
		if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "001") {
			t.Errorf("Expire: %v", err)
		}
		if _, _, err := s.Feed("OK"); !errors.Is(err, ErrTimeout) {
			t.Errorf("Feed after timeout: %v", err)
		}
		if d := newServer(t, Config{Timeout: -1}).Deadline(); !d.IsZero() {
			t.Errorf("no timeout: deadline %v", d)
		}
	})
	t.Run("terminators", func(t *testing.T) {
		s := newServer(t, Config{})
		out, res, err := s.Feed("SETUP KERNEL=P;FREEZER=Storable\r")
		if err != nil || res == nil || len(out) != 1 {
			t.Errorf("%q %v %v", out, res, err)
		}
	})
}

func TestClientErrors(t *testing.T) {
	newClient := func(cfg Config) *ClientNegotiator {
		t.Helper()
		if cfg.KernelID == "" {
			cfg.KernelID = goID
		}
		c, err := NewClientNegotiator(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Run("bad setup reply", func(t *testing.T) {
		for _, line := range []string{
			"SETUP KERNEL=S;FREEZER=Storable,YAML", // not exactly one
			"SETUP KERNEL=S",
			"SETUP FREEZER=Storable",
			"SETUP KERNEL=S;FREEZER=Storable;PID=x",
		} {
			c := newClient(Config{})
			c.Start(time.Now())
			if _, _, err := c.Feed(line); !errors.Is(err, ErrBadSetup) {
				t.Errorf("Feed(%q): %v", line, err)
			}
		}
		c := newClient(Config{})
		c.Start(time.Now())
		if _, _, err := c.Feed("SETUP KERNEL=S;FREEZER=POE::Component::IKC::Freezer"); !errors.Is(err, ErrFreezer) || !errors.Is(err, freezer.ErrEvalFreezer) {
			t.Errorf("eval freezer chosen: %v", err)
		}
		// Garbage after a first answer gets Perl's NOT.
		c = newClient(Config{})
		c.Start(time.Now())
		if out, _, err := c.Feed("NOT"); err != nil || !reflect.DeepEqual(out, []string{"HELLO"}) {
			t.Fatalf("NOT: %q %v", out, err)
		}
		if out, _, err := c.Feed("GARBAGE"); err != nil || !reflect.DeepEqual(out, []string{"NOT"}) {
			t.Errorf("garbage: %q %v", out, err)
		}
	})
	t.Run("not an IKC server", func(t *testing.T) {
		// The first answer rules IKC out: our own line echoed back, or
		// another protocol's greeting. The negotiation fails at once.
		for _, d := range []Dialect{IKC0, IKC} {
			for _, answer := range []string{"", "HTTP/1.0 400 Bad Request", "220 smtp.example ESMTP"} {
				c := newClient(Config{Dialect: d})
				first := c.Start(time.Now())
				if answer == "" {
					answer = first[0] // an echo server
				}
				_, res, err := c.Feed(answer)
				var nie *NotIKCError
				if res != nil || !errors.As(err, &nie) || nie.Answer != answer || !errors.Is(err, ErrNotIKC) || !errors.Is(err, ErrHandshake) {
					t.Errorf("%v, answer %q: %v %v", d, answer, res, err)
					continue
				}
				if want := fmt.Sprintf("ikc: the peer is not an IKC server (it answered %q)", answer); err.Error() != want {
					t.Errorf("text %q, want %q", err, want)
				}
				if _, _, err2 := c.Feed("SETUP KERNEL=S;FREEZER=Storable"); err2 != err {
					t.Errorf("after the failure: %v", err2)
				}
			}
		}
	})
	t.Run("config", func(t *testing.T) {
		for _, cfg := range []Config{
			{KernelID: goID, Freezers: []string{freezer.NamePerlFreezer}},
			{KernelID: goID, Freezers: []string{"No::Such"}},
			{KernelID: goID, Names: []string{"has space"}},
			{KernelID: goID, Names: []string{""}},
			{KernelID: "a;b"},
			{},
			{KernelID: goID, Dialect: Dialect(7)},
		} {
			if c, err := NewClientNegotiator(cfg); err == nil {
				t.Errorf("NewClientNegotiator(%+v) = %v", cfg, c)
			}
		}
	})
	t.Run("feed before start", func(t *testing.T) {
		c := newClient(Config{})
		if _, _, err := c.Feed("NOT"); err == nil {
			t.Error("no error")
		}
	})
	t.Run("clientlite names", func(t *testing.T) {
		// No kernel ID: the name list alone, first name first (ClientLite).
		c, err := NewClientNegotiator(Config{Names: []string{"LiteClient"}, PID: 42})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Start(time.Now()); !reflect.DeepEqual(got, []string{"SETUP KERNEL=LiteClient;FREEZER=Storable;PID=42"}) {
			t.Errorf("Start: %q", got)
		}
		out, _, _ := feedAll(c, "NOT", "IAM S", "DONE", "OK")
		if want := []string{"HELLO", "OK", "IAM LiteClient", "DONE", "FREEZER Storable"}; !reflect.DeepEqual(out, want) {
			t.Errorf("IKC: %q, want %q", out, want)
		}
	})
}

// TestGoToGo runs a Go client against a Go server for every dialect pair
// of the compatibility matrix (ikc-protocol.md §5.4).
func TestGoToGo(t *testing.T) {
	for _, tc := range []struct {
		client, server Dialect
		ikc0           bool
	}{{IKC0, IKC0, true}, {IKC0, IKC, false}, {IKC, IKC0, false}, {IKC, IKC, false}} {
		t.Run(tc.client.String()+"-to-"+tc.server.String(), func(t *testing.T) {
			c, err := NewClientNegotiator(Config{KernelID: "cid", Names: []string{"Client", "a", "127.0.0.1:2"}, PID: 2,
				Dialect: tc.client, Freezers: []string{"YAML", "Storable"}})
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewServerNegotiator(Config{KernelID: "sid", Names: []string{"Server", "127.0.0.1:1"}, PID: 1, Dialect: tc.server})
			if err != nil {
				t.Fatal(err)
			}
			toServer := c.Start(time.Now())
			s.Start(time.Now())
			var cres, sres *Result
			for round := 0; cres == nil && round < 50; round++ {
				var toClient []string
				for _, l := range toServer {
					out, r, err := s.Feed(l)
					if err != nil {
						t.Fatal(err)
					}
					toClient = append(toClient, out...)
					if r != nil {
						sres = r
					}
				}
				toServer = nil
				for _, l := range toClient {
					out, r, err := c.Feed(l)
					if err != nil {
						t.Fatal(err)
					}
					toServer = append(toServer, out...)
					if r != nil {
						cres = r
					}
				}
			}
			if cres == nil || sres == nil || len(toServer) != 0 {
				t.Fatalf("client %+v server %+v pending %q", cres, sres, toServer)
			}
			if cres.RemoteID != "sid" || sres.RemoteID != "cid" || cres.IKC0 != tc.ikc0 || sres.IKC0 != tc.ikc0 ||
				cres.FreezerName != "Storable" || sres.FreezerName != "Storable" {
				t.Errorf("client %+v\nserver %+v", cres, sres)
			}
			if !c.Done() || !s.Done() {
				t.Error("not done")
			}
		})
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"ikc.sock":              "unix:ikc.sock",
		"sock/ikc server.sock":  "unix:sock_ikc_server.sock",
		"/tmp//a b.sock":        "unix:_tmp_a_b.sock",
		"/var/run/ikc-1:2.sock": "unix:_var_run_ikc-1:2.sock",
	} {
		if got := UnixName(in); got != want {
			t.Errorf("UnixName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := UnixClientName("relay.sock", 11394, 3); got != "unix:relay.sock:11394-3" {
		t.Errorf("UnixClientName = %q", got)
	}
	if got := TCPName("127.0.0.1", 36635); got != "127.0.0.1:36635" {
		t.Errorf("TCPName = %q", got)
	}
	sp, err := ParseSetup("SETUP KERNEL=a,b;FREEZER=Storable;PID=12")
	if err != nil || sp.String() != "SETUP KERNEL=a,b;FREEZER=Storable;PID=12" {
		t.Errorf("ParseSetup: %+v %v", sp, err)
	}
	if _, err := ParseSetup("HELLO"); !errors.Is(err, ErrSetupSyntax) {
		t.Errorf("ParseSetup(HELLO): %v", err)
	}
}

// FuzzServerNegotiator feeds arbitrary line sequences (one per "\n") to
// both server dialects: no panic, lines out are single lines, and a
// finished negotiation has a usable result.
func FuzzServerNegotiator(f *testing.F) {
	f.Add("HELLO\nOK\nOK\nOK\nIAM P\nDONE\nFREEZER Storable\nWORLD")
	f.Add("SETUP KERNEL=P;FREEZER=Storable;PID=1")
	f.Add("HELLO IKC1\nBOGUS\nSETUP KERNEL=Probe;FREEZER=Storable;PID=4242")
	f.Add("WORLD\nHELLO\nOK\nOK\nOK\nIAM has space\nIAM Probe\nDONE\nFREEZER not a package\nFREEZER No::Such\nWORLD")
	f.Add("SETUP KERNEL=;FREEZER=\nSETUP ;;;\nHELLO\nNOT\nOK")
	f.Fuzz(func(t *testing.T, input string) {
		for _, d := range []Dialect{IKC0, IKC} {
			s, err := NewServerNegotiator(Config{KernelID: goID, Names: []string{"Server", goPort}, PID: 1, Dialect: d, MaxLine: 256,
				Freezers: []string{"Storable", "YAML", "FreezeThaw"}})
			if err != nil {
				t.Fatal(err)
			}
			s.Start(time.Unix(0, 0))
			for _, line := range strings.Split(input, "\n") {
				out, res, err := s.Feed(line)
				for _, o := range out {
					if strings.ContainsAny(o, "\r\n") || o == "" {
						t.Fatalf("bad output line %q", o)
					}
				}
				if err != nil {
					if out != nil || res != nil {
						t.Fatalf("error %v with output %q %v", err, out, res)
					}
					break
				}
				if res != nil {
					if res.RemoteID == "" || res.Freezer == nil || !s.Done() {
						t.Fatalf("bad result %+v", res)
					}
					if _, _, err := s.Feed(line); !errors.Is(err, ErrNegotiated) {
						t.Fatalf("Feed after done: %v", err)
					}
					break
				}
			}
			s.Expire(time.Unix(1<<40, 0))
		}
	})
}
