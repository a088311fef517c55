package ikc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
)

// DefaultPort is the port a server listens on when ServerOptions.Port is
// 0, as Perl's (603: "POE! (almost :)").
const DefaultPort = 603

// EphemeralPort as ServerOptions.Port picks a free port (Perl 0.2402's
// `port => 0`); read it with Server.Port.
const EphemeralPort = -1

// DefaultRogueLimit is the CPU time after which the babysitter treats a
// worker as rogue (0.2402's 1200 s).
const DefaultRogueLimit = 1200 * time.Second

// ServerOptions configure NewServer: Perl's POE::Component::IKC::Server
// options (ikc-protocol.md §13.1) plus a few Go ones.
type ServerOptions struct {
	// IP is the address to listen on; default 0.0.0.0 as in Perl.
	IP string
	// Port is the TCP port: 0 means DefaultPort (603), EphemeralPort a
	// free one (read it with Server.Port).
	Port int
	// Unix, if set, listens on this Unix socket path instead (a stale
	// socket there is unlinked before binding; the path is removed when
	// the server stops).
	Unix string
	// Name and Aliases are the local kernel's names, announced to
	// clients and registered locally (ikc-protocol.md §4.3, 10.9). Perl's server
	// has no default name.
	Name    string
	Aliases []string
	// Verbose logs prefork activity at Info level (otherwise Debug).
	Verbose bool
	// Processes, above 1, preforks: this process becomes the parent,
	// which never serves, and Processes-1 workers serve (see IsWorker for
	// the contract). 0 or 1: this process serves.
	Processes int
	// Babysit is the period of the babysitter (prefork only; 0: none).
	Babysit time.Duration
	// RogueLimit is the CPU time after which the babysitter escalates
	// INT, TERM, KILL on a worker (0: DefaultRogueLimit).
	RogueLimit time.Duration
	// Connections is how many connections a worker serves before it
	// exits (default 1).
	Connections int
	// ShutdownTimeout bounds how long a parent waits for its workers
	// after INT or TERM before it kills them (default 10 s).
	ShutdownTimeout time.Duration
	// Protocol is "IKC0" (default: accepts both dialects) or "IKC"
	// (answers SETUP with NOT).
	Protocol string
	// Concurrency caps simultaneous connections: at the cap the server
	// stops accepting until one ends (0: unlimited; ikc-protocol.md §13.3).
	Concurrency int
	// OnError receives listen, accept and fork errors, and errors of a
	// connection before its negotiation completes (operation, errno,
	// text). Nil: they are logged.
	OnError func(op string, errno int, text string)
	// Serializers are the freezers accepted from clients (nil: every
	// one this implementation has, protocol.AllFreezers: Storable, YAML
	// and FreezeThaw, as Perl's server takes any it can load; never the
	// eval freezer, ikc-protocol.md §5.5).
	Serializers []string
	// NegotiationTimeout bounds each handshake (0: DefaultTimeout).
	NegotiationTimeout time.Duration
	// MaxLine caps negotiation lines, MaxFrame frame payloads (0:
	// defaults); when set they take precedence over Limits'.
	MaxLine, MaxFrame int
	// Limits bound what each connection may cost: frame and decoding
	// budgets, output marks (zero fields: the responder's, then the
	// defaults; see Limits).
	Limits Limits
	// TLSConfig, if set, makes the listener speak TLS (it needs a
	// certificate; see tls.go). Go peers only: Perl's IKC has no TLS, so
	// serve Perl peers with a second, plain Server on another port. Not
	// with Processes above 1 (ErrTLSPrefork) or Unix (ErrTLSUnix).
	TLSConfig *tls.Config
	// AllowNetworks, if not empty, admits TCP peers from these networks
	// only; others are closed as they are accepted.
	AllowNetworks []netip.Prefix
	// MaxConnsPerAddr, above 0, caps the connections one peer address
	// may hold at once; more are closed as they are accepted.
	MaxConnsPerAddr int
	// Logger receives the server's and the responder's messages
	// (default slog.Default()).
	Logger *slog.Logger
	// PeekOutput receives the kernel peek that USR1 (short) and USR2
	// (verbose) ask for (default os.Stderr).
	PeekOutput io.Writer
}

