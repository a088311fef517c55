package wheel

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The socket address calls of x/sys/unix ask the kernel for the socket's
// protocol (getsockopt SO_PROTOCOL) before decoding an IPv4 address, to
// tell L2TP from TCP and UDP: one more system call per accepted
// connection. Our sockets are stream and datagram sockets, so these decode
// IPv4, IPv6 and Unix addresses directly and leave other families to
// x/sys.

// acceptNB accepts a connection as a non-blocking, close-on-exec socket.
func acceptNB(fd int) (int, unix.Sockaddr, error) {
	return accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
}

// accept4 is unix.Accept4 without that extra call.
func accept4(fd, flags int) (int, unix.Sockaddr, error) {
	var rsa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	for {
		nfd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd),
			uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)), uintptr(flags), 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return -1, nil, errno
		}
		sa, ok := decodeSockaddr(&rsa)
		if !ok {
			sa, _ = unix.Getpeername(int(nfd))
		}
		return int(nfd), sa, nil
	}
}

// Getsockname returns a socket's local address like unix.Getsockname,
// without its extra system call for IP sockets.
func Getsockname(fd int) (unix.Sockaddr, error) {
	var rsa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	_, _, errno := unix.RawSyscall(unix.SYS_GETSOCKNAME, uintptr(fd),
		uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)))
	if errno != 0 {
		return nil, errno
	}
	if sa, ok := decodeSockaddr(&rsa); ok {
		return sa, nil
	}
	return unix.Getsockname(fd)
}

// decodeSockaddr turns what the kernel wrote into a Sockaddr for
// the families we use; ok is false for the others.
func decodeSockaddr(rsa *unix.RawSockaddrAny) (unix.Sockaddr, bool) {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		pp := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&pp.Port))
		return &unix.SockaddrInet4{Port: int(p[0])<<8 | int(p[1]), Addr: pp.Addr}, true
	case unix.AF_INET6:
		pp := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&pp.Port))
		return &unix.SockaddrInet6{Port: int(p[0])<<8 | int(p[1]), ZoneId: pp.Scope_id, Addr: pp.Addr}, true
	case unix.AF_UNIX:
		// As x/sys does: a leading NUL (abstract, or an unnamed peer)
		// reads as '@', and the name ends at the first NUL.
		pp := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		if pp.Path[0] == 0 {
			pp.Path[0] = '@'
		}
		b := unsafe.Slice((*byte)(unsafe.Pointer(&pp.Path[0])), len(pp.Path))
		l := 0
		for l < len(b) && b[l] != 0 {
			l++
		}
		return &unix.SockaddrUnix{Name: string(b[:l])}, true
	}
	return nil, false
}
