package ikc

import (
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// TestAllowNetworks: a peer outside AllowNetworks is closed as it is
// accepted, before it can negotiate; one inside is served.
func TestAllowNetworks(t *testing.T) {
	n, _, port := limitServer(t, ResponderOptions{}, ServerOptions{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	p := dialRaw(t, port)
	if !p.closedByServer() {
		t.Fatal("a peer outside the allowed networks was not closed")
	}
	if st := waitStats(t, n, "refused", func(s Stats) bool { return s.RefusedConnections == 1 }); st.Connections != 0 {
		t.Errorf("connections %d", st.Connections)
	}

	_, rec, port := limitServer(t, ResponderOptions{}, ServerOptions{AllowNetworks: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}})
	q := dialRaw(t, port)
	if line := q.setup("Inside"); !strings.HasPrefix(line, "SETUP") {
		t.Fatalf("answer %q", line)
	}
	q.frame(post("poe://Server/test/posted", storable.Bytes("in"), ""))
	rec.WaitFor(t, "posted")
}

// TestMaxConnsPerAddr: one address holds at most MaxConnsPerAddr
// connections; once one ends another is admitted.
func TestMaxConnsPerAddr(t *testing.T) {
	n, _, port := limitServer(t, ResponderOptions{}, ServerOptions{MaxConnsPerAddr: 2})
	a, b := dialRaw(t, port), dialRaw(t, port)
	a.setup("A")
	b.setup("B")
	c := dialRaw(t, port)
	if !c.closedByServer() {
		t.Fatal("a third connection from the address was not closed")
	}
	waitStats(t, n, "refused", func(s Stats) bool { return s.RefusedConnections == 1 })
	a.conn.Close()
	waitStats(t, n, "a left", func(s Stats) bool { return s.Connections == 1 })
	d := dialRaw(t, port)
	if line := d.setup("D"); !strings.HasPrefix(line, "SETUP") {
		t.Fatalf("answer %q after one left", line)
	}
	if st := statsOf(n); st.RefusedConnections != 1 {
		t.Errorf("refused %d, want 1", st.RefusedConnections)
	}
}

// TestAdmission: addresses (IPv4-mapped IPv6 too), Unix peers, counts.
func TestAdmission(t *testing.T) {
	if _, err := newAdmission([]netip.Prefix{{}}, 0); err == nil {
		t.Error("an invalid prefix was accepted")
	}
	a, err := newAdmission([]netip.Prefix{netip.MustParsePrefix("192.168.1.7/24")}, 1)
	if err != nil {
		t.Fatal(err)
	}
	mapped := &unix.SockaddrInet6{Addr: netip.MustParseAddr("::ffff:192.168.1.9").As16()}
	ip, ok := sockaddrAddr(mapped)
	if !ok || ip != netip.MustParseAddr("192.168.1.9") {
		t.Fatalf("mapped address %v %v", ip, ok)
	}
	if why := a.admit(ip, ok); why != "" {
		t.Fatalf("refused %v: %s", ip, why)
	}
	if why := a.admit(ip, ok); why == "" {
		t.Error("a second connection admitted with MaxConnsPerAddr 1")
	}
	a.left(ip, ok)
	if len(a.open) != 0 {
		t.Errorf("open %v after the last left", a.open)
	}
	out, _ := sockaddrAddr(&unix.SockaddrInet4{Addr: [4]byte{192, 168, 2, 1}})
	if why := a.admit(out, true); why == "" {
		t.Error("192.168.2.1 admitted by 192.168.1.0/24")
	}
	if _, ok := sockaddrAddr(&unix.SockaddrUnix{Name: "/s"}); ok {
		t.Error("a Unix peer has an IP address")
	}
	if why := a.admit(netip.Addr{}, false); why != "" {
		t.Errorf("a Unix peer refused: %s", why)
	}
}