// Server listens for IKC connections and runs a channel for each one. Its
// session is POE::Component::IKC::Server's: the handlers are the server's
// methods registered as package states under the seed's event names.
type Server struct {
	k        *poe.Kernel
	r        *Responder
	opts     ServerOptions
	log      *slog.Logger
	dialect  protocol.Dialect
	ln       net.Listener
	lnFD     int // prefork parent: the listener's descriptor for workers
	la       *wheel.ListenAccept
	sess     *poe.Session
	port     int
	sockName string // Unix: the announced unix:<path> name
	closed   bool
	startErr error

	// concurrency (13.3)
	active int
	admit  *admission

	// prefork (13.2)
	prefork     bool                // this server preforks (parent or worker)
	isChild     bool                // a worker
	held        bool                // a worker holds its session until done
	parentFD    int                 // a worker's pidfd or kqueue watching its parent (-1: none)
	ppid        int                 // the parent a worker polls for (0: none)
	spawn       func() (int, error) // spawnWorker; tests replace it
	remaining   int                 // worker: connections left to accept
	children    map[int]*worker
	failedForks int
	die         bool // shutting down
	toldParent  bool
	rogues      map[int]*rogue
	roguesArmed bool
}

// serverPackage is the package name of the server's package states.
const serverPackage = "POE::Component::IKC::Server"

