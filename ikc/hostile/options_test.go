package hostile

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"runtime"
	"strconv"
	"time"

	"github.com/poe-go/poe/ikc"
	"github.com/poe-go/poe/poe"
)

// serverOptions adds the knobs of HOSTILE_OPTS to the child's options:
// stall (the stall timeout), high and low (output marks, octets),
// peraddr (MaxConnsPerAddr).
func serverOptions(o ikc.ServerOptions) ikc.ServerOptions {
	if v, ok := knob("peraddr"); ok {
		o.MaxConnsPerAddr, _ = strconv.Atoi(v)
	}
	if v, ok := knob("stall"); ok {
		o.Limits.StallTimeout, _ = time.ParseDuration(v)
	}
	if v, ok := knob("high"); ok {
		o.Limits.OutputHighMark, _ = strconv.Atoi(v)
	}
	if v, ok := knob("low"); ok {
		o.Limits.OutputLowMark, _ = strconv.Atoi(v)
	}
	return o
}

// responderOptions are the child's responder options: loginterval (the
// summary period of folded log lines).
func responderOptions(o ikc.ResponderOptions) ikc.ResponderOptions {
	if v, ok := knob("loginterval"); ok {
		o.LogInterval, _ = time.ParseDuration(v)
	}
	return o
}

// extraStats adds the responder's counters to the child's stats.
func extraStats(k *poe.Kernel, m map[string]any) {
	r := ikc.ResponderOf(k)
	if r == nil {
		return
	}
	s := r.Stats()
	m["refusedRequests"] = int64(s.RefusedRequests)
	m["refusedFrames"] = int64(s.RefusedFrames)
	m["foreignFrames"] = int64(s.ForeignFrames)
	m["refusedConnections"] = int64(s.RefusedConnections)
	m["pausedReads"] = int64(s.PausedReads)
	m["droppedPeers"] = int64(s.DroppedPeers)
	m["stalledPeers"] = int64(s.StalledPeers)
	m["thunksEvicted"] = int64(s.ThunksEvicted)
	m["thunks"] = int64(s.Thunks)
	m["connections"] = int64(s.Connections)
	m["logsFolded"] = int64(s.LogsFolded)
	m["goroutines"] = int64(runtime.NumGoroutine())
}

// foreignStats checks the responder counted n ignored frames.
func foreignStats(c *child, v *verdict, n int) {
	st, err := c.stats()
	if !v.check(err == nil, "stats: %v", err) {
		return
	}
	v.check(num(st, "foreignFrames") == int64(n), "%d frames counted as foreign, want %d", num(st, "foreignFrames"), n)
}

// tlsOptions: with the knob tls, the child also runs a TLS server (a
// self-signed certificate made at start) on another port.
func tlsOptions(o ikc.ServerOptions) (ikc.ServerOptions, bool) {
	if _, ok := knob("tls"); !ok {
		return o, false
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	o.Name = "DemoTLS"
	o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	return o, true
}
