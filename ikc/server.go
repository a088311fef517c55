package ikc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poe-go/poe/ikc/freezer/storable"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
)

// ServerOptions configure NewServer (Perl's POE::Component::IKC::Server
// options, without prefork; spec 13.1).
type ServerOptions struct {
	// IP is the address to listen on. Default 127.0.0.1: a Go server
	// binds to loopback unless told otherwise (spec 14; Perl binds
	// 0.0.0.0).
	IP string
	// Port is the TCP port; 0 picks one (read it with Server.Port).
	Port int
	// Unix, if set, listens on this Unix socket path instead (unlinked
	// before binding and when the server stops).
	Unix string
	// Name and Aliases are the local kernel's names, announced to
	// clients and registered locally (spec 4.3, 10.9). Perl's server
	// has no default name.
	Name    string
	Aliases []string
	// Protocol is "IKC0" (default: accepts both dialects) or "IKC"
	// (answers SETUP with NOT).
	Protocol string
	// Serializers are the freezers accepted from clients (nil:
	// Storable only, spec 5.5).
	Serializers []string
	// NegotiationTimeout bounds each handshake (0: DefaultTimeout).
	NegotiationTimeout time.Duration
	// MaxLine caps negotiation lines, MaxFrame frame payloads (0:
	// defaults).
	MaxLine, MaxFrame int
	// Logger for the responder if this server spawns it.
	Logger *slog.Logger
}

// Server listens for IKC connections and runs a channel for each one.
type Server struct {
	r        *Responder
	opts     ServerOptions
	dialect  Dialect
	ln       net.Listener
	la       *wheel.ListenAccept
	sess     *poe.Session
	port     int
	sockName string // Unix: the announced unix:<path> name
	closed   bool
}

func parseProtocol(p string) (Dialect, error) {
	switch p {
	case "", "IKC0":
		return IKC0, nil
	case "IKC":
		return IKC, nil
	}
	return 0, fmt.Errorf("ikc: unknown protocol %q (want IKC0 or IKC)", p)
}

// NewServer starts listening. It spawns the kernel's responder if needed
// and registers Name and Aliases as names of the local kernel. Call it on
// the kernel's goroutine (before Run or in a handler).
func NewServer(k *poe.Kernel, opts ServerOptions) (*Server, error) {
	d, err := parseProtocol(opts.Protocol)
	if err != nil {
		return nil, err
	}
	for _, n := range append([]string{opts.Name}, opts.Aliases...) {
		if n != "" && !validName(n) {
			return nil, fmt.Errorf("%w: %q", ErrBadName, n)
		}
	}
	r, err := Spawn(k, &ResponderOptions{Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	s := &Server{r: r, opts: opts, dialect: d}
	if opts.Unix != "" {
		if fi, err := os.Lstat(opts.Unix); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(opts.Unix)
		}
		s.ln, err = net.Listen("unix", opts.Unix)
		s.sockName = UnixName(opts.Unix)
	} else {
		ip := opts.IP
		if ip == "" {
			ip = "127.0.0.1"
		}
		s.ln, err = net.Listen("tcp4", net.JoinHostPort(ip, strconv.Itoa(opts.Port)))
	}
	if err != nil {
		return nil, fmt.Errorf("ikc: listen: %w", err)
	}
	if a, ok := s.ln.Addr().(*net.TCPAddr); ok {
		s.port = a.Port
	}
	var cerr error
	k.Session().Do(func() {
		s.sess, cerr = k.Create(poe.Spec{Heap: s, Inline: map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				var err error
				s.la, err = wheel.NewListenAccept(e.Kernel, wheel.ListenAcceptOptions{
					Handle: s.ln, AcceptEvent: "accept", ErrorEvent: "accept_error",
				})
				if err != nil {
					cerr = err
				}
				return nil
			},
			"accept":       s.accept,
			"accept_error": func(e *poe.Event) any { r.log.Warn("ikc: accept", "error", e.String(poe.ARG2)); return nil },
			"shutdown":     func(e *poe.Event) any { s.Close(); return nil },
		}})
	})
	if cerr != nil {
		s.ln.Close()
		return nil, fmt.Errorf("ikc: server: %w", cerr)
	}
	r.RegisterLocal(append([]string{opts.Name}, opts.Aliases...)...)
	r.AddCloser(s)
	return s, nil
}

// Port returns the TCP port listened on (0 for a Unix socket).
func (s *Server) Port() int { return s.port }

// Addr returns the listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

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
	return s.ln.Close() // a Unix listener unlinks its path
}

func (s *Server) accept(e *poe.Event) any {
	fd := e.Int(poe.ARG0)
	if s.closed || s.r.shut {
		unixClose(fd)
		return nil
	}
	names := make([]string, 0, 2+len(s.opts.Aliases))
	if s.opts.Name != "" {
		names = append(names, s.opts.Name)
	}
	names = append(names, s.opts.Aliases...)
	var peer string
	if s.opts.Unix != "" {
		names = append(names, s.sockName)
	} else {
		if sa, err := unix.Getsockname(fd); err == nil {
			if n := sockaddrName(sa); n != "" {
				names = append(names, n)
			}
		}
		if sa, ok := e.Arg(poe.ARG1).(unix.Sockaddr); ok {
			peer = sockaddrName(sa)
		}
	}
	_, err := startChannel(s.r, channelConfig{
		server: true, fd: fd, names: names, dialect: s.dialect,
		freezers: s.opts.Serializers, peerAlias: peer,
		timeout: s.opts.NegotiationTimeout, maxLine: s.opts.MaxLine, maxFrame: s.opts.MaxFrame,
	})
	if err != nil && !errors.Is(err, errChannelClosed) {
		s.r.log.Warn("ikc: channel", "err", err)
	}
	return nil
}

// sockaddrName formats an IPv4 address as "<ip>:<port>".
func sockaddrName(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return TCPName(net.IP(a.Addr[:]).String(), a.Port)
	case *unix.SockaddrInet6:
		ip := net.IP(a.Addr[:])
		if v4 := ip.To4(); v4 != nil {
			return TCPName(v4.String(), a.Port)
		}
	}
	return ""
}

func unixClose(fd int) {
	if fd > 0 {
		unix.Close(fd)
	}
}

// storableValue returns a thawed record as a storable.Value (nil if it is
// something else).
func storableValue(v any) storable.Value {
	sv, _ := v.(storable.Value)
	return sv
}
