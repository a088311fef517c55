package wheel

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/poe-go/poe/poe"
	"golang.org/x/sys/unix"
)

// Domain is a socket's address family, POE's SocketDomain. The
// constants are x/sys/unix's AF_INET, AF_INET6 and AF_UNIX, so those
// (untyped) constants work as well.
type Domain int

// The socket domains a SocketFactory supports.
const (
	DomainInet  Domain = unix.AF_INET  // IPv4 (AF_INET), the default
	DomainInet6 Domain = unix.AF_INET6 // IPv6 (AF_INET6)
	DomainUnix  Domain = unix.AF_UNIX  // Unix sockets (AF_UNIX): paths as addresses
)

// String returns the C name: "AF_INET", "AF_INET6", "AF_UNIX".
func (d Domain) String() string {
	switch d {
	case DomainInet:
		return "AF_INET"
	case DomainInet6:
		return "AF_INET6"
	case DomainUnix:
		return "AF_UNIX"
	}
	return "Domain(" + strconv.Itoa(int(d)) + ")"
}

// SocketFactoryOptions are POE::Wheel::SocketFactory's parameters.
type SocketFactoryOptions struct {
	// SocketDomain is DomainInet (the default, also for 0), DomainInet6
	// or DomainUnix.
	SocketDomain Domain
	// SocketProtocol is "tcp" (the default) or "udp"; ignored for
	// AF_UNIX.
	SocketProtocol string
	// SocketType is unix.SOCK_STREAM or unix.SOCK_DGRAM; 0 means stream
	// for tcp and unix, datagram for udp.
	SocketType int
	// BindAddress is a host name or address (INET: any address when
	// empty; INET6: "::" when empty) or, for AF_UNIX, a file path.
	BindAddress string
	// BindPort is the local port; 0 picks one (read it with Getsockname
	// or Port).
	BindPort int
	// RemoteAddress selects connect mode: a host name or address, or for
	// AF_UNIX the socket's path. RemotePort goes with it for INET/INET6.
	RemoteAddress string
	RemotePort    int
	// ListenQueue is the listen backlog; 0 means SOMAXCONN.
	ListenQueue int
	// Reuse sets SO_REUSEADDR.
	Reuse bool
	// UnlinkStale, for an AF_UNIX listener, removes a socket file left at
	// BindAddress by a listener that is gone (a socket nobody accepts
	// on) before binding. POE leaves that to the program.
	UnlinkStale bool
	// PostSetupFailures makes setup failures travel the POE way only:
	// NewSocketFactory returns the wheel and a nil error, and posts
	// FailureEvent. Without it (the default) they are returned as a
	// *SocketError and FailureEvent does not fire for them: each failure
	// is reported once.
	PostSetupFailures bool
	// AcceptBackoff is how long a listener stops accepting after an
	// accept error such as EMFILE, before it tries again; 0 means
	// DefaultAcceptBackoff.
	AcceptBackoff time.Duration

	// SuccessEvent(handle int, peerAddr, peerPort, wheelID): handle is
	// the new connected socket, non-blocking, owned by the receiver from
	// then on. For INET peerAddr is the packed address ([]byte of 4 or
	// 16 octets) and peerPort an int; for AF_UNIX peerAddr is the peer's
	// path as a string (connect mode; "" when accepting) and peerPort nil.
	// UDP without RemoteAddress: (handle, nil, nil, wheelID), posted once.
	SuccessEvent string
	// FailureEvent(operation, errno int, errstr, wheelID) for what fails
	// after NewSocketFactory returned: a connect in progress ("connect")
	// and accept errors ("accept"), called. With PostSetupFailures also
	// the setup failures ("getaddrinfo", "socket", "setsockopt", "bind",
	// "connect", "listen"), posted.
	FailureEvent string
}

// SocketError is a SocketFactory setup failure. Err is a syscall.Errno
// (errors.Is(err, syscall.EADDRINUSE) works) or, when a host did not
// resolve, an error that matches EADDRNOTAVAIL (the errno POE reports)
// and wraps the resolver's *net.DNSError when there is one.
type SocketError struct {
	// Op is FailureEvent's operation: "getaddrinfo", "socket",
	// "setsockopt", "bind", "listen" or "connect".
	Op string
	// Addr is the address concerned: "host:port", "[v6]:port", a Unix
	// socket path, or the host name that did not resolve.
	Addr string
	Err  error
}

