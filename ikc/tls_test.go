package ikc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc"
	"github.com/poe-go/poe/ikc/clientlite"
	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/poe"
)

// selfSigned returns a server configuration with a fresh self-signed
// certificate for 127.0.0.1 and a client configuration trusting it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ikc test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return server, client
}

// TestTLSMesh: a kernel serves Go peers over TLS and Perl-style peers in
// plain TCP on another listener. A Go client kernel meshes with it over
// TLS (a post each way), a TLS ClientLite calls it, a plain ClientLite
// calls the plain listener; plain text on the TLS port and a client that
// does not trust the certificate are refused, and the server goes on.
func TestTLSMesh(t *testing.T) {
	srvTLS, cliTLS := selfSigned(t)
	rec := ikctest.NewRecorder()
	var tlsPort, plainPort int
	ikctest.StartNode(t, func(k *poe.Kernel) {
		s, err := ikc.NewServer(k, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort, Name: "Secure", TLSConfig: srvTLS})
		if err != nil {
			t.Error(err)
			return
		}
		tlsPort = s.Port()
		p, err := ikc.NewServer(k, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort, Name: "Plain"})
		if err != nil {
			t.Error(err)
			return
		}
		plainPort = p.Port()
		ts := ikctest.Session(k, "test", map[string]poe.Handler{
			"echo": func(e *poe.Event) any { return e.Arg(poe.ARG0) },
			"posted": func(e *poe.Event) any {
				rec <- []any{"server", e.Arg(poe.ARG0)}
				e.Kernel.Post("IKC", "post", "poe://Meshed/ctest/got", "back over TLS")
				return nil
			},
		})
		ikc.Publish(k, ts, "echo", "posted")
	})
	if tlsPort == 0 || plainPort == 0 {
		t.Fatal("servers did not start")
	}

	ikctest.StartNode(t, func(k *poe.Kernel) {
		cs := ikctest.Session(k, "ctest", map[string]poe.Handler{
			"got": func(e *poe.Event) any { rec <- []any{"client", e.Arg(poe.ARG0)}; return nil },
			"go": func(e *poe.Event) any {
				e.Kernel.Post("IKC", "post", "poe://Secure/test/posted", "over TLS")
				return nil
			},
		})
		ikc.Publish(k, cs, "got")
		if _, err := ikc.NewClient(k, ikc.ClientOptions{Host: "127.0.0.1", Port: tlsPort, Name: "Meshed",
			TLSConfig: cliTLS, OnConnect: func() { k.Post(cs, "go") }}); err != nil {
			t.Error(err)
		}
	})
	if g := rec.WaitFor(t, "server"); g[1] != "over TLS" {
		t.Errorf("server got %v", g[1])
	}
	if g := rec.WaitFor(t, "client"); g[1] != "back over TLS" {
		t.Errorf("client got %v", g[1])
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lite := func(port int, cfg *tls.Config, name string) (any, error) {
		l, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: port, Name: name, TLSConfig: cfg, Timeout: 3 * time.Second})
		if err != nil {
			return nil, err
		}
		defer l.Disconnect()
		return l.Call(ctx, "test/echo", name)
	}
	if v, err := lite(tlsPort, cliTLS, "LiteTLS"); err != nil || v != "LiteTLS" {
		t.Errorf("ClientLite over TLS: %v, %v", v, err)
	}
	if v, err := lite(plainPort, nil, "LitePlain"); err != nil || v != "LitePlain" {
		t.Errorf("plain ClientLite on the plain listener: %v, %v", v, err)
	}
	if _, err := lite(tlsPort, nil, "PlainOnTLS"); err == nil {
		t.Error("plain text on the TLS listener was answered")
	}
	if _, err := lite(tlsPort, &tls.Config{MinVersion: tls.VersionTLS12}, "Untrusting"); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("a ClientLite not trusting the certificate: %v", err)
	}

	// A Go client kernel that does not trust the certificate gives up
	// with the handshake's error.
	var bad *ikc.Client
	failed := make(chan struct{})
	ikctest.StartNode(t, func(k *poe.Kernel) {
		var err error
		bad, err = ikc.NewClient(k, ikc.ClientOptions{Host: "127.0.0.1", Port: tlsPort, Name: "Untrusting",
			TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12},
			OnError:   func(op string, errno int, text string) { close(failed) }})
		if err != nil {
			t.Error(err)
		}
	})
	select {
	case <-failed:
	case <-time.After(ikctest.Timeout):
		t.Fatal("the untrusting client did not fail")
	}
	var ue x509.UnknownAuthorityError
	if err := bad.Err(); !errors.As(err, &ue) {
		t.Errorf("untrusting client: %v, want x509.UnknownAuthorityError", err)
	}
	if v, err := lite(tlsPort, cliTLS, "After"); err != nil || v != "After" {
		t.Errorf("TLS server after the refusals: %v, %v", v, err)
	}
}

// TestTLSOptions: TLS is refused with prefork and on a Unix socket.
func TestTLSOptions(t *testing.T) {
	srvTLS, _ := selfSigned(t)
	ikctest.StartNode(t, func(k *poe.Kernel) {
		if _, err := ikc.NewServer(k, ikc.ServerOptions{Processes: 3, TLSConfig: srvTLS}); !errors.Is(err, ikc.ErrTLSPrefork) {
			t.Errorf("prefork: %v", err)
		}
		if _, err := ikc.NewServer(k, ikc.ServerOptions{Unix: t.TempDir() + "/s", TLSConfig: srvTLS}); !errors.Is(err, ikc.ErrTLSUnix) {
			t.Errorf("unix: %v", err)
		}
	})
}

// TestTLSLeavesNothing: the bridges of finished TLS connections end, as
// do those of peers that never complete a handshake (bounded by the
// negotiation timeout).
func TestTLSLeavesNothing(t *testing.T) {
	srvTLS, cliTLS := selfSigned(t)
	var port int
	ikctest.StartNode(t, func(k *poe.Kernel) {
		s, err := ikc.NewServer(k, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort, Name: "Secure",
			TLSConfig: srvTLS, NegotiationTimeout: 300 * time.Millisecond})
		if err != nil {
			t.Error(err)
			return
		}
		port = s.Port()
		ts := ikctest.Session(k, "test", map[string]poe.Handler{"echo": func(e *poe.Event) any { return e.Arg(poe.ARG0) }})
		ikc.Publish(k, ts, "echo")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seq := 0
	call := func() {
		// A name of its own: the server may not have seen the last one
		// leave yet.
		seq++
		l, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: port, Name: "Lite" + strconv.Itoa(seq), TLSConfig: cliTLS, Timeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Call(ctx, "test/echo", 1); err != nil {
			t.Fatal(err)
		}
		l.Disconnect()
	}
	call() // warm up: pools, the kernel's goroutines
	base := runtime.NumGoroutine()
	for range 20 {
		call()
	}
	var silent []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	// Past the TLS handshake, silent in IKC: the channel's timeout must
	// close the TLS connection too.
	mute, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	mute.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := mute.Read(make([]byte, 1)); err == nil {
		t.Error("a peer silent after the TLS handshake got data")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("a peer silent after the TLS handshake was not closed")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Errorf("%d goroutines, %d before", n, base)
	}
	for _, c := range silent {
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("a silent peer got data")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Error("a silent peer was not closed after the negotiation timeout")
		}
	}
}
