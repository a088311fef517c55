// Command perl-pair is a Go IKC server and a Perl POE client talking to
// each other: each side posts to the other and calls the other.
//
//	go run ./examples/perl-pair                     # starts peer.pl itself
//	go run ./examples/perl-pair -spawn=false -port 6671 &
//	perl examples/perl-pair/peer.pl --port 6671
//
// The Go kernel ("GoSide") publishes go/greet and go/add. Its "*" monitor
// sees the Perl kernel ("PerlSide") register, and then Go posts
// perl/hello and calls perl/double with an rsvp of its own state
// ("poe:doubled"). Perl, once connected, posts go/greet, which Go answers
// by posting "hello" to SENDER (IKC routes it back to Perl), and calls
// go/add and go/secret (not published: Perl gets a remote error). When
// everything was answered Go posts perl/bye, Perl disconnects and exits.
// By default the Go program runs the Perl peer itself with wheel.Run and
// shows its output; peer.pl needs only Debian's libpoe-perl (plain POE,
// no POE::Component::IKC).
package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"

	"github.com/poe-go/poe/ikc"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
)

//go:embed peer.pl
var peerScript string

// config says how to run the pair.
type config struct {
	port   int  // 0: any free port
	spawn  bool // run the Perl peer with wheel.Run
	script string
	out    io.Writer
	ready  func(port int) // told the port once listening (tests)
}

// goSide is the heap of the "go" session.
type goSide struct {
	cfg  config
	perl *wheel.Run
	// What happened with the current Perl peer.
	greeted, added, doubled bool
	closed, reaped          bool
	status                  syscall.WaitStatus
	err                     error
}

const perlName = "PerlSide"

func (g *goSide) Start(e *poe.Event) any {
	k := e.Kernel
	k.AliasSet("go")
	k.Sig("INT", "shutdown")
	k.Sig("TERM", "shutdown")
	port := g.cfg.port
	if port == 0 {
		port = ikc.EphemeralPort // IKC's own 0 is Perl's default port, 603
	}
	s, err := ikc.NewServer(k, ikc.ServerOptions{IP: "127.0.0.1", Port: port, Name: "GoSide"})
	if err != nil {
		g.err = err
		g.stop(k)
		return nil
	}
	ikc.Publish(k, e.Session, "greet", "add")
	ikc.Monitor(k, "*", map[string]string{"register": "kernel_up", "unregister": "kernel_down"}, nil)
	fmt.Fprintf(g.cfg.out, "go: listening on 127.0.0.1:%d\n", s.Port())
	if g.cfg.ready != nil {
		g.cfg.ready(s.Port())
	}
	if g.cfg.spawn {
		g.startPerl(k, s.Port())
	}
	return nil
}

// startPerl runs peer.pl (the embedded copy unless -script is given).
func (g *goSide) startPerl(k *poe.Kernel, port int) {
	argv := []string{"perl", "-e", peerScript, "--"}
	if g.cfg.script != "" {
		argv = []string{"perl", g.cfg.script}
	}
	argv = append(argv, "--port", strconv.Itoa(port), "--name", perlName)
	w, err := wheel.NewRun(k, wheel.RunOptions{
		Program: argv, NoStdin: true,
		StdoutEvent: "perl_out", StderrEvent: "perl_err", CloseEvent: "perl_closed",
	})
	if err != nil {
		g.err = err
		g.stop(k)
		return
	}
	g.perl = w
	k.SigChild(w.PID(), "perl_exited")
}

// KernelUp is the "*" monitor's register: ARG1 a name of the new kernel
// (its ID, then each alias).
func (g *goSide) KernelUp(e *poe.Event) any {
	if e.String(poe.ARG1) != perlName {
		return nil
	}
	fmt.Fprintf(g.cfg.out, "go: %s connected\n", perlName)
	g.greeted, g.added, g.doubled = false, false, false
	k := e.Kernel
	ikc.Post(k, "poe://PerlSide/perl/hello", "hello from Go")
	// Perl's $kernel->post(IKC => call => $spec, 21, 'poe:doubled'): the
	// answer comes to our own "doubled" state.
	ikc.Call(k, "poe://PerlSide/perl/double", "poe:doubled", 21)
	return nil
}

func (g *goSide) KernelDown(e *poe.Event) any {
	if e.String(poe.ARG1) == perlName {
		fmt.Fprintf(g.cfg.out, "go: %s disconnected\n", perlName)
	}
	return nil
}

// Greet is posted by Perl. SENDER stands for the Perl session that sent
// it: a post to SENDER goes back over IKC.
func (g *goSide) Greet(e *poe.Event) any {
	fmt.Fprintf(g.cfg.out, "go: perl says %q\n", e.String(poe.ARG0))
	e.Kernel.Post(e.Sender, "hello", "thanks for the greeting")
	g.greeted = true
	g.maybeBye(e.Kernel)
	return nil
}