// NewServer starts an IKC server: it listens (or, in a prefork worker,
// adopts the parent's listener), spawns the kernel's responder if needed,
// registers Name and Aliases as names of the local kernel, and creates the
// server session. Listen errors (EADDRINUSE...) are returned. Call it on
// the kernel's goroutine (before Run or in a handler).
func NewServer(k *poe.Kernel, opts ServerOptions) (*Server, error) {
	d, err := protocol.ParseDialect(opts.Protocol)
	if err != nil {
		return nil, err
	}
	for _, n := range append([]string{opts.Name}, opts.Aliases...) {
		if n != "" && !protocol.ValidName(n) {
			return nil, fmt.Errorf("%w: %q", protocol.ErrBadName, n)
		}
	}
	if opts.TLSConfig != nil && opts.Processes > 1 {
		return nil, ErrTLSPrefork
	}
	if opts.TLSConfig != nil && opts.Unix != "" {
		return nil, ErrTLSUnix
	}
	admit, err := newAdmission(opts.AllowNetworks, opts.MaxConnsPerAddr)
	if err != nil {
		return nil, err
	}
	if opts.Connections <= 0 {
		opts.Connections = 1
	}
	if opts.RogueLimit <= 0 {
		opts.RogueLimit = DefaultRogueLimit
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	if opts.PeekOutput == nil {
		opts.PeekOutput = os.Stderr
	}
	if opts.Serializers == nil {
		opts.Serializers = protocol.AllFreezers()
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{k: k, opts: opts, dialect: d, log: log, prefork: opts.Processes > 1, lnFD: -1, parentFD: -1, admit: admit}
	s.spawn = s.spawnWorker
	role, err := s.listen()
	if err != nil {
		// Returned to the caller: OnError hears of it too (Perl's
		// on_error), the log does not, or it would be printed twice.
		if s.opts.OnError != nil {
			s.reportError("listen", err)
		}
		return nil, err
	}
	if role == roleInert {
		return s, nil
	}
	r, err := Spawn(k, &ResponderOptions{Logger: opts.Logger})
	if err != nil {
		s.closeListener()
		return nil, err
	}
	s.r = r
	k.Session().Do(func() {
		s.sess, err = k.Create(poe.Spec{Heap: s, Packages: []poe.States{
			poe.Package(serverPackage, map[string]poe.Handler{
				"_start":     s.start,
				"_stop":      s.stop,
				"error":      s.error,
				"accept":     s.accept,
				"fork":       s.fork,
				"retry":      s.retry,
				"waste_time": s.wasteTime,
				"babysit":    s.babysit,
				"rogues":     s.roguesRun,
				"shutdown":   s.shutdown,
				"sig_CHLD":   s.sigCHLD,
				"sig_INT":    s.sigINT,
				"sig_TERM":   s.sigTERM,
				"sig_USR1":   s.sigUSR,
				"sig_USR2":   s.sigUSR,
				// Go additions: end of the graceful shutdown's wait;
				// a worker's parent exited; the polled parent watch.
				"kill_workers": s.killWorkers,
				"parent_gone":  s.parentGone,
				"parent_check": s.parentCheck,
			}),
		}})
	})
	if err == nil {
		err = s.startErr
	}
	if err != nil {
		s.closeListener()
		return nil, fmt.Errorf("ikc: server: %w", err)
	}
	r.RegisterLocal(append([]string{opts.Name}, opts.Aliases...)...)
	r.AddCloser(s)
	return s, nil
}

// listen creates the listening socket, or adopts the inherited one in a
// worker.
func (s *Server) listen() (serverRole, error) {
	role, ln, err := adoptListener(s.opts)
	if err != nil {
		return role, err
	}
	switch role {
	case roleInert:
		return role, nil
	case roleWorker:
		s.ln, s.isChild = ln, true
	default:
		if s.opts.Unix != "" {
			if fi, err := os.Lstat(s.opts.Unix); err == nil && fi.Mode()&os.ModeSocket != 0 {
				os.Remove(s.opts.Unix)
			}
			s.ln, err = net.Listen("unix", s.opts.Unix)
		} else {
			ip, port := s.opts.IP, s.opts.Port
			if ip == "" {
				ip = "0.0.0.0"
			}
			switch {
			case port == 0:
				port = DefaultPort
			case port < 0:
				port = 0
			}
			s.ln, err = net.Listen("tcp4", net.JoinHostPort(ip, strconv.Itoa(port)))
		}
		if err != nil {
			return role, fmt.Errorf("ikc: listen: %w", err)
		}
		if s.prefork {
			if s.lnFD, err = listenerFD(s.ln); err != nil {
				s.ln.Close()
				return role, fmt.Errorf("ikc: listen: %w", err)
			}
		}
	}
	if s.opts.Unix != "" {
		s.sockName = protocol.UnixName(s.opts.Unix)
	}
	if a, ok := s.ln.Addr().(*net.TCPAddr); ok {
		s.port = a.Port
	}
	return role, nil
}

// Port returns the TCP port listened on (0 for a Unix socket).
func (s *Server) Port() int { return s.port }

// Addr returns the listening address (nil for an inert server in a
// worker that serves another one).
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Session returns the server's session (nil for an inert server).
func (s *Server) Session() *poe.Session { return s.sess }

// Workers returns the PIDs of a prefork parent's workers. Like every
// Server method but Port and Addr, call it on the kernel's goroutine.
func (s *Server) Workers() []int {
	pids := make([]int, 0, len(s.children))
	for pid := range s.children {
		pids = append(pids, pid)
	}
	return pids
}

// Close stops listening (connections stay). Idempotent; IKC shutdown
// calls it.
func (s *Server) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.la != nil {
		s.la.Close()
	}
	return s.closeListener()
}

func (s *Server) closeListener() error {
	s.lnFD = -1
	if s.ln == nil {
		return nil
	}
	// A Unix listener made by Listen unlinks its path; an adopted one
	// (a worker's) does not.
	return s.ln.Close()
}

// reportError hands an error to OnError or the log.
func (s *Server) reportError(op string, err error) {
	n, text := wheel.Errno(err)
	if s.opts.OnError != nil {
		s.opts.OnError(op, n, text)
		return
	}
	s.log.Error("ikc: server", "operation", op, "errno", n, "error", text)
}

// vlog logs prefork activity: at Info when Verbose, else Debug.
func (s *Server) vlog(msg string, args ...any) {
	lvl := slog.LevelDebug
	if s.opts.Verbose {
		lvl = slog.LevelInfo
	}
	s.log.Log(context.Background(), lvl, msg, append([]any{"pid", os.Getpid()}, args...)...)
}

// _start: accept (paused in a prefork parent), watch the IKC shutdown, and
// in a prefork parent queue the initial forks and the babysitter.
func (s *Server) start(e *poe.Event) any {
	k := e.Kernel
	s.r.Monitor(e.Session, "*", map[string]string{"shutdown": "shutdown"}, nil)
	var err error
	s.la, err = wheel.NewListenAccept(k, wheel.ListenAcceptOptions{
		Handle: s.ln, AcceptEvent: "accept", ErrorEvent: "error",
	})
	if err != nil {
		s.startErr = err
		return nil
	}
	if !s.prefork {
		return nil
	}
	if s.isChild {
		s.becomeWorker(e)
		return nil
	}
	s.la.PauseAccept()
	s.children = map[int]*worker{}
	k.Sig("TERM", "sig_TERM")
	k.Sig("INT", "sig_INT")
	k.Sig("USR1", "sig_USR1")
	k.Sig("USR2", "sig_USR2")
	for i := 2; i <= s.opts.Processes; i++ {
		k.Yield("fork", i == s.opts.Processes)
	}
	if s.opts.Babysit > 0 {
		k.Yield("babysit")
	}
	return nil
}

// _stop: signal the workers still known and remove the Unix socket.
func (s *Server) stop(e *poe.Event) any {
	for pid := range s.children {
		s.vlog("ikc: server stopping, signalling worker", "worker", pid)
		unix.Kill(pid, unix.SIGTERM)
	}
	s.Close()
	if s.opts.Unix != "" && !s.isChild {
		os.Remove(s.opts.Unix)
	}
	return nil
}

// error: a ListenAccept error ("accept", errno, text).
func (s *Server) error(e *poe.Event) any {
	op, n, text := e.String(poe.ARG0), e.Int(poe.ARG1), e.String(poe.ARG2)
	if s.opts.OnError != nil {
		s.opts.OnError(op, n, text)
	} else {
		// Accept errors (EMFILE) come as fast as peers connect: folded.
		s.r.logs.warn("ikc: server", op, s.ln.Addr().String(), fmt.Sprintf("[%d] %s", n, text))
	}
	return nil
}

// shutdown: the "*" shutdown monitor (IKC is going away): stop
// accepting, cancel the timers, and in a prefork parent end the workers.
func (s *Server) shutdown(e *poe.Event) any {
	s.beginShutdown(e.Kernel)
	return nil
}

// accept: a new connection from ListenAccept (fd, sockaddr, wheel ID).
func (s *Server) accept(e *poe.Event) any {
	fd := e.Int(poe.ARG0)
	if s.closed || s.r.shut || s.die {
		unixClose(fd)
		return nil
	}
	if s.prefork && !s.isChild {
		s.log.Warn("ikc: prefork parent received a connection; dropped", "pid", os.Getpid())
		unixClose(fd)
		s.la.PauseAccept()
		return nil
	}
	var peerSA unix.Sockaddr
	if s.opts.Unix == "" {
		peerSA, _ = e.Arg(poe.ARG1).(unix.Sockaddr)
	}
	ip, known := sockaddrAddr(peerSA)
	if why := s.admit.admit(ip, known); why != "" {
		s.r.stats.refusedConns++
		s.r.logs.warn("ikc: connection refused", "admission", ip.String(), why)
		unixClose(fd)
		return nil
	}
	names := make([]string, 0, 2+len(s.opts.Aliases))
	if s.opts.Name != "" {
		names = append(names, s.opts.Name)
	}
	names = append(names, s.opts.Aliases...)
	var peer string
	var local unix.Sockaddr
	if s.opts.Unix != "" {
		names = append(names, s.sockName)
	} else {
		if sa, err := wheel.Getsockname(fd); err == nil {
			local = sa
			if n := sockaddrName(sa); n != "" {
				names = append(names, n)
			}
		}
		if peerSA != nil {
			peer = sockaddrName(peerSA)
		}
	}
	if s.opts.TLSConfig != nil {
		var err error
		if fd, err = serveTLS(fd, s.opts.TLSConfig, s.negotiationTimeout(), s.log, s.r.mem); err != nil {
			s.admit.left(ip, known)
			s.r.logs.warn("ikc: server", "tls", peer, err.Error())
			return nil
		}
	}
	s.active++
	if s.opts.Concurrency > 0 && s.active >= s.opts.Concurrency {
		s.la.PauseAccept()
	}
	if s.isChild {
		s.remaining--
		if s.remaining < 1 {
			s.vlog("ikc: worker served its connections; closing the listener")
			e.Kernel.Delay("waste_time", 0)
			s.Close()
		}
	}
	_, err := startChannel(s.r, channelConfig{
		server: true, fd: fd, local: local, names: names, dialect: s.dialect,
		freezers: s.opts.Serializers, peerAlias: peer,
		timeout: s.opts.NegotiationTimeout, limits: s.limits(),
		onError: s.opts.OnError, onClose: func() { s.admit.left(ip, known); s.channelClosed() },
	})
	if err != nil && !errors.Is(err, errChannelClosed) {
		s.admit.left(ip, known)
		s.channelClosed() // the channel never started, so never closed
		s.log.Warn("ikc: channel", "err", err)
	}
	return nil
}

// negotiationTimeout bounds a connection's handshakes (TLS, then IKC).
func (s *Server) negotiationTimeout() time.Duration {
	if s.opts.NegotiationTimeout > 0 {
		return s.opts.NegotiationTimeout
	}
	return protocol.DefaultTimeout
}

// limits are the connections' Limits: MaxLine and MaxFrame over Limits.
func (s *Server) limits() Limits {
	return Limits{MaxLine: s.opts.MaxLine, MaxFrame: s.opts.MaxFrame}.or(s.opts.Limits)
}

// channelClosed runs when a connection of this server ends.
func (s *Server) channelClosed() {
	s.active--
	if s.opts.Concurrency > 0 && s.active < s.opts.Concurrency && !s.closed && s.la != nil && !(s.prefork && !s.isChild) {
		s.la.ResumeAccept()
	}
	if s.isChild && s.remaining < 1 && s.active == 0 && !s.r.shut {
		// The worker's work is done: IKC goes, the process runs out of
		// work and exits (0.2402).
		s.vlog("ikc: worker done")
		s.k.Post(ResponderAlias, "shutdown")
		s.release()
	}
}