func (e *SocketError) Error() string {
	op := e.Op
	if op == "getaddrinfo" {
		op = "resolve"
	}
	if e.Addr == "" {
		return "wheel: " + op + ": " + e.Err.Error()
	}
	return "wheel: " + op + " " + e.Addr + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *SocketError) Unwrap() error { return e.Err }

// resolveError is a host that did not resolve: the resolver's answer (or
// why no address was usable), as EADDRNOTAVAIL.
type resolveError struct {
	msg string
	dns *net.DNSError
}

func (e *resolveError) Error() string { return e.msg }

func (e *resolveError) Unwrap() []error {
	if e.dns != nil {
		return []error{e.dns, syscall.EADDRNOTAVAIL}
	}
	return []error{syscall.EADDRNOTAVAIL}
}

// portError is a port outside 0-65535 (EINVAL, as POE reports it).
type portError int

func (e portError) Error() string {
	return "port " + strconv.Itoa(int(e)) + " out of range (0-65535)"
}

func (e portError) Unwrap() error { return syscall.EINVAL }

// SocketFactory is POE::Wheel::SocketFactory: it creates a socket and
// either connects it (SuccessEvent once) or listens on it (SuccessEvent per
// accepted connection), or binds a connectionless one.
type SocketFactory struct {
	k     *poe.Kernel
	owner *poe.Session
	id    int
	idAny any

	fd        int // the socket while the wheel owns it; -1 after
	domain    Domain
	listening bool
	nodelay   bool // TCP stream: set TCP_NODELAY on connected/accepted sockets

	successEvent, failureEvent string

	stAccept, stConnect, stBackoff string
	userPaused, backoff            bool
	backoffFor                     time.Duration
	closed                         bool
}

// DefaultAcceptBackoff is how long a listening wheel stops accepting
// after an accept error such as EMFILE when its options give no
// AcceptBackoff (retrying at once would fire on every poll).
const DefaultAcceptBackoff = 100 * time.Millisecond

// acceptBackoff is d, or DefaultAcceptBackoff when d is not positive.
func acceptBackoff(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultAcceptBackoff
	}
	return d
}