// Add is called by Perl: the return value is its answer.
func (g *goSide) Add(e *poe.Event) any {
	var sum int64
	for _, x := range e.Slice(poe.ARG0) {
		switch v := x.(type) {
		case int64:
			sum += v
		case string: // Perl may send numbers as strings
			n, _ := strconv.ParseInt(v, 10, 64)
			sum += n
		}
	}
	fmt.Fprintf(g.cfg.out, "go: add%v = %d\n", e.Slice(poe.ARG0), sum)
	g.added = true
	g.maybeBye(e.Kernel)
	return sum
}

// Doubled is the answer to our call of perl/double.
func (g *goSide) Doubled(e *poe.Event) any {
	fmt.Fprintf(g.cfg.out, "go: perl/double(21) returned %v\n", e.Arg(poe.ARG0))
	g.doubled = true
	g.maybeBye(e.Kernel)
	return nil
}

// maybeBye ends the exchange once both sides were answered. It yields:
// the answer of the running handler (add's return value, the post to
// SENDER) is sent first.
func (g *goSide) maybeBye(k *poe.Kernel) {
	if g.greeted && g.added && g.doubled {
		k.Yield("bye")
	}
}

func (g *goSide) Bye(e *poe.Event) any {
	ikc.Post(e.Kernel, "poe://PerlSide/perl/bye")
	return nil
}

func (g *goSide) PerlOut(e *poe.Event) any {
	fmt.Fprintf(g.cfg.out, "perl| %s\n", e.String(poe.ARG0))
	return nil
}

func (g *goSide) PerlErr(e *poe.Event) any {
	fmt.Fprintf(g.cfg.out, "perl! %s\n", e.String(poe.ARG0))
	return nil
}

func (g *goSide) PerlClosed(e *poe.Event) any {
	g.closed = true
	g.perlDone(e.Kernel)
	return nil
}

// PerlExited is SigChild's event: ("CHLD", pid, wait status).
func (g *goSide) PerlExited(e *poe.Event) any {
	g.reaped = true
	g.status = syscall.WaitStatus(e.Int(poe.ARG2))
	g.perlDone(e.Kernel)
	return nil
}

// perlDone ends the program once the spawned peer's output is read and it
// is reaped.
func (g *goSide) perlDone(k *poe.Kernel) {
	if !g.closed || !g.reaped {
		return
	}
	g.perl.Close()
	fmt.Fprintf(g.cfg.out, "go: perl exited with status %d\n", g.status.ExitStatus())
	if g.err == nil && (!g.status.Exited() || g.status.ExitStatus() != 0) {
		g.err = fmt.Errorf("perl peer: wait status %#x", int(g.status))
	}
	if g.err == nil && !(g.greeted && g.added && g.doubled) {
		g.err = errors.New("the exchange with the perl peer did not finish")
	}
	g.stop(k)
}

func (g *goSide) Shutdown(e *poe.Event) any {
	e.Kernel.SigHandled()
	if g.perl != nil && !g.reaped {
		g.perl.Kill() // reaped later: then the session ends
	}
	g.stop(e.Kernel)
	return nil
}

// stop ends IKC and drops the alias and signal watchers.
func (g *goSide) stop(k *poe.Kernel) {
	ikc.Shutdown(k)
	k.AliasRemove("go")
	k.Sig("INT", "")
	k.Sig("TERM", "")
}

// serve runs the Go side until the Perl peer it spawned is done, or until
// a signal.
func serve(cfg config) error {
	k := poe.NewKernel(nil)
	g := &goSide{cfg: cfg}
	if _, err := k.Create(poe.Spec{Objects: []poe.States{poe.Object(g,
		"_start", "kernel_up", "kernel_down", "greet", "add", "doubled", "bye",
		"perl_out", "perl_err", "perl_closed", "perl_exited", "shutdown")}}); err != nil {
		return err
	}
	if err := k.Run(); err != nil {
		return err
	}
	return g.err
}

func main() {
	cfg := config{out: os.Stdout}
	flag.IntVar(&cfg.port, "port", 0, "TCP port on 127.0.0.1 (0: any free port)")
	flag.BoolVar(&cfg.spawn, "spawn", true, "run the Perl peer (else wait for one until Ctrl-C)")
	flag.StringVar(&cfg.script, "script", "", "the Perl peer to run (default: the embedded peer.pl)")
	flag.Parse()
	if err := serve(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "perl-pair:", err)
		os.Exit(1)
	}
}
