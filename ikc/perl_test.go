package ikc

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/poe"
)

// These tests run Go IKC peers against small Perl IKC peers written for
// them (testdata/ikc_peer.pl: plain POE, POE::Filter::Line/Reference and
// Storable or YAML, not POE::Component::IKC), in both roles and both
// dialects. Without perl and POE they skip; with POE_REQUIRE_PERL=1 (CI)
// they fail instead.

// loose compares values the way Perl sees them (YAML has no number type).
func loose(v any) string { return fmt.Sprint(v) }

// goPeer is the Go side of an interop test: a kernel with a session
// "gocli" that publishes hey, double and told, and monitors everything.
type goPeer struct {
	n   *ikctest.Node
	rec ikctest.Recorder
}

func newGoPeer(t *testing.T, setup func(k *poe.Kernel)) *goPeer {
	g := &goPeer{rec: ikctest.NewRecorder()}
	g.n = ikctest.StartNode(t, func(k *poe.Kernel) {
		setup(k)
		s := ikctest.Session(k, "gocli", map[string]poe.Handler{
			"hey":    g.rec.Handler("hey", nil),
			"told":   g.rec.Handler("told", nil),
			"double": func(e *poe.Event) any { return 2 * toInt(e.Arg(poe.ARG0)) },
			"posted": g.rec.Handler("posted", nil),
			"add": func(e *poe.Event) any {
				sum := int64(0)
				for _, x := range e.Slice(poe.ARG0) {
					sum += toInt(x)
				}
				return sum
			},
			"mon": func(e *poe.Event) any {
				g.rec <- append([]any{"mon"}, e.Args...)
				return nil
			},
			"dotell": func(e *poe.Event) any {
				e.Kernel.Post(e.Arg(poe.ARG0), "tell", e.Arg(poe.ARG1))
				return nil
			},
			"subscribed": func(e *poe.Event) any { g.rec <- []any{"subscribed", e.Arg(poe.ARG0)}; return nil },
		})
		s.Do(func() {
			Publish(k, s, "hey", "told", "double", "posted", "add")
			Monitor(k, "*", map[string]string{"register": "mon", "unregister": "mon", "error": "mon"}, nil)
		})
	})
	return g
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		var n int64
		fmt.Sscan(x, &n)
		return n
	}
	return 0
}

// monitor waits for a monitor callback op (register, unregister, error)
// about name (for errors: ARG4 = the operation).
func (g *goPeer) monitor(t *testing.T, match func(args []any) bool) []any {
	t.Helper()
	deadline := time.After(ikctest.PerlTimeout)
	for {
		select {
		case v := <-g.rec:
			if v[0] == "mon" && match(v[1:]) {
				return v[1:]
			}
		case <-deadline:
			t.Fatal("timed out waiting for a monitor callback")
			return nil
		}
	}
}

// callFunc runs ikc.CallFunc on the kernel and waits for the result.
func (g *goPeer) callFunc(t *testing.T, target string, args ...any) any {
	t.Helper()
	res := make(chan any, 1)
	g.n.Do(func(k *poe.Kernel) {
		if _, err := CallFunc(k, target, func(v any) { res <- v }, args...); err != nil {
			t.Errorf("CallFunc %s: %v", target, err)
		}
	})
	select {
	case v := <-res:
		return v
	case <-time.After(ikctest.PerlTimeout):
		t.Fatalf("no reply from %s", target)
		return nil
	}
}