// NewSocketFactory creates the socket and starts connecting or listening.
// What fails on the spot (resolving, socket, bind, listen, a connect that
// fails at once such as ENOENT for a Unix path) is returned as a
// *SocketError, and FailureEvent does not fire for it; with
// o.PostSetupFailures it is posted to FailureEvent instead, as POE does.
// Misuse (no active session, missing events, unknown domain or protocol)
// is always returned. A connection refused by the peer arrives later, as
// FailureEvent "connect".
func NewSocketFactory(k *poe.Kernel, o SocketFactoryOptions) (*SocketFactory, error) {
	s, err := owner(k)
	if err != nil {
		return nil, err
	}
	if o.SuccessEvent == "" || o.FailureEvent == "" {
		return nil, errors.New("wheel: SocketFactory needs SuccessEvent and FailureEvent")
	}
	domain := o.SocketDomain
	if domain == 0 {
		domain = DomainInet
	}
	proto := 0
	typ := o.SocketType
	switch domain {
	case DomainInet, DomainInet6:
		switch o.SocketProtocol {
		case "", "tcp":
			proto = unix.IPPROTO_TCP
			if typ == 0 {
				typ = unix.SOCK_STREAM
			}
		case "udp":
			proto = unix.IPPROTO_UDP
			if typ == 0 {
				typ = unix.SOCK_DGRAM
			}
		default:
			return nil, fmt.Errorf("wheel: SocketFactory: unsupported SocketProtocol %q", o.SocketProtocol)
		}
	case DomainUnix:
		if typ == 0 {
			typ = unix.SOCK_STREAM
		}
	default:
		return nil, fmt.Errorf("wheel: SocketFactory: unsupported SocketDomain %v", domain)
	}

	id := allocID()
	w := &SocketFactory{
		k: k, owner: s, id: id, idAny: id, fd: -1, domain: domain,
		successEvent: o.SuccessEvent, failureEvent: o.FailureEvent,
		backoffFor: acceptBackoff(o.AcceptBackoff),
		stAccept:   stateName("SocketFactory", id, "select accept"),
		stConnect:  stateName("SocketFactory", id, "select connect"),
		stBackoff:  stateName("SocketFactory", id, "accept backoff"),
	}
	s.AddCloser(w)

	fail := func(op, addr string, err error) (*SocketFactory, error) {
		serr := &SocketError{Op: op, Addr: addr, Err: err}
		if o.PostSetupFailures {
			if w.fd >= 0 {
				unix.Close(w.fd)
				w.fd = -1
			}
			n, str := Errno(serr)
			k.Yield(w.failureEvent, op, n, str, w.idAny)
			return w, nil
		}
		w.Close()
		return nil, serr
	}

	fd, err := socketNB(int(domain), typ, proto)
	if err != nil {
		return fail("socket", "", err)
	}
	w.fd = fd
	// IKC and other request/response protocols write small frames:
	// Nagle's algorithm would hold a second one back until the first is
	// acknowledged (a delayed ACK: up to 40 ms). Inherited by connect.
	w.nodelay = domain != DomainUnix && typ == unix.SOCK_STREAM && (proto == 0 || proto == unix.IPPROTO_TCP)
	if w.nodelay && o.RemoteAddress != "" {
		setNoDelay(fd)
	}
	if o.Reuse {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fail("setsockopt", "", err)
		}
	}

	// Bind: always for listeners and connectionless sockets, for
	// connecting ones only when asked.
	connect := o.RemoteAddress != ""
	if !connect || o.BindAddress != "" || o.BindPort != 0 {
		var sa unix.Sockaddr
		addr := o.BindAddress
		if domain == DomainUnix {
			if o.BindAddress != "" {
				if !connect && o.UnlinkStale {
					unlinkStale(o.BindAddress)
				}
				sa = &unix.SockaddrUnix{Name: o.BindAddress}
			}
		} else {
			addr = hostPort(domain, o.BindAddress, o.BindPort)
			sa, err = inetSockaddr(domain, o.BindAddress, o.BindPort)
			if err != nil {
				return fail("getaddrinfo", resolveAddr(addr, o.BindAddress, err), err)
			}
		}
		if sa != nil {
			if err := unix.Bind(fd, sa); err != nil {
				return fail("bind", addr, err)
			}
		}
	}

	switch {
	case connect:
		var sa unix.Sockaddr
		addr := o.RemoteAddress
		if domain == DomainUnix {
			sa = &unix.SockaddrUnix{Name: o.RemoteAddress}
		} else {
			addr = hostPort(domain, o.RemoteAddress, o.RemotePort)
			sa, err = inetSockaddr(domain, o.RemoteAddress, o.RemotePort)
			if err != nil {
				return fail("getaddrinfo", resolveAddr(addr, o.RemoteAddress, err), err)
			}
		}
		err := unix.Connect(fd, sa)
		if err != nil && err != unix.EINPROGRESS && err != unix.EINTR && err != unix.EAGAIN {
			return fail("connect", addr, err)
		}
		s.SetState(w.stConnect, w.onConnect, nil)
		if err == nil || connected(fd) {
			// Done already (a local peer usually is): report it from the
			// next event instead of a round through the poller.
			k.Yield(w.stConnect)
		} else if err := k.SelectWrite(fd, w.stConnect); err != nil {
			s.SetState(w.stConnect, nil, nil)
			return fail("connect", addr, err)
		}
	case typ == unix.SOCK_STREAM || typ == unix.SOCK_SEQPACKET:
		q := o.ListenQueue
		if q <= 0 {
			q = unix.SOMAXCONN
		}
		if err := unix.Listen(fd, q); err != nil {
			return fail("listen", w.LocalAddr(), err)
		}
		w.listening = true
		s.SetState(w.stAccept, w.onAccept, nil)
		s.SetState(w.stBackoff, w.onBackoff, nil)
		if err := k.SelectRead(fd, w.stAccept); err != nil {
			return fail("listen", w.LocalAddr(), err)
		}
	default:
		// Connectionless: the bound socket is the result, handed over now.
		w.fd = -1
		k.Yield(w.successEvent, fd, nil, nil, w.idAny)
	}
	return w, nil
}

