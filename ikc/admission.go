package ikc

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// admission decides at accept time whether a TCP peer may connect at all:
// its address must be in one of the allowed networks (when any are
// given), and it may hold at most perAddr connections at once (when
// above 0). Connections on a Unix socket are always admitted. Both are
// off by default, as in Perl.
type admission struct {
	allow   []netip.Prefix
	perAddr int
	open    map[netip.Addr]int // connections per peer address, while perAddr > 0
}

func newAdmission(allow []netip.Prefix, perAddr int) (*admission, error) {
	for _, p := range allow {
		if !p.IsValid() {
			return nil, fmt.Errorf("ikc: AllowNetworks: invalid prefix %v", p)
		}
	}
	a := &admission{perAddr: perAddr}
	for _, p := range allow {
		a.allow = append(a.allow, p.Masked())
	}
	if perAddr > 0 {
		a.open = map[netip.Addr]int{}
	}
	return a, nil
}

// sockaddrAddr is a peer's IP address (IPv4-mapped IPv6 unmapped), false
// for a Unix socket or an unknown address.
func sockaddrAddr(sa unix.Sockaddr) (netip.Addr, bool) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr), true
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).Unmap(), true
	}
	return netip.Addr{}, false
}

// admit returns "" and counts the connection when ip may connect, or the
// reason it may not. A peer of unknown address (a Unix socket) is
// admitted and not counted.
func (a *admission) admit(ip netip.Addr, known bool) string {
	if !known {
		return ""
	}
	if len(a.allow) > 0 && !a.allowed(ip) {
		return "address not in AllowNetworks"
	}
	if a.perAddr > 0 {
		if a.open[ip] >= a.perAddr {
			return fmt.Sprintf("already %d connections from this address", a.perAddr)
		}
		a.open[ip]++
	}
	return ""
}

func (a *admission) allowed(ip netip.Addr) bool {
	for _, p := range a.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// left is told a connection admitted from ip ended.
func (a *admission) left(ip netip.Addr, known bool) {
	if !known || a.perAddr <= 0 {
		return
	}
	if n := a.open[ip] - 1; n > 0 {
		a.open[ip] = n
	} else {
		delete(a.open, ip)
	}
}