// exercise runs the checks common to both roles once the connection is
// up: goName is how Perl knows the Go kernel, perlName how Go knows the
// Perl kernel.
func exercise(t *testing.T, g *goPeer, p *ikctest.PerlPeer, goName, perlName string) {
	// Go -> Perl post.
	g.n.Do(func(k *poe.Kernel) { Post(k, "poe://"+perlName+"/test/posted", "hello from go") })
	if e := p.Expect("invoke", ikctest.Invoked("test", "posted")); loose(e["args"]) != "[hello from go]" {
		t.Errorf("perl posted got %v", e["args"])
	}
	// Go -> Perl call with RSVP.
	if v := g.callFunc(t, "poe://"+perlName+"/test/add", []any{2, 3}); loose(v) != "5" {
		t.Errorf("perl add = %#v, want 5", v)
	}
	// Go -> Perl, the Perl handler posts back to its SENDER (IKC:proxy
	// to the Go session's published alias).
	// (dotell posts to the proxy of a subscription: subscribe first.)
	g.n.Do(func(k *poe.Kernel) {
		s := k.AliasResolve("gocli")
		s.Do(func() {
			if err := Subscribe(k, []string{"poe://" + perlName + "/test", "poe://" + perlName + "/nosuch"}, "subscribed"); err != nil {
				t.Errorf("subscribe: %v", err)
			}
		})
	})
	if v := g.rec.WaitFor(t, "subscribed"); loose(v[1]) != "[poe://"+perlName+"/test]" {
		t.Errorf("subscription accepted %v, want only poe://%s/test", v[1], perlName)
	}
	g.n.Do(func(k *poe.Kernel) { k.Post("gocli", "dotell", "poe://"+perlName+"/test", "x") })
	if v := g.rec.WaitFor(t, "told"); loose(v[1:]) != "[x]" {
		t.Errorf("told %v", v[1:])
	}
	// Go -> Perl unpublished: remote_error comes back.
	g.n.Do(func(k *poe.Kernel) { Post(k, "poe://"+perlName+"/test/nope", 1) })
	m := g.monitor(t, func(a []any) bool { return a[4] == "remote-check" })
	if !strings.HasPrefix(loose(m[5]), "Session 'test' has not published state 'nope'.  Request poe://"+perlName+"/test/nope") {
		t.Errorf("remote error %q", m[5])
	}
	p.Expect("local_error", func(e map[string]any) bool { return e["phase"] == "check" })

	// Perl -> Go post, call, and an unpublished state.
	p.Send(map[string]any{"op": "post", "to": "poe://" + goName + "/gocli/hey", "params": "from perl", "from": 1})
	if v := g.rec.WaitFor(t, "hey"); v[1] != "from perl" {
		t.Errorf("hey got %#v", v[1])
	}
	p.Send(map[string]any{"op": "call", "to": "poe://" + goName + "/gocli/double", "params": 21, "state": "answer"})
	if e := p.Expect("answer", nil); loose(e["params"]) != "42" {
		t.Errorf("perl got answer %v, want 42", e["params"])
	}
	p.Send(map[string]any{"op": "post", "to": "poe://" + goName + "/gocli/secret", "params": 1})
	if e := p.Expect("remote_error", nil); e["phase"] != "check" ||
		!strings.HasPrefix(loose(e["text"]), "Session 'gocli' has not published state 'secret'") {
		t.Errorf("perl remote_error %v", e)
	}
	// Perl subscribes to a Go session (do_you_have) and posts through
	// IKC:proxy with several arguments.
	p.Send(map[string]any{"op": "subscribe", "spec": map[string]any{"kernel": goName, "session": "gocli"}})
	e := p.Expect("answer", func(e map[string]any) bool { return e["state"] == "receipt" })
	if a, ok := e["params"].([]any); !ok || len(a) != 2 || loose(a[0].(map[string]any)["session"]) != "gocli" {
		t.Errorf("receipt %v", e["params"])
	}
	p.Send(map[string]any{"op": "subscribe", "spec": map[string]any{"kernel": goName, "session": "nosuch"}})
	if e := p.Expect("answer", func(e map[string]any) bool { return e["state"] == "receipt" }); !strings.HasPrefix(loose(e["params"]), "Refused subscription") {
		t.Errorf("refused receipt %v", e["params"])
	}
	p.Send(map[string]any{"op": "proxy", "to": map[string]any{"kernel": goName, "session": "gocli"}, "state": "posted", "args": []any{"a", "b"}})
	if v := g.rec.WaitFor(t, "posted"); loose(v[1:]) != "[a b]" {
		t.Errorf("posted via IKC:proxy: %v", v[1:])
	}
}

