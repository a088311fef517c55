package ikc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/poe"
)

// clientRun is what one client of t/10_server_client.t recorded.
type clientRun struct {
	name, server string
	events       []string
}

// TestConformanceServerClient is t/10_server_client.t (ikc-protocol.md §15, cases
// 1-8) with Go on both sides: one server kernel with a Unix listener
// (IKC0) and a TCP one (IKC), six client kernels one after the other.
func TestConformanceServerClient(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "ikc.sock")
	srec := ikctest.NewRecorder()
	var (
		srv       *ikctest.Node
		port      int
		pubTest   []string
		pubAll    map[string][]string
		setupErrs []error
	)
	clients := []struct{ name, kind, server string }{
		{"UnixClient", "unix", "Unix"}, {"Unix0Client", "unix", "Unix"},
		{"InetClient", "tcp", "Inet"}, {"Inet0Client", "tcp", "Inet"},
		{"IkcClient", "tcp", "Ikc"}, {"Ikc0Client", "tcp", "Ikc"},
	}

	// The scenario runs whole whatever -run selects (its steps depend on
	// each other); each case's subtest checks its part, so that any case
	// can be run alone.
	srv = ikctest.StartNode(t, func(k *poe.Kernel) {
		if _, err := NewServer(k, ServerOptions{Unix: sock, Name: "Unix", Protocol: "IKC0"}); err != nil {
			setupErrs = append(setupErrs, err)
		}
		s, err := NewServer(k, ServerOptions{IP: "127.0.0.1", Port: EphemeralPort, Name: "Inet", Aliases: []string{"Ikc"}, Protocol: "IKC"})
		if err != nil {
			setupErrs = append(setupErrs, err)
			return
		}
		port = s.Port()
	})
	_, sockErr := os.Stat(sock)
	t.Run("I01", func(t *testing.T) {
		if len(setupErrs) > 0 {
			t.Fatal(setupErrs)
		}
		if port <= 0 {
			t.Fatalf("port %d", port)
		}
		if sockErr != nil {
			t.Fatalf("unix socket: %v", sockErr)
		}
	})
	if len(setupErrs) > 0 || port <= 0 || sockErr != nil {
		t.Fatalf("the servers did not start: %v, port %d, socket %v", setupErrs, port, sockErr)
	}

	srv.Do(func(k *poe.Kernel) {
		ts := ikctest.Session(k, "test", map[string]poe.Handler{
			"posted": func(e *poe.Event) any { srec <- []any{"posted", e.Arg(poe.ARG0)}; return nil },
			"called": func(e *poe.Event) any { srec <- []any{"called", e.Arg(poe.ARG0)}; return 1 },
			"method": func(e *poe.Event) any {
				srec <- []any{"method", e.Arg(poe.ARG0)}
				e.Kernel.Post(e.Sender, "YOW", "from", "server")
				return nil
			},
			"done": func(e *poe.Event) any { srec <- []any{"done", ""}; return nil },
		})
		Publish(k, ts, "posted", "called", "method", "done")
		r := ResponderOf(k)
		pubTest = r.Published("test")
		pubAll = r.PublishedAll()
		mon := ikctest.Session(k, "monitor", map[string]poe.Handler{
			"reg":      func(e *poe.Event) any { srec <- []any{"reg", e.Arg(poe.ARG0), e.Arg(poe.ARG4)}; return nil },
			"unreg":    func(e *poe.Event) any { srec <- []any{"unreg", e.Arg(poe.ARG0)}; return nil },
			"shutdown": func(e *poe.Event) any { srec <- []any{"shutdown", e.Arg(poe.ARG0)}; return nil },
		})
		mon.Do(func() {
			for _, c := range clients {
				Monitor(k, c.name, map[string]string{"register": "reg", "unregister": "unreg"}, nil)
			}
			Monitor(k, "*", map[string]string{"shutdown": "shutdown"}, nil)
		})
	})
	t.Run("I02", func(t *testing.T) {
		if len(pubTest) != 4 {
			t.Errorf("published(test) = %v, want 4 states", pubTest)
		}
		if len(pubAll) != 2 || pubAll["test"] == nil || pubAll["IKC"] == nil {
			t.Errorf("published() = %v, want test and IKC", pubAll)
		}
	})

	runs := make([]*clientRun, len(clients))
	regPID := map[string]any{}
	var regErrs []string
	for i, c := range clients {
		runs[i] = runScriptClient(t, c.name, c.kind, c.server, sock, port)
		// What the server saw for this client, up to its unregister.
		for done := false; !done; {
			got := srec.Wait(t)
			switch got[0] {
			case "reg":
				if got[1] != c.name {
					regErrs = append(regErrs, fmt.Sprintf("register monitor for %v, want %s", got[1], c.name))
				}
				regPID[c.name] = got[2]
			case "unreg":
				if got[1] != c.name {
					regErrs = append(regErrs, fmt.Sprintf("unregister for %v, want %s", got[1], c.name))
				}
				done = true
			default:
				runs[i].events = append(runs[i].events, fmt.Sprintf("server %v %v", got[0], fmt.Sprint(got[1:]...)))
			}
		}
	}
	t.Run("I03", func(t *testing.T) {
		for _, e := range regErrs {
			t.Error(e)
		}
		for _, c := range clients {
			if _, ok := regPID[c.name]; !ok {
				t.Errorf("%s: no register seen by the server", c.name)
				continue
			}
			// Unix: IKC0 server, the SETUP carries a PID; TCP: the
			// IKC-only server answered NOT and the client fell back
			// to HELLO (no PID).
			if c.kind == "unix" && regPID[c.name] == nil {
				t.Errorf("%s: want an IKC0 handshake (PID), got %v", c.name, regPID[c.name])
			}
			if c.kind == "tcp" && regPID[c.name] != nil {
				t.Errorf("%s: want the IKC fallback (no PID), got %v", c.name, regPID[c.name])
			}
		}
	})
	check := func(name string, want ...string) {
		t.Run(name, func(t *testing.T) {
			for _, run := range runs {
				if run == nil {
					t.Fatal("client did not run")
				}
				for _, w := range want {
					w = strings.NewReplacer("{server}", run.server, "{name}", run.name).Replace(w)
					if !contains(run.events, w) {
						t.Errorf("%s: missing %q in %q", run.name, w, run.events)
					}
				}
			}
		})
	}
	check("I04", "register {server}")
	check("I05", "server posted [posted {name}]")
	check("I06", "server called called", "callback true")
	check("I07", "subscribed poe://{server}/test", "server method map[type:method]", "YOW from server")
	check("I08", "unsubscribe", "server done ", "client exited")

	t.Run("I08-server", func(t *testing.T) {
		srv.Do(func(k *poe.Kernel) { Shutdown(k); srv.Release() })
		if got := srec.WaitFor(t, "shutdown"); got[1] != "*" {
			t.Errorf("shutdown monitor ARG0 = %v", got[1])
		}
		if !srv.Exited() {
			t.Fatal("server kernel did not exit by itself")
		}
	})
}

