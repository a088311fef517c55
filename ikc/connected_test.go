package ikc

import (
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/poe"
)

// TestClientOnConnected: the Client's connect callback gets the server's
// names, the freezer and the dialect the handshake agreed.
func TestClientOnConnected(t *testing.T) {
	var port int
	var serverID string
	ikctest.StartNode(t, func(k *poe.Kernel) {
		s, err := NewServer(k, ServerOptions{IP: "127.0.0.1", Port: EphemeralPort, Name: "Srv", Aliases: []string{"Alias"}})
		if err != nil {
			t.Error(err)
			return
		}
		port, serverID = s.Port(), k.ID()
	})
	for _, proto := range []string{"IKC0", "IKC"} {
		for _, ser := range []string{"Storable", "YAML", "FreezeThaw"} {
			got := make(chan Peer, 1)
			n := ikctest.StartNode(t, func(k *poe.Kernel) {
				_, err := NewClient(k, ClientOptions{Host: "127.0.0.1", Port: port, Name: "C" + proto + ser,
					Protocol: proto, Serializers: []string{ser}, OnConnected: func(p Peer) { got <- p }})
				if err != nil {
					t.Error(err)
				}
			})
			var p Peer
			select {
			case p = <-got:
			case <-time.After(ikctest.Timeout):
				t.Fatalf("%s %s: no OnConnected", proto, ser)
			}
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			if p.ID != serverID || !slices.Contains(p.Aliases, "Srv") || !slices.Contains(p.Aliases, "Alias") || !slices.Contains(p.Aliases, addr) {
				t.Errorf("%s %s: peer %+v, want ID %s and aliases Srv, Alias, %s", proto, ser, p, serverID, addr)
			}
			if p.Freezer != ser || p.Protocol != proto {
				t.Errorf("%s %s: Freezer %q, Protocol %q", proto, ser, p.Freezer, p.Protocol)
			}
			if proto == "IKC0" && p.PID == 0 || proto == "IKC" && p.PID != 0 {
				t.Errorf("%s: PID %d", proto, p.PID)
			}
			n.Stop()
		}
	}
}
