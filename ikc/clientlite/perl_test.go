package clientlite

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

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
