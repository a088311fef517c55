// Command pubsub is an IKC publish/subscribe pair: a publisher kernel
// whose "feed" session publishes the states join, say and leave, and
// subscriber kernels that subscribe to it, post to its local proxy and get
// news back.
//
//	go run ./examples/pubsub -role pub -port 6670 -every 1s
//	go run ./examples/pubsub -role sub -port 6670 -name alice -say hello
//	go run ./examples/pubsub -role sub -port 6670 -name bob -n 5
//
// The publisher ("Pub") runs an IKC server and ticks every -every; each
// subscriber joins by posting "join" to the proxy session that its Client's
// Subscribe option created for poe://Pub/feed, and then gets every tick and
// every line said as an IKC post to its own published "listener/news"
// state. Both sides use monitors: the publisher's "*" monitor sees kernels
// register and unregister (a subscriber that vanished without "leave" is
// dropped on unregister), and a subscriber's "Pub" monitor tells it when
// the subscription is accepted and when the publisher is gone.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/poe-go/poe/ikc"
	"github.com/poe-go/poe/poe"
)

// publisher is the heap of the "feed" session.
type publisher struct {
	port  int
	every time.Duration
	out   io.Writer
	ready func(port int)
	subs  map[string]string // subscriber kernel name -> its news state
	ticks int
	err   error
}

func (p *publisher) Start(e *poe.Event) any {
	k := e.Kernel
	k.AliasSet("feed")
	k.Sig("INT", "shutdown")
	k.Sig("TERM", "shutdown")
	port := p.port
	if port == 0 {
		port = ikc.EphemeralPort // IKC's own 0 is Perl's default port, 603
	}
	s, err := ikc.NewServer(k, ikc.ServerOptions{IP: "127.0.0.1", Port: port, Name: "Pub"})
	if err != nil {
		p.err = err
		p.stop(k)
		return nil
	}
	ikc.Publish(k, e.Session, "join", "say", "leave")
	ikc.Monitor(k, "*", map[string]string{"register": "kernel_up", "unregister": "kernel_down"}, nil)
	if p.every > 0 {
		k.Delay("tick", p.every)
	}
	fmt.Fprintf(p.out, "publisher Pub listening on port %d\n", s.Port())
	if p.ready != nil {
		p.ready(s.Port())
	}
	return nil
}

// Join (name): a subscriber posted to its proxy of poe://Pub/feed.
func (p *publisher) Join(e *poe.Event) any {
	name := e.String(poe.ARG0)
	p.subs[name] = "poe://" + name + "/listener/news"
	ikc.Post(e.Kernel, p.subs[name], fmt.Sprintf("welcome, %s; listening: %s", name, p.names()))
	p.broadcast(e.Kernel, "* "+name+" joined")
	return nil
}

// Say (name, text): several arguments travel through IKC:proxy and arrive
// as ARG0..ARGn.
func (p *publisher) Say(e *poe.Event) any {
	p.broadcast(e.Kernel, "<"+e.String(poe.ARG0)+"> "+e.String(poe.ARG1))
	return nil
}

func (p *publisher) Leave(e *poe.Event) any {
	name := e.String(poe.ARG0)
	if _, ok := p.subs[name]; ok {
		delete(p.subs, name)
		p.broadcast(e.Kernel, "* "+name+" left")
	}
	return nil
}

// KernelUp and KernelDown are the "*" monitor's register and unregister:
// ARG1 is the kernel name, ARG2 true for its ID (then once more per alias).
func (p *publisher) KernelUp(e *poe.Event) any {
	if e.Bool(poe.ARG2) {
		aliases := ikc.ResponderOf(e.Kernel).Aliases(e.String(poe.ARG1))
		fmt.Fprintf(p.out, "kernel connected: %s\n", strings.Join(aliases, ", "))
	}
	return nil
}