// TestPerlInteropGoClient: a Go Client connects to the Perl server.
func TestPerlInteropGoClient(t *testing.T) {
	ikctest.NeedPerl(t)
	for _, tc := range []struct{ proto, fz, unix string }{
		{"IKC0", "Storable", ""}, {"IKC", "Storable", ""}, {"IKC0", "YAML", ""}, {"IKC", "YAML", ""}, {"IKC0", "Storable", "unix"},
	} {
		t.Run(tc.proto+"-"+tc.fz+"-"+map[string]string{"": "tcp", "unix": "unix"}[tc.unix], func(t *testing.T) {
			if tc.fz == "YAML" {
				ikctest.NeedPerl(t, "YAML")
			}
			args := []string{"--role", "server", "--protocol", tc.proto, "--name", "PerlServer"}
			var path string
			if tc.unix != "" {
				path = filepath.Join(t.TempDir(), "perl.sock")
				args = append(args, "--unix", path)
			}
			p, ready := ikctest.StartPerl(t, args...)
			port := int(ready["port"].(float64))
			var goID string
			g := newGoPeer(t, func(k *poe.Kernel) {
				goID = k.ID()
				if _, err := NewClient(k, ClientOptions{Host: "127.0.0.1", Port: port, Unix: path, Name: "GoClient",
					Protocol: tc.proto, Serializers: []string{tc.fz},
					OnError: func(op string, errno int, text string) { t.Errorf("client %s: %s", op, text) }}); err != nil {
					t.Fatal(err)
				}
			})
			reg := p.Expect("register", nil)
			if reg["id"] != goID || !strings.Contains(loose(reg["aliases"]), "GoClient") || reg["freezer"] != tc.fz || reg["dialect"] != tc.proto {
				t.Errorf("perl registered %v, want id %s, alias GoClient, %s, %s", reg, goID, tc.fz, tc.proto)
			}
			g.monitor(t, func(a []any) bool { return a[1] == "PerlServer" })
			exercise(t, g, p, "GoClient", "PerlServer")
			// The Go side closes: Perl sees the unregister.
			g.n.Do(func(k *poe.Kernel) { Shutdown(k) })
			p.Expect("unregister", func(e map[string]any) bool { return e["id"] == goID })
		})
	}
}

// TestPerlInteropPerlClient: the Perl client connects to a Go server.
func TestPerlInteropPerlClient(t *testing.T) {
	ikctest.NeedPerl(t)
	for _, tc := range []struct{ proto, fz, unix string }{
		{"IKC0", "Storable", ""}, {"IKC", "Storable", ""}, {"IKC0", "YAML", ""}, {"IKC", "YAML", "unix"},
	} {
		t.Run(tc.proto+"-"+tc.fz+"-"+map[string]string{"": "tcp", "unix": "unix"}[tc.unix], func(t *testing.T) {
			if tc.fz == "YAML" {
				ikctest.NeedPerl(t, "YAML")
			}
			var port int
			var path string
			if tc.unix != "" {
				path = filepath.Join(t.TempDir(), "go.sock")
			}
			g := newGoPeer(t, func(k *poe.Kernel) {
				s, err := NewServer(k, ServerOptions{Name: "GoSrv", Unix: path, Protocol: tc.proto, Serializers: []string{"Storable", "YAML"}})
				if err != nil {
					t.Fatal(err)
				}
				port = s.Port()
				ts := ikctest.Session(k, "test", map[string]poe.Handler{"noop": func(e *poe.Event) any { return nil }})
				Publish(k, ts, "noop")
			})
			args := []string{"--role", "client", "--protocol", tc.proto, "--name", "PerlClient", "--freezer", tc.fz}
			if path != "" {
				args = append(args, "--unix", path)
			} else {
				args = append(args, "--port", fmt.Sprint(port))
			}
			p, _ := ikctest.StartPerl(t, args...)
			reg := p.Expect("register", nil)
			if reg["freezer"] != tc.fz || !strings.Contains(loose(reg["aliases"]), "GoSrv") {
				t.Errorf("perl registered %v", reg)
			}
			perlID := loose(g.monitor(t, func(a []any) bool { return a[2] == true })[1])
			if v := g.monitor(t, func(a []any) bool { return a[1] == "PerlClient" }); v[2] != false {
				t.Errorf("register PerlClient %v", v)
			}
			exercise(t, g, p, "GoSrv", "PerlClient")
			p.Send(map[string]any{"op": "quit"})
			g.monitor(t, func(a []any) bool { return a[1] == perlID && len(a) == 4 })
		})
	}
}
