package servertcp_test

import (
	"fmt"
	"github.com/google/go-cmp/cmp"
	"github.com/poe-go/poe/wheel"
	"github.com/poe-go/poe/wheel/filter"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/component/clienttcp"
	"github.com/poe-go/poe/component/servertcp"
	"github.com/poe-go/poe/poe"
)

// argKinds describes ARG0.. as POE's test does with ref(): the Go kinds.
func argKinds(e *poe.Event) string {
	if len(e.Args) == 0 {
		return ""
	}
	kinds := make([]string, len(e.Args))
	for i, a := range e.Args {
		switch a.(type) {
		case []any:
			kinds[i] = "ARRAY"
		case map[string]any:
			kinds[i] = "HASH"
		case *string:
			kinds[i] = "SCALAR"
		default:
			kinds[i] = "none"
		}
	}
	return ": " + strings.Join(kinds, " ")
}

type objectStatesTest struct{ log *evlog }

func (o *objectStatesTest) Test(e *poe.Event) any {
	o.log.L("ObjectStates test: %s", e.String(poe.ARG0))
	return nil
}

// TestServerClientConversation is POE's t/90_regression/somni-poco-server-tcp.t:
// a Server::TCP and a Client::TCP greet each other, the server says
// "Go away.", the client shuts down, the server sees the disconnection and
// shuts itself down; ListenerArgs reach Started, ClientArgs reach
// ClientConnected, and the extra states are the connection's.
func TestServerClientConversation(t *testing.T) {
	empty := ""
	cases := []struct {
		name  string
		extra func(o *servertcp.Options, log *evlog)
		want  []string
	}{
		{"plain", nil, []string{
			"server started",
			"client started",
			"client connected to server",
			"client connected",
			"client flushed",
			anyOrder + "received from server: I will be serving you today!",
			anyOrder + "received from client: I am your new client!",
			"received from server: Go away.",
			"client disconnected",
		}},
		{"args", func(o *servertcp.Options, _ *evlog) {
			o.ClientArgs = []any{"", &empty, map[string]any{}, []any{}}
			o.ListenerArgs = []any{[]any{}, map[string]any{}, &empty, ""}
		}, []string{
			"server started: ARRAY HASH SCALAR none",
			"client started",
			"client connected to server: none SCALAR HASH ARRAY",
			"client connected",
			"client flushed",
			anyOrder + "received from server: I will be serving you today!",
			anyOrder + "received from client: I am your new client!",
			"received from server: Go away.",
			"client disconnected",
		}},
		{"states", func(o *servertcp.Options, log *evlog) {
			o.InlineStates = map[string]poe.Handler{"InlineStates_test": func(e *poe.Event) any {
				log.L("InlineStates test: %s", e.String(poe.ARG0))
				return nil
			}}
			o.ObjectStates = []poe.States{poe.ObjectMap(&objectStatesTest{log}, map[string]string{"ObjectStates_test": "Test"})}
			o.PackageStates = []poe.States{poe.Package("PackageStates_test", map[string]poe.Handler{"PackageStates_test": func(e *poe.Event) any {
				log.L("PackageStates test: %s", e.String(poe.ARG0))
				return nil
			}})}
		}, []string{
			"server started",
			"client started",
			"client connected to server",
			"client connected",
			"InlineStates test: from server_client_connected",
			"ObjectStates test: from server_client_connected",
			"PackageStates test: from server_client_connected",
			"client flushed",
			anyOrder + "received from server: I will be serving you today!",
			anyOrder + "received from client: I am your new client!",
			"received from server: Go away.",
			"client disconnected",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log := &evlog{}
			k := poe.NewKernel(nil)
			o := servertcp.Options{
				Address: "127.0.0.1",
				Alias:   "server",
				Started: func(e *poe.Event) any {
					s := servertcp.ServerOf(e)
					log.L("server started%s", argKinds(e))
					_, err := clienttcp.New(e.Kernel, clienttcp.Options{
						RemoteAddress: "127.0.0.1", RemotePort: s.Port(),
						Started: func(e *poe.Event) any { log.L("client started"); return nil },
						Connected: func(e *poe.Event) any {
							log.L("client connected")
							clienttcp.From(e).Server.Put("I am your new client!")
							return nil
						},
						ServerInput: func(e *poe.Event) any {
							msg := e.String(poe.ARG0)
							log.L("received from server: %s", msg)
							if msg == "Go away." {
								e.Kernel.Yield("shutdown")
							}
							return nil
						},
						ServerFlushed: func(e *poe.Event) any { log.L("client flushed"); return nil },
					})
					if err != nil {
						t.Error(err)
					}
					// The listener has none of these: they go nowhere, as in POE.
					e.Kernel.Yield("InlineStates_test", "from server_started")
					e.Kernel.Yield("ObjectStates_test", "from server_started")
					e.Kernel.Yield("PackageStates_test", "from server_started")
					return nil
				},
				ClientConnected: func(e *poe.Event) any {
					log.L("client connected to server%s", argKinds(e))
					servertcp.ConnOf(e).Client.Put("I will be serving you today!")
					e.Kernel.Yield("InlineStates_test", "from server_client_connected")
					e.Kernel.Yield("ObjectStates_test", "from server_client_connected")
					e.Kernel.Yield("PackageStates_test", "from server_client_connected")
					return nil
				},
				ClientDisconnected: func(e *poe.Event) any {
					log.L("client disconnected")
					e.Kernel.Post("server", "shutdown")
					return nil
				},
				ClientInput: func(e *poe.Event) any {
					log.L("received from client: %s", e.String(poe.ARG0))
					servertcp.ConnOf(e).Client.Put("Go away.")
					return nil
				},
			}
			if tc.extra != nil {
				tc.extra(&o, log)
			}
			if _, err := servertcp.New(k, o); err != nil {
				t.Fatal(err)
			}
			runKernel(t, k, 10*time.Second)
			wantStates(t, log.get(), tc.want)
		})
	}
}