// runScriptClient runs one client kernel of t/10_server_client.t to its
// end and returns what it saw (server-side handler calls are forwarded
// into the same list by the caller's recorder).
func runScriptClient(t *testing.T, name, kind, server, sock string, port int) *clientRun {
	t.Helper()
	run := &clientRun{name: name, server: server}
	ev := make(chan string, 100)
	cn := ikctest.StartNode(t, func(k *poe.Kernel) {
		proxy := "poe://" + server + "/test"
		cs := ikctest.Session(k, "client", map[string]poe.Handler{
			"registered": func(e *poe.Event) any {
				ev <- "register " + e.String(poe.ARG0)
				Post(e.Kernel, "poe://"+server+"/test/posted", []any{"posted", name})
				Call(e.Kernel, "poe://"+server+"/test/called", "poe:callback", "called")
				return nil
			},
			"callback": func(e *poe.Event) any {
				ev <- fmt.Sprintf("callback %v", e.Bool(poe.ARG0))
				Subscribe(e.Kernel, []string{proxy}, "subscribed_cb")
				return nil
			},
			"subscribed_cb": func(e *poe.Event) any { ev <- fmt.Sprintf("subscribed %v", e.Arg(poe.ARG0)); return nil },
			"subscribe": func(e *poe.Event) any {
				ev <- "subscribed " + proxy
				e.Kernel.Post(proxy, "method", map[string]any{"type": "method"})
				return nil
			},
			"YOW": func(e *poe.Event) any {
				ev <- fmt.Sprintf("YOW %v %v", e.Arg(poe.ARG0), e.Arg(poe.ARG1))
				Retract(e.Kernel, "client", "YOW")
				Unsubscribe(e.Kernel, proxy)
				return nil
			},
			"unsubscribe": func(e *poe.Event) any {
				if !e.Bool(poe.ARG2) {
					return nil // the same, for an alias of the server
				}
				ev <- "unsubscribe"
				Post(e.Kernel, "poe://"+server+"/test/done", nil)
				e.Kernel.Yield("finish")
				return nil
			},
			"finish": func(e *poe.Event) any {
				Shutdown(e.Kernel)
				ikctest.ReleaseKernel(e.Kernel)
				return nil
			},
		})
		opts := ClientOptions{Name: name, Host: "127.0.0.1", Port: port,
			OnError: func(op string, errno int, text string) { ev <- fmt.Sprintf("error %s %d %s", op, errno, text) }}
		if kind == "unix" {
			opts = ClientOptions{Name: name, Unix: sock, OnError: opts.OnError}
		}
		cs.Do(func() {
			Publish(k, cs, "YOW")
			Monitor(k, server, map[string]string{"register": "registered", "subscribe": "subscribe"}, nil)
			Monitor(k, "*", map[string]string{"unsubscribe": "unsubscribe"}, nil)
			if _, err := NewClient(k, opts); err != nil {
				ev <- "error " + err.Error()
			}
		})
	})
	if cn.Exited() {
		ev <- "client exited"
	}
	close(ev)
	for e := range ev {
		run.events = append(run.events, e)
	}
	return run
}