// hostPort formats an INET address for messages: "host:port", "[v6]:port".
func hostPort(domain Domain, host string, port int) string {
	if host == "" {
		host = "0.0.0.0"
		if domain == DomainInet6 {
			host = "::"
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// resolveAddr is what a getaddrinfo failure names: the host that did not
// resolve, or host:port when the port was the trouble.
func resolveAddr(hostport, host string, err error) string {
	var re *resolveError
	if errors.As(err, &re) {
		return host
	}
	return hostport
}

// connected reports whether a non-blocking connect in progress has ended
// (in success or failure: onConnect reads which).
func connected(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(pfd, 0)
	return err == nil && n == 1 && pfd[0].Revents != 0
}

// unlinkStale removes path if it is a socket nobody listens on.
func unlinkStale(path string) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return
	}
	fd, err := socketNB(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return
	}
	err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
	unix.Close(fd)
	if err == unix.ECONNREFUSED {
		os.Remove(path)
	}
}

// inetSockaddr resolves host (a literal address or a name, looked up with
// the system resolver as POE's inet_aton does, blocking) into a sockaddr.
// Failures are a portError or a resolveError.
func inetSockaddr(domain Domain, host string, port int) (unix.Sockaddr, error) {
	if port < 0 || port > 65535 {
		return nil, portError(port)
	}
	var ip net.IP
	if host == "" {
		if domain == DomainInet {
			ip = net.IPv4zero
		} else {
			ip = net.IPv6unspecified
		}
	} else if ip = net.ParseIP(host); ip == nil {
		ips, err := net.LookupIP(host)
		if err != nil {
			re := &resolveError{msg: err.Error()}
			if errors.As(err, &re.dns) {
				re.msg = re.dns.Err
			}
			return nil, re
		}
		for _, c := range ips {
			if (domain == DomainInet) == (c.To4() != nil) {
				ip = c
				break
			}
		}
		if ip == nil {
			family := "IPv4"
			if domain == DomainInet6 {
				family = "IPv6"
			}
			return nil, &resolveError{msg: "no " + family + " address"}
		}
	}
	if domain == DomainInet {
		v4 := ip.To4()
		if v4 == nil {
			return nil, unix.EAFNOSUPPORT
		}
		sa := &unix.SockaddrInet4{Port: port}
		copy(sa.Addr[:], v4)
		return sa, nil
	}
	v6 := ip.To16()
	if v6 == nil {
		return nil, unix.EAFNOSUPPORT
	}
	sa := &unix.SockaddrInet6{Port: port}
	copy(sa.Addr[:], v6)
	return sa, nil
}

// peerInfo is POE's (peerAddr, peerPort) pair for a sockaddr.
func peerInfo(sa unix.Sockaddr) (any, any) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return append([]byte(nil), a.Addr[:]...), a.Port
	case *unix.SockaddrInet6:
		return append([]byte(nil), a.Addr[:]...), a.Port
	case *unix.SockaddrUnix:
		return a.Name, nil
	}
	return nil, nil
}

func (w *SocketFactory) onConnect(e *poe.Event) any {
	if w.closed || w.fd < 0 {
		return nil
	}
	fd := w.fd
	k := w.k
	k.SelectWrite(fd, "")
	w.owner.SetState(w.stConnect, nil, nil)
	soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && soerr != 0 {
		err = syscall.Errno(soerr)
	}
	var peer unix.Sockaddr
	if err == nil {
		peer, err = unix.Getpeername(fd)
	}
	if err != nil {
		unix.Close(fd)
		w.fd = -1
		n, str := Errno(err)
		if w.failureEvent != "" {
			k.Call(w.owner, w.failureEvent, "connect", n, str, w.idAny)
		}
		return nil
	}
	w.fd = -1 // the receiver owns it now
	addr, port := peerInfo(peer)
	if w.successEvent != "" {
		k.Call(w.owner, w.successEvent, fd, addr, port, w.idAny)
	} else {
		unix.Close(fd)
	}
	return nil
}

// acceptBatch bounds the connections accepted per readiness event.
const acceptBatch = 16

func (w *SocketFactory) onAccept(e *poe.Event) any {
	for i := 0; i < acceptBatch && !w.closed && !w.userPaused && !w.backoff && w.fd >= 0; i++ {
		nfd, sa, err := acceptNB(w.fd)
		if err != nil {
			if acceptRetry(err) {
				if err == unix.EAGAIN {
					return nil
				}
				continue
			}
			w.acceptFailed(err)
			return nil
		}
		if w.nodelay {
			setNoDelay(nfd)
		}
		addr, port := peerInfo(sa)
		if w.domain == DomainUnix {
			addr = ""
		}
		if w.successEvent == "" {
			unix.Close(nfd)
			continue
		}
		w.k.Call(w.owner, w.successEvent, nfd, addr, port, w.idAny)
	}
	return nil
}