func (p *publisher) KernelDown(e *poe.Event) any {
	name := e.String(poe.ARG1)
	if _, ok := p.subs[name]; ok {
		delete(p.subs, name)
		p.broadcast(e.Kernel, "* "+name+" disconnected")
	}
	if !e.Bool(poe.ARG2) {
		fmt.Fprintf(p.out, "kernel disconnected: %s\n", name)
	}
	return nil
}

func (p *publisher) Tick(e *poe.Event) any {
	p.ticks++
	p.broadcast(e.Kernel, fmt.Sprintf("tick %d", p.ticks))
	e.Kernel.Delay("tick", p.every)
	return nil
}

func (p *publisher) broadcast(k *poe.Kernel, line string) {
	fmt.Fprintln(p.out, "news:", line)
	for _, spec := range p.subs {
		ikc.Post(k, spec, line)
	}
}

func (p *publisher) names() string {
	var n []string
	for name := range p.subs {
		n = append(n, name)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

// Shutdown (SIGINT, SIGTERM, or posted) ends IKC: the connections close,
// the subscribers see Pub unregister.
func (p *publisher) Shutdown(e *poe.Event) any {
	e.Kernel.SigHandled()
	fmt.Fprintln(p.out, "publisher shutting down")
	p.stop(e.Kernel)
	return nil
}

func (p *publisher) stop(k *poe.Kernel) {
	ikc.Shutdown(k)
	k.Alarm("tick", time.Time{})
	k.AliasRemove("feed")
	k.Sig("INT", "")
	k.Sig("TERM", "")
}

// subscriber is the heap of a subscriber's "listener" session.
type subscriber struct {
	name  string
	port  int
	limit int    // leave after this many news (0: stay)
	say   string // said once joined
	leave bool   // say goodbye before going (else just disconnect)
	out   io.Writer
	got   int
	done  bool
	err   error

	client *ikc.Client
}

func (s *subscriber) Start(e *poe.Event) any {
	k := e.Kernel
	k.AliasSet("listener")
	k.Sig("INT", "shutdown")
	k.Sig("TERM", "shutdown")
	ikc.Publish(k, e.Session, "news")
	ikc.Monitor(k, "Pub", map[string]string{
		"register": "pub_up", "subscribe": "subscribed", "unregister": "pub_down",
	}, nil)
	self := e.Session
	var err error
	s.client, err = ikc.NewClient(k, ikc.ClientOptions{
		Host: "127.0.0.1", Port: s.port, Name: s.name,
		// After the handshake the client asks Pub for "feed" and makes the
		// local proxy session poe://Pub/feed.
		Subscribe:      []string{"poe://Pub/feed"},
		ConnectTimeout: 5 * time.Second,
		OnError: func(op string, errno int, text string) {
			k.Post(self, "failed", op, text)
		},
	})
	if err != nil {
		s.err = err
		s.finish(k)
	}
	return nil
}

func (s *subscriber) PubUp(e *poe.Event) any {
	fmt.Fprintf(s.out, "%s: connected to Pub\n", s.name)
	return nil
}

// Subscribed is the monitor's subscribe op: the proxy exists, post to it
// as to a local session.
func (s *subscriber) Subscribed(e *poe.Event) any {
	fmt.Fprintf(s.out, "%s: subscribed to poe://Pub/feed\n", s.name)
	e.Kernel.Post("poe://Pub/feed", "join", s.name)
	if s.say != "" {
		e.Kernel.Post("poe://Pub/feed", "say", s.name, s.say)
	}
	return nil
}

// News (line) is posted by the publisher to poe://<name>/listener/news.
func (s *subscriber) News(e *poe.Event) any {
	fmt.Fprintf(s.out, "%s: %s\n", s.name, e.String(poe.ARG0))
	s.got++
	if s.limit > 0 && s.got == s.limit {
		s.goodbye(e.Kernel)
	}
	return nil
}

// goodbye posts "leave" (if asked to), then quits. The proxy sends the
// post when it handles it; "quit", queued after it, shuts IKC down then
// (pending output is flushed before the connection closes).
func (s *subscriber) goodbye(k *poe.Kernel) {
	if s.leave {
		k.Post("poe://Pub/feed", "leave", s.name)
	}
	k.Yield("quit")
}

func (s *subscriber) Quit(e *poe.Event) any {
	fmt.Fprintf(s.out, "%s: leaving after %d news\n", s.name, s.got)
	s.finish(e.Kernel)
	return nil
}

func (s *subscriber) PubDown(e *poe.Event) any {
	if !s.done {
		fmt.Fprintf(s.out, "%s: publisher gone\n", s.name)
		s.finish(e.Kernel)
	}
	return nil
}

// Failed is the client's OnError (operation, text): its Err says it
// with the publisher's address.
func (s *subscriber) Failed(e *poe.Event) any {
	s.err = fmt.Errorf("%s: %s", e.String(poe.ARG0), e.String(poe.ARG1))
	if s.client != nil && s.client.Err() != nil {
		s.err = fmt.Errorf("no publisher: %w", s.client.Err())
	}
	s.finish(e.Kernel)
	return nil
}

func (s *subscriber) Shutdown(e *poe.Event) any {
	e.Kernel.SigHandled()
	s.goodbye(e.Kernel)
	return nil
}

// finish ends IKC and drops the alias and signal watchers: the kernel has
// nothing left and Run returns.
func (s *subscriber) finish(k *poe.Kernel) {
	if s.done {
		return
	}
	s.done = true
	ikc.Shutdown(k)
	k.AliasRemove("listener")
	k.Sig("INT", "")
	k.Sig("TERM", "")
}

// newPublisher returns a kernel with the publisher session; Run it.
func newPublisher(p *publisher) (*poe.Kernel, error) {
	p.subs = map[string]string{}
	k := poe.NewKernel(nil)
	_, err := k.Create(poe.Spec{Objects: []poe.States{poe.Object(p,
		"_start", "join", "say", "leave", "kernel_up", "kernel_down", "tick", "shutdown")}})
	return k, err
}

// newSubscriber returns a kernel with the subscriber session; Run it.
func newSubscriber(s *subscriber) (*poe.Kernel, error) {
	k := poe.NewKernel(nil)
	_, err := k.Create(poe.Spec{Objects: []poe.States{poe.Object(s,
		"_start", "pub_up", "subscribed", "news", "quit", "pub_down", "failed", "shutdown")}})
	return k, err
}

func main() {
	role := flag.String("role", "", "pub or sub")
	port := flag.Int("port", 6670, "the publisher's TCP port on 127.0.0.1 (pub: 0 picks one)")
	every := flag.Duration("every", time.Second, "pub: tick period (0: no ticks)")
	name := flag.String("name", fmt.Sprintf("sub%d", os.Getpid()), "sub: this kernel's name")
	n := flag.Int("n", 0, "sub: leave after this many news (0: stay until Ctrl-C)")
	say := flag.String("say", "", "sub: a line to say once joined")
	leave := flag.Bool("leave", true, "sub: post leave before going (false: just disconnect)")
	flag.Parse()
	var k *poe.Kernel
	var err error
	var result func() error
	switch *role {
	case "pub":
		p := &publisher{port: *port, every: *every, out: os.Stdout}
		k, err = newPublisher(p)
		result = func() error { return p.err }
	case "sub":
		s := &subscriber{name: *name, port: *port, limit: *n, say: *say, leave: *leave, out: os.Stdout}
		k, err = newSubscriber(s)
		result = func() error { return s.err }
	default:
		fmt.Fprintln(os.Stderr, "usage: pubsub -role pub|sub [flags]")
		os.Exit(2)
	}
	if err == nil {
		err = k.Run()
	}
	if err == nil {
		err = result()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pubsub:", err)
		os.Exit(1)
	}
}
