package ikc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// TLS (ServerOptions.TLSConfig, ClientOptions.TLSConfig) is for Go
// kernels talking to each other: Perl's IKC has no TLS, so a server that
// also serves Perl peers runs a second, plain Server on another listener.
//
// The kernel's wheels read and write descriptors, and crypto/tls works on
// a net.Conn, so a TLS connection is bridged: the channel gets one end of
// a Unix socket pair, and two goroutines carry the bytes between its
// other end and the tls.Conn. The pair's buffers are bounded, so output
// backpressure and paused input work as on a plain socket.

// ErrTLSPrefork: a Server cannot both prefork and speak TLS (workers
// inherit a listening descriptor, not a TLS configuration).
var ErrTLSPrefork = errors.New("ikc: TLS with Processes above 1 is not supported")

// ErrTLSUnix: TLS over a Unix socket is not supported.
var ErrTLSUnix = errors.New("ikc: TLS needs a TCP connection")

// tlsCopyBuffer is each direction's copy buffer: TLS records are at most
// 16 KiB of plaintext.
const tlsCopyBuffer = 16 << 10

// tlsBridgeCost is what a bridge costs besides the channel (the TLS
// connection's state and records, two goroutine stacks), told to the
// memory release when it ends.
const tlsBridgeCost = 64 << 10

var tlsBuffers = sync.Pool{New: func() any { b := make([]byte, tlsCopyBuffer); return &b }}

// fdConn makes a net.Conn of a connected socket the kernel owns, which it
// gives up (net.FileConn works on a duplicate; fd is closed).
func fdConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "ikc-tls")
	c, err := net.FileConn(f)
	f.Close()
	return c, err
}

// socketPair returns a connected pair of stream sockets: the first for
// the channel (non-blocking, as accepted sockets are), the second as a
// net.Conn for the bridge.
func socketPair() (int, net.Conn, error) {
	// Flags set after the call, under ForkLock so that no child started
	// meanwhile inherits the pair: macOS has no SOCK_CLOEXEC.
	syscall.ForkLock.RLock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err == nil {
		err = unix.SetNonblock(fds[0], true)
		if err != nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
		}
	}
	if err != nil {
		return -1, nil, fmt.Errorf("ikc: socketpair: %w", err)
	}
	c, err := fdConn(fds[1])
	if err != nil {
		unix.Close(fds[0])
		return -1, nil, err
	}
	return fds[0], c, nil
}

// handshake runs tc's handshake within timeout.
func handshake(tc *tls.Conn, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return tc.HandshakeContext(ctx)
}

// bridge carries bytes between the channel's end (local) and tc until
// either ends: the peer's end reaches the channel as end of file; the
// channel closing its descriptor closes the TLS connection.
func bridge(local net.Conn, tc *tls.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyBuffered(local, tc)
		// The peer is gone (or sent close_notify): the channel reads
		// end of file, flushes and closes its end.
		if uc, ok := local.(*net.UnixConn); ok {
			uc.CloseWrite()
		}
	}()
	copyBuffered(tc, local)
	// The channel closed: so does the TLS connection, which also ends
	// the other direction.
	tc.Close()
	<-done
	local.Close()
}

func copyBuffered(dst io.Writer, src io.Reader) {
	b := tlsBuffers.Get().(*[]byte)
	io.CopyBuffer(dst, src, *b)
	tlsBuffers.Put(b)
}

// serveTLS bridges an accepted connection (fd) through a TLS server
// handshake and returns the channel's descriptor at once; the handshake
// runs on the bridge's goroutine, bounded by timeout. A failed handshake
// closes the pair: the channel reads end of file. Failures are logged at
// Debug: any peer can cause them in bulk.
func serveTLS(fd int, cfg *tls.Config, timeout time.Duration, log *slog.Logger, mem *memRelease) (int, error) {
	raw, err := fdConn(fd)
	if err != nil {
		return -1, err
	}
	cfd, local, err := socketPair()
	if err != nil {
		raw.Close()
		return -1, err
	}
	tc := tls.Server(raw, cfg)
	go func() {
		defer mem.ended(tlsBridgeCost)
		if err := handshake(tc, timeout); err != nil {
			log.Debug("ikc: TLS handshake failed", "peer", raw.RemoteAddr().String(), "err", err)
			tc.Close()
			local.Close()
			return
		}
		bridge(local, tc)
	}()
	return cfd, nil
}

// dialTLS runs a client handshake on a connected socket (fd) and, once it
// succeeded, returns the channel's descriptor. It blocks: the Client runs
// it on a goroutine of its own.
func dialTLS(fd int, cfg *tls.Config, timeout time.Duration, mem *memRelease) (int, error) {
	raw, err := fdConn(fd)
	if err != nil {
		return -1, err
	}
	tc := tls.Client(raw, cfg)
	if err := handshake(tc, timeout); err != nil {
		tc.Close()
		return -1, fmt.Errorf("ikc: TLS handshake: %w", err)
	}
	cfd, local, err := socketPair()
	if err != nil {
		tc.Close()
		return -1, err
	}
	go func() {
		bridge(local, tc)
		mem.ended(tlsBridgeCost)
	}()
	return cfd, nil
}

// clientTLSConfig is the Client's configuration with the server's host
// name to verify when the caller set none.
func clientTLSConfig(cfg *tls.Config, host string) *tls.Config {
	if cfg.ServerName != "" || cfg.InsecureSkipVerify {
		return cfg
	}
	c := cfg.Clone()
	c.ServerName = host
	return c
}
