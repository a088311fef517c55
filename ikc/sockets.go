package ikc

import (
	"net"

	"golang.org/x/sys/unix"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/wheel"
)

// sockaddrName formats an IPv4 address as "<ip>:<port>".
func sockaddrName(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return protocol.TCPName(net.IP(a.Addr[:]).String(), a.Port)
	case *unix.SockaddrInet6:
		ip := net.IP(a.Addr[:])
		if v4 := ip.To4(); v4 != nil {
			return protocol.TCPName(v4.String(), a.Port)
		}
	}
	return ""
}

// sockname returns a socket's local address, nil if unknown.
func sockname(fd int) unix.Sockaddr {
	sa, err := wheel.Getsockname(fd)
	if err != nil {
		return nil
	}
	return sa
}

// unixClose closes a descriptor the kernel side owns (0 and below: none).
func unixClose(fd int) {
	if fd > 0 {
		unix.Close(fd)
	}
}
