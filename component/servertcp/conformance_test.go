package servertcp_test

import (
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
