package clientlite

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/poe-go/poe/ikc"
	"github.com/poe-go/poe/ikc/internal/ikctest"
)

// TestPerlInteropClientLite: the Go ClientLite against the Perl server.
func TestPerlInteropClientLite(t *testing.T) {
	ikctest.NeedPerl(t)
	for _, proto := range []string{"IKC0", "IKC"} {
		t.Run(proto, func(t *testing.T) {
			p, ready := ikctest.StartPerl(t, "--role", "server", "--protocol", "IKC0", "--name", "PerlServer")
			ctx, cancel := context.WithTimeout(context.Background(), ikctest.PerlTimeout)
			defer cancel()
			l, err := Dial(ctx, Options{Host: "127.0.0.1", Port: int(ready["port"].(float64)), Name: "LiteClient", Protocol: proto})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Disconnect()
			if reg := p.Expect("register", nil); reg["id"] != "LiteClient" || reg["dialect"] != proto {
				t.Errorf("register %v", reg)
			}
			if v, err := l.Call(ctx, "test/add", []any{2, 3}); err != nil || v != int64(5) {
				t.Errorf("add = %#v, %v", v, err)
			}
			if v, err := l.CallList(ctx, "test/echo", "x"); err != nil || !reflect.DeepEqual(v, []any{"x"}) {
				t.Errorf("list echo = %#v, %v", v, err)
			}
			if e := p.Expect("invoke", ikctest.Invoked("test", "echo")); e["wantarray"] != "1" {
				t.Errorf("wantarray %v", e["wantarray"])
			}
			if v, err := l.PostRespond(ctx, "test/add_1", 7); err != nil || v != int64(8) {
				t.Errorf("post_respond = %#v, %v", v, err)
			}
			if err := l.Post(ctx, "test/tell", "the"); err != nil {
				t.Fatal(err)
			}
			if v, err := l.Responded(ctx, "told"); err != nil || !reflect.DeepEqual(v, []any{"the"}) {
				t.Errorf("responded = %#v, %v", v, err)
			}
			if err := l.Ping(ctx); err != nil {
				t.Errorf("ping: %v", err)
			}
			_, err = l.Call(ctx, "test/nope")
			var re *RemoteError
			if !errors.As(err, &re) || re.Phase != "check" || !strings.Contains(re.Text, "sent by poe://LiteClient/IKCLite") {
				t.Errorf("unpublished: %v", err)
			}
			l.Disconnect()
			p.Expect("unregister", func(e map[string]any) bool { return e["id"] == "LiteClient" })
		})
	}
}

// TestRealPerlLiteFreezers: Perl's own ClientLite (0.2402, IKC_PERL5LIB)
// asking for YAML or FreezeThaw is accepted by a Go server with default
// options, in both dialects, as by Perl's server.
func TestRealPerlLiteFreezers(t *testing.T) {
	lib := ikctest.RealIKCLib(t, "0.2402")
	_, port, _ := liteServer(t, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort})
	for _, ser := range []string{"YAML", "FreezeThaw", "Storable"} {
		for _, proto := range []string{"IKC0", "IKC"} {
			t.Run(ser+"/"+proto, func(t *testing.T) {
				p, _ := ikctest.StartRealIKC(t, lib, "--role", "lite", "--port", strconv.Itoa(port),
					"--freezer", ser, "--protocol", proto, "--name", "PerlLite"+ser+proto)
				p.Expect("connected", nil)
				p.Send(map[string]any{"op": "call", "to": "test/echo", "params": "x"})
				if a := p.Expect("answer", nil); a["value"] != "x" {
					t.Errorf("echo answered %v", a)
				}
				p.Send(map[string]any{"op": "quit"})
			})
		}
	}
}
