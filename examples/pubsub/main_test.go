package main

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poe-go/poe/examples/internal/clitest"
	"github.com/poe-go/poe/poe"
)

// output is one kernel's printed lines.
type output struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// waitFor waits (at most 5 s) until the output has a line containing want.
func (o *output) waitFor(t *testing.T, who, want string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(o.String(), want); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q in:\n%s", who, want, o)
		}
	}
}

// running runs k on its own goroutine; the channel gets Run's result.
func running(t *testing.T, k *poe.Kernel, err error) chan error {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- k.Run() }()
	return done
}

func ended(t *testing.T, who string, done chan error, result func() error) {
	t.Helper()
	select {
	case err := <-done:
		if err == nil {
			err = result()
		}
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not end", who)
	}
}

// TestPubSub runs the publisher and three subscribers as four kernels.
func TestPubSub(t *testing.T) {
	ready := make(chan int, 1)
	pubOut := &output{}
	p := &publisher{every: 40 * time.Millisecond, out: pubOut, ready: func(port int) { ready <- port }}
	pk, err := newPublisher(p)
	pubDone := running(t, pk, err)
	var port int
	select {
	case port = <-ready:
	case err := <-pubDone:
		t.Fatalf("publisher: %v, %v", err, p.err)
	case <-time.After(5 * time.Second):
		t.Fatal("publisher not ready")
	}

	// bob stays until the publisher goes.
	bobOut := &output{}
	bob := &subscriber{name: "bob", port: port, leave: true, out: bobOut}
	bk, err := newSubscriber(bob)
	bobDone := running(t, bk, err)
	bobOut.waitFor(t, "bob", "bob: welcome, bob; listening: bob")
	pubOut.waitFor(t, "pub", "kernel connected: bob, 127.0.0.1:")

	// alice says something, takes three news and leaves.
	aliceOut := &output{}
	alice := &subscriber{name: "alice", port: port, limit: 3, say: "hello", leave: true, out: aliceOut}
	ak, err := newSubscriber(alice)
	ended(t, "alice", running(t, ak, err), func() error { return alice.err })
	for _, want := range []string{"alice: connected to Pub", "alice: subscribed to poe://Pub/feed",
		"alice: welcome, alice; listening: alice, bob", "alice: leaving after 3 news"} {
		aliceOut.waitFor(t, "alice", want)
	}
	for _, want := range []string{"bob: * alice joined", "bob: <alice> hello", "bob: * alice left", "bob: tick "} {
		bobOut.waitFor(t, "bob", want)
	}
	pubOut.waitFor(t, "pub", "kernel disconnected: alice")

	// carol vanishes without leaving: the publisher's unregister monitor
	// drops her.
	carolOut := &output{}
	carol := &subscriber{name: "carol", port: port, limit: 2, leave: false, out: carolOut}
	ck, err := newSubscriber(carol)
	ended(t, "carol", running(t, ck, err), func() error { return carol.err })
	bobOut.waitFor(t, "bob", "bob: * carol joined")
	bobOut.waitFor(t, "bob", "bob: * carol disconnected")
	if strings.Contains(bobOut.String(), "carol left") {
		t.Error("carol said goodbye")
	}

	// The publisher goes: bob sees Pub unregister and ends.
	pk.PostFromGoroutine("feed", "shutdown")
	ended(t, "publisher", pubDone, func() error { return p.err })
	ended(t, "bob", bobDone, func() error { return bob.err })
	bobOut.waitFor(t, "bob", "bob: publisher gone")
	if n := strings.Count(pubOut.String(), "kernel connected:"); n != 3 {
		t.Errorf("publisher saw %d kernels connect, want 3:\n%s", n, pubOut)
	}
}

// TestNoPublisher: a subscriber with no publisher to reach fails.
func TestNoPublisher(t *testing.T) {
	s := &subscriber{name: "lonely", port: 1, out: &output{}}
	k, err := newSubscriber(s)
	ended(t, "subscriber", running(t, k, err), func() error { return nil })
	if s.err == nil || !strings.Contains(s.err.Error(), "connect") {
		t.Errorf("err = %v, want a connect error", s.err)
	}
}

// TestSetupFailures runs the built command: no publisher, or a taken
// port, is one line on stderr naming the address, and exit status 1.
func TestSetupFailures(t *testing.T) {
	bin := clitest.Build(t, ".")
	taken := strconv.Itoa(clitest.TakenPort(t))
	free := strconv.Itoa(clitest.FreePort(t))
	limit := 15 * time.Second
	clitest.Fails(t, limit, 1, []string{"pubsub: ", "127.0.0.1:" + taken, "address already in use"}, bin, "-role", "pub", "-port", taken)
	clitest.Fails(t, limit, 1, []string{"pubsub: no publisher: ikc: connect 127.0.0.1:" + free + ": connection refused"}, bin, "-role", "sub", "-port", free)
	clitest.Fails(t, limit, 2, []string{"usage: pubsub"}, bin)
	clitest.BadFlag(t, bin)
}
