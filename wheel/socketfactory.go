package wheel

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/poe-go/poe/poe"
	"golang.org/x/sys/unix"
)

// SocketFactoryOptions are POE::Wheel::SocketFactory's parameters.
type SocketFactoryOptions struct {
	// SocketDomain is unix.AF_INET (the default, also for 0),
	// unix.AF_INET6 or unix.AF_UNIX.
	SocketDomain int
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

	// SuccessEvent(handle int, peerAddr, peerPort, wheelID): handle is
	// the new connected socket, non-blocking, owned by the receiver from
	// then on. For INET peerAddr is the packed address ([]byte of 4 or
	// 16 octets) and peerPort an int; for AF_UNIX peerAddr is the peer's
	// path as a string (connect mode; "" when accepting) and peerPort nil.
	// UDP without RemoteAddress: (handle, nil, nil, wheelID), posted once.
	SuccessEvent string
	// FailureEvent(operation, errno int, errstr, wheelID). Setup failures
	// are posted (operation "socket", "setsockopt", "getaddrinfo",
	// "bind", "connect", "listen"); connect and accept failures are called.
	FailureEvent string
}

// SocketFactory is POE::Wheel::SocketFactory: it creates a socket and
// either connects it (SuccessEvent once) or listens on it (SuccessEvent per
// accepted connection), or binds a connectionless one.
type SocketFactory struct {
	k     *poe.Kernel
	owner *poe.Session
	id    int
	idAny any

	fd        int // the socket while the wheel owns it; -1 after
	domain    int
	listening bool
	nodelay   bool // TCP stream: set TCP_NODELAY on connected/accepted sockets

	successEvent, failureEvent string

	stAccept, stConnect, stBackoff string
	userPaused, backoff            bool
	closed                         bool
}

// AcceptBackoff is how long a listening wheel stops accepting after an
// accept error such as EMFILE, before it tries again.
var AcceptBackoff = 100 * time.Millisecond

// NewSocketFactory creates the socket and starts connecting or listening.
// It fails only for misuse (no active session, missing events, unknown
// domain or protocol); setup failures arrive as FailureEvent.
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
		domain = unix.AF_INET
	}
	proto := 0
	typ := o.SocketType
	switch domain {
	case unix.AF_INET, unix.AF_INET6:
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
	case unix.AF_UNIX:
		if typ == 0 {
			typ = unix.SOCK_STREAM
		}
	default:
		return nil, fmt.Errorf("wheel: SocketFactory: unsupported SocketDomain %d", domain)
	}

	id := allocID()
	w := &SocketFactory{
		k: k, owner: s, id: id, idAny: id, fd: -1, domain: domain,
		successEvent: o.SuccessEvent, failureEvent: o.FailureEvent,
		stAccept:  stateName("SocketFactory", id, "select accept"),
		stConnect: stateName("SocketFactory", id, "select connect"),
		stBackoff: stateName("SocketFactory", id, "accept backoff"),
	}
	s.AddCloser(w)

	fail := func(op string, err error) (*SocketFactory, error) {
		if w.fd >= 0 {
			unix.Close(w.fd)
			w.fd = -1
		}
		n, str := Errno(err)
		k.Yield(w.failureEvent, op, n, str, w.idAny)
		return w, nil
	}

	fd, err := socketNB(domain, typ, proto)
	if err != nil {
		return fail("socket", err)
	}
	w.fd = fd
	// IKC and other request/response protocols write small frames:
	// Nagle's algorithm would hold a second one back until the first is
	// acknowledged (a delayed ACK: up to 40 ms). Inherited by connect.
	w.nodelay = domain != unix.AF_UNIX && typ == unix.SOCK_STREAM && (proto == 0 || proto == unix.IPPROTO_TCP)
	if w.nodelay && o.RemoteAddress != "" {
		setNoDelay(fd)
	}
	if o.Reuse {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fail("setsockopt", err)
		}
	}

	// Bind: always for listeners and connectionless sockets, for
	// connecting ones only when asked.
	connect := o.RemoteAddress != ""
	if !connect || o.BindAddress != "" || o.BindPort != 0 {
		var sa unix.Sockaddr
		if domain == unix.AF_UNIX {
			if o.BindAddress != "" {
				if !connect && o.UnlinkStale {
					unlinkStale(o.BindAddress)
				}
				sa = &unix.SockaddrUnix{Name: o.BindAddress}
			}
		} else {
			sa, err = inetSockaddr(domain, o.BindAddress, o.BindPort)
			if err != nil {
				return fail("getaddrinfo", err)
			}
		}
		if sa != nil {
			if err := unix.Bind(fd, sa); err != nil {
				return fail("bind", err)
			}
		}
	}

	switch {
	case connect:
		var sa unix.Sockaddr
		if domain == unix.AF_UNIX {
			sa = &unix.SockaddrUnix{Name: o.RemoteAddress}
		} else {
			sa, err = inetSockaddr(domain, o.RemoteAddress, o.RemotePort)
			if err != nil {
				return fail("getaddrinfo", err)
			}
		}
		err := unix.Connect(fd, sa)
		if err != nil && err != unix.EINPROGRESS && err != unix.EINTR && err != unix.EAGAIN {
			return fail("connect", err)
		}
		s.SetState(w.stConnect, w.onConnect, nil)
		if err == nil || connected(fd) {
			// Done already (a local peer usually is): report it from the
			// next event instead of a round through the poller.
			k.Yield(w.stConnect)
		} else if err := k.SelectWrite(fd, w.stConnect); err != nil {
			s.SetState(w.stConnect, nil, nil)
			return fail("connect", err)
		}
	case typ == unix.SOCK_STREAM || typ == unix.SOCK_SEQPACKET:
		q := o.ListenQueue
		if q <= 0 {
			q = unix.SOMAXCONN
		}
		if err := unix.Listen(fd, q); err != nil {
			return fail("listen", err)
		}
		w.listening = true
		s.SetState(w.stAccept, w.onAccept, nil)
		s.SetState(w.stBackoff, w.onBackoff, nil)
		if err := k.SelectRead(fd, w.stAccept); err != nil {
			return fail("listen", err)
		}
	default:
		// Connectionless: the bound socket is the result, handed over now.
		w.fd = -1
		k.Yield(w.successEvent, fd, nil, nil, w.idAny)
	}
	return w, nil
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
func inetSockaddr(domain int, host string, port int) (unix.Sockaddr, error) {
	if port < 0 || port > 65535 {
		return nil, unix.EINVAL
	}
	var ip net.IP
	if host == "" {
		if domain == unix.AF_INET {
			ip = net.IPv4zero
		} else {
			ip = net.IPv6unspecified
		}
	} else if ip = net.ParseIP(host); ip == nil {
		ips, err := net.LookupIP(host)
		if err != nil {
			return nil, unix.EADDRNOTAVAIL
		}
		for _, c := range ips {
			if (domain == unix.AF_INET) == (c.To4() != nil) {
				ip = c
				break
			}
		}
		if ip == nil {
			return nil, unix.EADDRNOTAVAIL
		}
	}
	if domain == unix.AF_INET {
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
		if w.domain == unix.AF_UNIX {
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
// AcceptBackoff (EMFILE and the like would otherwise fire on every poll);
// the listener itself stays.
func (w *SocketFactory) acceptFailed(err error) {
	n, str := Errno(err)
	w.backoff = true
	w.k.SelectPauseRead(w.fd)
	w.owner.Do(func() { w.k.Delay(w.stBackoff, AcceptBackoff) })
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