// any marks a state that POE's test finds anywhere in what is left
// (ok_state_any); the others must come next (ok_state_top).
const anyOrder = "\x00any:"

// wantStates checks the recorded states as POE's ok_state_top and
// ok_state_any do, then that nothing is left (ok_state_empty).
func wantStates(t *testing.T, got, want []string) {
	t.Helper()
	left := append([]string(nil), got...)
	for _, w := range want {
		if rest, ok := strings.CutPrefix(w, anyOrder); ok {
			found := false
			for i, g := range left {
				if g == rest {
					left = append(left[:i], left[i+1:]...)
					found = true
					break
				}
			}
			if !found {
				t.Errorf("state %q missing; got %q", rest, got)
			}
			continue
		}
		if len(left) == 0 || left[0] != w {
			t.Errorf("next state is not %q; got %q", w, got)
			return
		}
		left = left[1:]
	}
	if len(left) != 0 {
		t.Errorf("states left over: %q", left)
	}
}

// TestAcceptorAndCallbackServers is poe-test-loops' comp_tcp.pm: one server
// with its own Acceptor session, one with the Client callbacks (a "\n" Line
// filter, ClientPreConnect), a Client::TCP for each that says "quit" and
// sees the echo, end of file ("read" error 0) and its disconnection, and
// posts "shutdown" to its server.
func TestAcceptorAndCallbackServers(t *testing.T) {
	log := &evlog{}
	pass := func(label string) { log.L("%s", label) }
	k := poe.NewKernel(nil)
	newline := filter.MustLine(filter.LineOptions{Literal: "\n"})

	acceptor, err := servertcp.New(k, servertcp.Options{
		Address: "127.0.0.1", Alias: "acceptor_server",
		Acceptor: func(e *poe.Event) any {
			sock := e.Arg(poe.ARG0)
			var rw *wheel.ReadWrite
			shutdown := false
			_, err := e.Kernel.Create(poe.Spec{Inline: map[string]poe.Handler{
				"_start": func(e *poe.Event) any {
					var err error
					rw, err = wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{
						Handle: sock, InputEvent: "got_input", ErrorEvent: "got_error", FlushedEvent: "got_flush",
					})
					if err != nil {
						t.Error(err)
					}
					pass("acceptor server got client connection")
					return nil
				},
				"_stop": func(e *poe.Event) any { pass("acceptor server stopped the client session"); return nil },
				"got_input": func(e *poe.Event) any {
					pass("acceptor server received input")
					rw.Put("echo: " + e.String(poe.ARG0))
					if e.String(poe.ARG0) == "quit" {
						shutdown = true
					}
					return nil
				},
				"got_error": func(e *poe.Event) any {
					t.Logf("acceptor server got %s error %d: %s", e.String(0), e.Int(1), e.String(2))
					return nil
				},
				"got_flush": func(e *poe.Event) any {
					pass("acceptor server flushed output")
					if shutdown {
						rw.Close()
					}
					return nil
				},
			}})
			if err != nil {
				t.Error(err)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	callback, err := servertcp.New(k, servertcp.Options{
		Address: "127.0.0.1", Alias: "input_server",
		ClientFilter: newline,
		ClientInput: func(e *poe.Event) any {
			pass("callback server got input")
			c := servertcp.ConnOf(e)
			c.Client.Put("echo: " + e.String(poe.ARG0))
			if e.String(poe.ARG0) == "quit" {
				c.ShuttingDown = true
			}
			return nil
		},
		ClientError: func(e *poe.Event) any {
			t.Logf("callback server got %s error %d: %s", e.String(0), e.Int(1), e.String(2))
			return nil
		},
		ClientFlushed:   func(e *poe.Event) any { pass("callback server flushed output"); return nil },
		ClientConnected: func(e *poe.Event) any { pass("callback server got client connection"); return nil },
		ClientPreConnect: func(e *poe.Event) any {
			pass("server got pre-connect callback")
			if fd, ok := e.Arg(poe.ARG0).(int); ok && fd > 0 {
				pass("ARG0 is a socket")
			}
			return e.Arg(poe.ARG0)
		},
		ClientDisconnected: func(e *poe.Event) any { pass("callback server got client disconnected"); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}

	client := func(name string, port int, o clienttcp.Options) {
		o.RemoteAddress, o.RemotePort = "127.0.0.1", port
		o.Connected = func(e *poe.Event) any {
			pass(name + " client connected")
			clienttcp.From(e).Server.Put("quit")
			return nil
		}
		o.ConnectError = func(e *poe.Event) any {
			t.Errorf("%s client got %s error %d: %s", name, e.String(0), e.Int(1), e.String(2))
			return nil
		}
		o.Disconnected = func(e *poe.Event) any {
			pass(name + " client disconnected")
			server := "input_server"
			if name == "acceptor" {
				server = "acceptor_server"
			}
			e.Kernel.Post(server, "shutdown")
			return nil
		}
		o.ServerInput = func(e *poe.Event) any { pass(name + " client got input"); return nil }
		o.ServerError = func(e *poe.Event) any {
			if e.String(poe.ARG0) == "read" && e.Int(poe.ARG1) == 0 {
				pass(name + " client got read error 0 (EOF)")
			} else {
				t.Errorf("%s client got %s error %d", name, e.String(0), e.Int(1))
			}
			return nil
		}
		o.ServerFlushed = func(e *poe.Event) any { pass(name + " client flushed output"); return nil }
		if _, err := clienttcp.New(k, o); err != nil {
			t.Fatal(err)
		}
	}
	client("acceptor", acceptor.Port(), clienttcp.Options{
		PreConnect: func(e *poe.Event) any {
			pass("acceptor pre connect")
			if fd, ok := e.Arg(poe.ARG0).(int); ok && fd > 0 {
				pass("acceptor has a socket")
			}
			return e.Arg(poe.ARG0)
		},
	})
	client("callback", callback.Port(), clienttcp.Options{Filter: newline})
	runKernel(t, k, 10*time.Second)

	want := []string{
		"acceptor server got client connection",
		"server got pre-connect callback",
		"ARG0 is a socket",
		"callback server got client connection",
		"acceptor pre connect",
		"acceptor has a socket",
		"acceptor client connected",
		"callback client connected",
		"acceptor client flushed output",
		"callback client flushed output",
		"acceptor server received input",
		"callback server got input",
		"acceptor server flushed output",
		"callback server flushed output",
		"callback server got client disconnected",
		"acceptor server stopped the client session",
		"acceptor client got input",
		"callback client got input",
		"acceptor client got read error 0 (EOF)",
		"callback client got read error 0 (EOF)",
		"acceptor client disconnected",
		"callback client disconnected",
	}
	got := log.get()
	if d := cmp.Diff(sorted(want), sorted(got)); d != "" {
		t.Errorf("events (-want +got, sorted):\n%s", d)
	}
	// Each side's own order.
	for _, seq := range [][]string{
		{"acceptor pre connect", "acceptor client connected", "acceptor client flushed output", "acceptor client got input", "acceptor client got read error 0 (EOF)", "acceptor client disconnected"},
		{"callback client connected", "callback client got input", "callback client got read error 0 (EOF)", "callback client disconnected"},
		{"server got pre-connect callback", "callback server got client connection", "callback server got input", "callback server flushed output", "callback server got client disconnected"},
		{"acceptor server got client connection", "acceptor server received input", "acceptor server flushed output", "acceptor server stopped the client session"},
	} {
		inOrder(t, got, seq)
	}
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// inOrder checks that seq appears in got in that order.
func inOrder(t *testing.T, got, seq []string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(seq) && g == seq[i] {
			i++
		}
	}
	if i != len(seq) {
		t.Errorf("%q not in order (stuck at %q) in %q", seq, seq[i], got)
	}
}

// TestConcurrencyLimits is poe-test-loops' comp_tcp_concurrent.pm: nine
// clients each for an Acceptor server with Concurrency 1 (its sessions post
// "disconnected") and a callback server with Concurrency 4. Neither ever
// has more connections open than its limit, every client is served in
// turn; the client that gets reply #9 says "quit" and the server shuts
// down.
func TestConcurrencyLimits(t *testing.T) {
	const clients = 9
	log := &evlog{}
	k := poe.NewKernel(nil)
	connected := map[string]int{}
	maxSeen := map[string]int{}
	var acceptorN, callbackN int

	acceptor, err := servertcp.New(k, servertcp.Options{
		Address: "127.0.0.1", Alias: "acceptor_server", Concurrency: 1,
		Acceptor: func(e *poe.Event) any {
			sock := e.Arg(poe.ARG0)
			if connected["acceptor"] > 0 {
				t.Error("acceptor server got simultaneous connections")
			}
			connected["acceptor"] = 1
			log.L("acceptor server : one connection open")
			var rw *wheel.ReadWrite
			var server poe.SessionID
			shutdown := false
			e.Kernel.Create(poe.Spec{Inline: map[string]poe.Handler{
				"_start": func(e *poe.Event) any {
					rw, _ = wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{
						Handle: sock, InputEvent: "got_input", ErrorEvent: "got_error", FlushedEvent: "got_flush",
					})
					server = e.Sender.ID()
					return nil
				},
				"_stop": func(e *poe.Event) any { connected["acceptor"] = 0; return nil },
				"got_input": func(e *poe.Event) any {
					acceptorN++
					in := e.String(poe.ARG0)
					rw.Put(fmt.Sprintf("echo: %s #%d", in, acceptorN))
					if in == "quit" {
						shutdown = true
						e.Kernel.Post(server, "shutdown")
					}
					return nil
				},
				"got_error": func(e *poe.Event) any {
					if e.String(0) == "read" && e.Int(1) == 0 {
						shutdown = true
						e.Kernel.Post(server, "disconnected")
					} else {
						t.Logf("acceptor server got %s error %d: %s", e.String(0), e.Int(1), e.String(2))
					}
					rw.Close()
					return nil
				},
				"got_flush": func(e *poe.Event) any {
					if shutdown {
						rw.Close()
						e.Kernel.Post(server, "disconnected")
					}
					return nil
				},
			}})
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	callback, err := servertcp.New(k, servertcp.Options{
		Address: "127.0.0.1", Alias: "callback_server", Concurrency: 4,
		ClientInput: func(e *poe.Event) any {
			callbackN++
			if in := e.String(poe.ARG0); in == "quit" {
				e.Kernel.Post("callback_server", "shutdown")
			} else {
				servertcp.ConnOf(e).Client.Put(fmt.Sprintf("echo: %s #%d", in, callbackN))
			}
			return nil
		},
		ClientError: func(e *poe.Event) any {
			if !(e.String(0) == "read" && e.Int(1) == 0) {
				t.Logf("callback server got %s error %d: %s", e.String(0), e.Int(1), e.String(2))
			}
			e.Kernel.Yield("shutdown")
			return nil
		},
		ClientConnected: func(e *poe.Event) any {
			connected["callback"]++
			if connected["callback"] > maxSeen["callback"] {
				maxSeen["callback"] = connected["callback"]
			}
			if connected["callback"] > 4 {
				t.Errorf("callback server got %d simultaneous connections", connected["callback"])
			}
			log.L("callback server : %d connections open", connected["callback"])
			return nil
		},
		ClientDisconnected: func(e *poe.Event) any { connected["callback"]--; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	last := fmt.Sprintf("#%d", clients)
	for n := 1; n <= clients; n++ {
		for _, srv := range []struct {
			name string
			port int
		}{{"acceptor", acceptor.Port()}, {"callback", callback.Port()}} {
			name := fmt.Sprintf("%s client %d", srv.name, n)
			greeting := fmt.Sprintf("hello %d", n)
			_, err := clienttcp.New(k, clienttcp.Options{
				RemoteAddress: "127.0.0.1", RemotePort: srv.port, Alias: name,
				Connected: func(e *poe.Event) any { clienttcp.From(e).Server.Put(greeting); return nil },
				ConnectError: func(e *poe.Event) any {
					t.Errorf("%s got %s error %d: %s", name, e.String(0), e.Int(1), e.String(2))
					return nil
				},
				ServerInput: func(e *poe.Event) any {
					if strings.HasSuffix(e.String(poe.ARG0), last) {
						clienttcp.From(e).Server.Put("quit")
					}
					e.Kernel.Yield("shutdown")
					return nil
				},
				ServerError: func(e *poe.Event) any {
					if !(e.String(poe.ARG0) == "read" && e.Int(poe.ARG1) == 0) {
						t.Errorf("%s got %s error %d", name, e.String(0), e.Int(1))
					}
					return nil
				},
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	runKernel(t, k, 20*time.Second)
	// POE's plan: each server is reached by every client, one at a time
	// for the acceptor, at most four at a time for the other.
	if n := log.count("acceptor server"); n != clients {
		t.Errorf("acceptor server had %d connections, want %d", n, clients)
	}
	if n := log.count("callback server"); n != clients {
		t.Errorf("callback server had %d connections, want %d", n, clients)
	}
	if maxSeen["callback"] != 4 {
		t.Errorf("callback server had at most %d connections at once, want 4 (its limit, with 9 clients waiting)", maxSeen["callback"])
	}
}

// TestHTTPDDoubleSlash is POE's t/90_regression/agaran-filter-httpd.t and
// cfedde-filter-httpd.t: a Server::TCP with the HTTPD filter, a client that
// connects and sends nothing (c0) and one that sends "GET //foo/bar 1.0"
// (c1). The server gets a request for /foo/bar and shuts that connection
// down; c1's disconnection sends KILL to the server, which stops it and its
// remaining connection.
func TestHTTPDDoubleSlash(t *testing.T) {
	log := &evlog{}
	k := poe.NewKernel(nil)
	srv, err := servertcp.New(k, servertcp.Options{
		Alias: "s0", Address: "127.0.0.1",
		ClientFilter: mustHTTPD(t),
		Stopped:      func(e *poe.Event) any { log.L("server s0 stopped"); return nil },
		ClientInput: func(e *poe.Event) any {
			r, ok := e.Arg(poe.ARG0).(*http.Request)
			log.L("request %v %s", ok, r.URL)
			e.Kernel.Yield("shutdown")
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	silent := func(*poe.Event) any { return nil }
	for _, name := range []string{"c0", "c1"} {
		o := clienttcp.Options{
			Alias: name, RemoteAddress: "127.0.0.1", RemotePort: srv.Port(),
			ServerInput: func(e *poe.Event) any { t.Errorf("client %s got input from server: %v", name, e.Arg(0)); return nil },
			ServerError: silent,
		}
		if name == "c1" {
			o.Connected = func(e *poe.Event) any {
				log.L("client c1 connected")
				clienttcp.From(e).Server.Put("GET //foo/bar 1.0\r\n\r\n")
				return nil
			}
			o.Disconnected = func(e *poe.Event) any {
				log.L("client c1 disconnected")
				e.Kernel.Signal("s0", "KILL")
				return nil
			}
		}
		if _, err := clienttcp.New(k, o); err != nil {
			t.Fatal(err)
		}
	}
	// c0 never sends: shut it down once the server is gone.
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any { e.Kernel.Delay("poll", 10*time.Millisecond); return nil },
		"poll": func(e *poe.Event) any {
			if e.Kernel.AliasResolve("s0") == nil {
				e.Kernel.Post("c0", "shutdown")
				return nil
			}
			e.Kernel.Delay("poll", 10*time.Millisecond)
			return nil
		},
	}})
	runKernel(t, k, 10*time.Second)
	log.want(t, []string{"client c1 connected", "request true /foo/bar", "client c1 disconnected", "server s0 stopped"})
}

func mustHTTPD(t *testing.T) *filter.HTTPD {
	f, err := filter.NewHTTPD(filter.HTTPDOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}
