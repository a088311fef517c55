package clientlite

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/wheel/freezer"
)

// deadline is the earlier of the context's deadline and now+Timeout.
func (l *Client) deadline(ctx context.Context) time.Time {
	d := time.Now().Add(l.opts.Timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	return d
}

// watch makes a cancelled context interrupt blocking I/O on conn; call
// the returned function when done.
func watch(ctx context.Context, conn net.Conn) func() bool {
	return context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
}

// connect dials and negotiates (spec 4.6 and 5.3, ClientLite's version).
func (l *Client) connect(ctx context.Context) error {
	dl := l.deadline(ctx)
	dctx, cancel := context.WithDeadline(ctx, dl)
	defer cancel()
	d := net.Dialer{KeepAlive: -1}
	if l.opts.KeepAlive > 0 {
		d.KeepAlive = l.opts.KeepAlive
	}
	var conn net.Conn
	var err error
	if l.opts.Unix != "" {
		conn, err = d.DialContext(dctx, "unix", l.opts.Unix)
	} else {
		conn, err = d.DialContext(dctx, "tcp", net.JoinHostPort(l.opts.Host, strconv.Itoa(l.opts.Port)))
	}
	if err != nil {
		if ctx.Err() != nil || dctx.Err() != nil {
			return fmt.Errorf("%w (connecting to %s): %w", ErrNoResponse, l.where, err)
		}
		return fmt.Errorf("ikc: connecting to %s: %w", l.where, dialCause(err))
	}
	raw := conn
	if l.opts.TLSConfig != nil {
		cfg := l.opts.TLSConfig
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			cfg = cfg.Clone()
			cfg.ServerName = l.opts.Host
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			conn.Close()
			if ctx.Err() != nil || dctx.Err() != nil {
				return fmt.Errorf("%w (TLS handshake with %s): %w", ErrNoResponse, l.where, err)
			}
			return fmt.Errorf("ikc: TLS handshake with %s: %w", l.where, err)
		}
		conn = tc
	}
	stop := watch(dctx, conn)
	defer stop()
	conn.SetDeadline(dl)
	res, br, err := l.handshake(conn)
	if err != nil {
		conn.Close()
		var nie *protocol.NotIKCError
		if errors.As(err, &nie) {
			nie.Addr = l.where
		}
		if errors.Is(err, ErrHandshake) {
			return err
		}
		return ioErr(dctx, "handshake with "+l.where, err)
	}
	conn.SetDeadline(time.Time{})
	l.conn, l.br = conn, br
	l.fr = freezer.NewReader(br, l.opts.MaxFrame)
	// alive peeks at the socket: under TLS too, a record waiting means
	// open, end of file closed.
	if sc, ok := raw.(syscall.Conn); ok {
		l.rc, _ = sc.SyscallConn()
	}
	l.fz = freezer.WithLimits(res.Freezer, l.opts.Limits)
	l.dec.Options.Limits = l.opts.Limits
	l.queue = nil
	if res.IKC0 {
		l.remote = res.RemoteID
	}
	l.pingTo = "poe://" + res.RemoteID + "/IKC/ping"
	return nil
}

// handshake runs the negotiation on conn. ClientLite announces only its
// name (no kernel ID) and offers one serializer.
func (l *Client) handshake(conn net.Conn) (*protocol.Result, *bufio.Reader, error) {
	cn, err := protocol.NewClientNegotiator(protocol.Config{
		Names:    []string{l.opts.Name},
		Freezers: []string{l.opts.Serializer},
		PID:      processID,
		Dialect:  l.dialect,
		Timeout:  -1, // the connection deadline bounds it
	})
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(conn)
	send := cn.Start(time.Now())
	for {
		for _, s := range send {
			if _, err := io.WriteString(conn, s+protocol.LineTerminator); err != nil {
				return nil, nil, err
			}
		}
		line, err := readLine(br, protocol.DefaultMaxLine)
		if err != nil {
			return nil, nil, err
		}
		var res *protocol.Result
		send, res, err = cn.Feed(line)
		if err != nil {
			var nie *protocol.NotIKCError
			if errors.As(err, &nie) {
				return nil, nil, err
			}
			return nil, nil, protocol.Wrap(ErrHandshake, err)
		}
		if res == nil {
			continue
		}
		for _, s := range send {
			if _, err := io.WriteString(conn, s+protocol.LineTerminator); err != nil {
				return nil, nil, err
			}
		}
		switch {
		case res.FreezerDefaulted:
			return nil, nil, fmt.Errorf("%w: %s refused %s", ErrHandshake, l.where, l.opts.Serializer)
		case res.FreezerName != l.opts.Serializer:
			return nil, nil, fmt.Errorf("%w: Refused %s, wants %s", ErrHandshake, l.opts.Serializer, res.FreezerName)
		}
		return res, br, nil
	}
}

// readLine reads one negotiation line ending in \r\n, \n\r, \n or \r
// (spec 3); empty lines are skipped.
func readLine(br *bufio.Reader, max int) (string, error) {
	var b []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			return "", err
		}
		if c != '\r' && c != '\n' {
			if len(b) >= max {
				return "", protocol.Wrap(ErrHandshake, protocol.ErrLineTooLong)
			}
			b = append(b, c)
			continue
		}
		if br.Buffered() > 0 {
			if n, _ := br.Peek(1); len(n) == 1 && (n[0] == '\r' || n[0] == '\n') && n[0] != c {
				br.ReadByte()
			}
		}
		if len(b) > 0 {
			return string(b), nil
		}
	}
}

// alive reports whether the connection still looks open, without
// blocking: pending data or a read that would block mean yes; EOF or an
// error mean the server closed it.
func (l *Client) alive() bool {
	if l.conn == nil {
		return false
	}
	if l.br.Buffered() > 0 {
		return true
	}
	if l.rc == nil {
		return true
	}
	open := true
	var buf [1]byte
	err := l.rc.Read(func(fd uintptr) bool {
		n, _, err := unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
		case err != nil || n == 0:
			open = false
		}
		return true // never wait
	})
	return err == nil && open
}