// acceptRetry reports accept errors that are not failures: nothing to
// accept, or a connection that went away before it was accepted.
func acceptRetry(err error) bool {
	switch err {
	case unix.EAGAIN, unix.EINTR, unix.ECONNABORTED, unix.ESPIPE, unix.EPROTO:
		return true
	}
	return false
}

// acceptFailed reports an accept error and stops accepting for
// its AcceptBackoff (EMFILE and the like would otherwise fire on every poll);
// the listener itself stays.
func (w *SocketFactory) acceptFailed(err error) {
	n, str := Errno(err)
	w.backoff = true
	w.k.SelectPauseRead(w.fd)
	w.owner.Do(func() { w.k.Delay(w.stBackoff, w.backoffFor) })
	if w.failureEvent != "" {
		w.k.Call(w.owner, w.failureEvent, "accept", n, str, w.idAny)
	}
}

func (w *SocketFactory) onBackoff(e *poe.Event) any {
	w.backoff = false
	if !w.closed && !w.userPaused && w.fd >= 0 {
		w.k.SelectResumeRead(w.fd)
	}
	return nil
}

// ID returns the wheel's ID.
func (w *SocketFactory) ID() int { return w.id }

// Getsockname returns the socket's local address, e.g. to learn the port
// chosen for BindPort 0. It fails once the socket was handed over.
func (w *SocketFactory) Getsockname() (unix.Sockaddr, error) {
	if w.fd < 0 {
		return nil, unix.EBADF
	}
	return Getsockname(w.fd)
}

// LocalAddr returns the socket's local address for messages and logs:
// "127.0.0.1:8080", "[::1]:8080", a Unix socket's path; "" once the socket
// was handed over or when it has none.
func (w *SocketFactory) LocalAddr() string {
	sa, err := w.Getsockname()
	if err != nil {
		return ""
	}
	return sockaddrString(sa)
}

// sockaddrString formats a socket address: "ip:port" or the path.
func sockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrUnix:
		return a.Name
	}
	return ""
}

// Port returns the local port of an INET or INET6 socket (0 if none).
func (w *SocketFactory) Port() int {
	sa, err := w.Getsockname()
	if err != nil {
		return 0
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port
	case *unix.SockaddrInet6:
		return a.Port
	}
	return 0
}

// PauseAccept stops accepting (listening mode): new connections wait in
// the kernel's backlog.
func (w *SocketFactory) PauseAccept() {
	if !w.listening || w.closed || w.fd < 0 {
		return
	}
	w.userPaused = true
	w.k.SelectPauseRead(w.fd)
}

// ResumeAccept undoes PauseAccept.
func (w *SocketFactory) ResumeAccept() {
	if !w.listening || w.closed || w.fd < 0 {
		return
	}
	w.userPaused = false
	if !w.backoff {
		w.k.SelectResumeRead(w.fd)
	}
}

// Event renames events: Event("SuccessEvent", "x", "FailureEvent", "y").
func (w *SocketFactory) Event(pairs ...string) error {
	return setEvents("SocketFactory", map[string]*string{
		"SuccessEvent": &w.successEvent, "FailureEvent": &w.failureEvent,
	}, pairs)
}

// Close stops the wheel and closes its socket (not one already handed to
// SuccessEvent). It is idempotent.
func (w *SocketFactory) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	k := w.k
	w.owner.Do(func() {
		if w.fd >= 0 {
			k.SelectRead(w.fd, "")
			k.SelectWrite(w.fd, "")
		}
		if w.listening {
			k.Alarm(w.stBackoff, time.Time{})
		}
		w.owner.SetState(w.stAccept, nil, nil)
		w.owner.SetState(w.stConnect, nil, nil)
		w.owner.SetState(w.stBackoff, nil, nil)
	})
	w.owner.RemoveCloser(w)
	var err error
	if w.fd >= 0 {
		err = unix.Close(w.fd)
		w.fd = -1
	}
	freeID(w.id)
	return err
}

// setNoDelay sets TCP_NODELAY; a failure only costs latency, so it is
// ignored.
func setNoDelay(fd int) { _ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1) }
