package clientlite

import (
	"errors"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc"
	"github.com/poe-go/poe/wheel/freezer"
)

// TestLiteLimits: Options.Limits is the budget of each answer; one over
// it ends the call with ErrBudget, one within it is returned.
func TestLiteLimits(t *testing.T) {
	_, port, _ := liteServer(t, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort})
	ctx := liteCtx(t)
	l, err := Dial(ctx, Options{Host: "127.0.0.1", Port: port, Name: "Budget", Timeout: 5 * time.Second,
		Limits: freezer.Limits{MaxElements: 64}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Disconnect()
	if _, err := l.Call(ctx, "test/echo", make([]any, 10)); err != nil {
		t.Fatalf("10 elements: %v", err)
	}
	if _, err := l.Call(ctx, "test/echo", make([]any, 100)); !errors.Is(err, freezer.ErrBudget) {
		t.Fatalf("100 elements: %v, want ErrBudget", err)
	}
}
