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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// conn is one negotiated connection.
type conn struct {
	nc  net.Conn
	raw syscall.RawConn // nc's socket, for probe; nil if unknown
	// Used by the holder of the read token only (see await):
	br   *bufio.Reader
	fr   *freezer.Reader
	dec  storable.Decoder
	md   protocol.MessageDecoder
	peek peeker
	// The writer's (see rawWrite and drain):
	stall   *time.Timer // fires drain when a write blocks
	writing atomic.Bool
	// Under Client.mu:
	reading   bool            // a call holds the read token
	leadDone  <-chan struct{} // the reader's ctx.Done()
	watchDone <-chan struct{} // the context watched (see watchLocked)
	watchStop func() bool
	dead      bool
	err       error // why it ended (once dead)
}

// dialing is a (re)connection in progress; the goroutines that need the
// connection meanwhile wait for done.
type dialing struct {
	done chan struct{}
	err  error // the failure, unless it was the dialer's own context's
}

// deadline is the earlier of the context's deadline and now+Timeout.
func (l *Client) deadline(ctx context.Context) time.Time {
	d := time.Now().Add(l.opts.Timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	return d
}

// connection returns the live connection, connecting first when there is
// none. One goroutine dials; the others wait for it and share its result,
// or dial themselves if it gave up because its own context ended.
func (l *Client) connection(ctx context.Context) (*conn, error) {
	l.mu.Lock()
	for {
		if c := l.cur; c != nil {
			l.mu.Unlock()
			return c, nil
		}
		if d := l.dialing; d != nil {
			l.mu.Unlock()
			select {
			case <-d.done:
			case <-ctx.Done():
				return nil, ioErr(ctx, "connecting to "+l.where, ctx.Err())
			}
			if d.err != nil {
				return nil, d.err
			}
			l.mu.Lock()
			continue
		}
		d := &dialing{done: make(chan struct{})}
		l.dialing = d
		dialect := l.dialect
		l.mu.Unlock()
		c, res, err := l.dial(ctx, dialect)
		l.mu.Lock()
		l.dialing = nil
		if err != nil {
			if ctx.Err() == nil {
				d.err = err
			}
			close(d.done)
			l.mu.Unlock()
			return nil, err
		}
		l.cur, l.res = c, res
		if res.IKC0 {
			l.remote = res.RemoteID
		}
		l.pingTo, _ = protocol.StringAddress("poe://" + res.RemoteID + "/IKC/ping")
		close(d.done)
		l.mu.Unlock()
		return c, nil
	}
}

// dial connects and negotiates (ikc-protocol.md §4.6 and 5.3, ClientLite's version).
func (l *Client) dial(ctx context.Context, dialect protocol.Dialect) (*conn, *protocol.Result, error) {
	dl := l.deadline(ctx)
	dctx, cancel := context.WithDeadline(ctx, dl)
	defer cancel()
	d := net.Dialer{KeepAlive: -1}
	if l.opts.KeepAlive > 0 {
		d.KeepAlive = l.opts.KeepAlive
	}
	var nc net.Conn
	var err error
	if l.opts.Unix != "" {
		nc, err = d.DialContext(dctx, "unix", l.opts.Unix)
	} else {
		nc, err = d.DialContext(dctx, "tcp", net.JoinHostPort(l.opts.Host, strconv.Itoa(l.opts.Port)))
	}
	if err != nil {
		if ctx.Err() != nil || dctx.Err() != nil {
			return nil, nil, fmt.Errorf("%w (connecting to %s): %w", ErrNoResponse, l.where, err)
		}
		return nil, nil, fmt.Errorf("ikc: connecting to %s: %w", l.where, dialCause(err))
	}
	if l.opts.TLSConfig != nil {
		cfg := l.opts.TLSConfig
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			cfg = cfg.Clone()
			cfg.ServerName = l.opts.Host
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			nc.Close()
			if ctx.Err() != nil || dctx.Err() != nil {
				return nil, nil, fmt.Errorf("%w (TLS handshake with %s): %w", ErrNoResponse, l.where, err)
			}
			return nil, nil, fmt.Errorf("ikc: TLS handshake with %s: %w", l.where, err)
		}
		nc = tc
	}
	stop := context.AfterFunc(dctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	nc.SetDeadline(dl)
	res, br, err := l.handshake(nc, dialect, dl)
	if err != nil {
		nc.Close()
		var nie *protocol.NotIKCError
		if errors.As(err, &nie) {
			nie.Addr = l.where
		}
		if errors.Is(err, ErrHandshake) {
			return nil, nil, err
		}
		return nil, nil, ioErr(dctx, "handshake with "+l.where, err)
	}
	if !stop() {
		// The context ended just now: the deadline may be spoilt.
		nc.Close()
		return nil, nil, ioErr(dctx, "handshake with "+l.where, dctx.Err())
	}
	nc.SetDeadline(time.Time{})
	c := &conn{nc: nc, br: br, fr: freezer.NewReader(br, l.opts.MaxFrame)}
	c.dec.Options.Limits = l.opts.Limits
	sock := nc
	if tc, ok := nc.(*tls.Conn); ok {
		sock = tc.NetConn()
	}
	if sc, ok := sock.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	c.peek.init()
	return c, res, nil
}

// handshake runs the negotiation on nc. ClientLite announces only its
// name (no kernel ID) and offers one serializer. In IKC0, a server silent
// for SetupSilence gets HELLO (the negotiator's fall-back).
func (l *Client) handshake(nc net.Conn, dialect protocol.Dialect, dl time.Time) (*protocol.Result, *bufio.Reader, error) {
	silence := l.opts.SetupSilence
	if silence < 0 {
		silence = 0
	}
	cn, err := protocol.NewClientNegotiator(protocol.Config{
		Names:        []string{l.opts.Name},
		Freezers:     []string{l.opts.Serializer},
		PID:          processID,
		Dialect:      dialect,
		Timeout:      -1, // the connection deadline bounds it
		SetupSilence: silence,
	})
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(nc)
	lr := lineReader{br: br, max: protocol.DefaultMaxLine}
	write := func(lines []string) error {
		for _, s := range lines {
			if _, err := io.WriteString(nc, s+protocol.LineTerminator); err != nil {
				return err
			}
		}
		return nil
	}
	if err := write(cn.Start(time.Now())); err != nil {
		return nil, nil, err
	}
	for {
		// Until the server speaks, read no longer than the silence.
		silent := cn.Deadline()
		if !silent.IsZero() && silent.Before(dl) {
			nc.SetReadDeadline(silent)
		}
		line, err := lr.next()
		if !silent.IsZero() && silent.Before(dl) {
			nc.SetReadDeadline(dl)
		}
		var ne net.Error
		if err != nil && errors.As(err, &ne) && ne.Timeout() && !silent.IsZero() && time.Now().Before(dl) {
			if err := cn.Expire(time.Now()); err != nil {
				return nil, nil, err
			}
			if err := write(cn.Pending()); err != nil {
				return nil, nil, err
			}
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		send, res, err := cn.Feed(line)
		if err != nil {
			var nie *protocol.NotIKCError
			if errors.As(err, &nie) {
				return nil, nil, err
			}
			return nil, nil, protocol.Wrap(ErrHandshake, err)
		}
		if err := write(send); err != nil {
			return nil, nil, err
		}
		if res == nil {
			continue
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

// lineReader reads negotiation lines ending in \r\n, \n\r, \n or \r (spec
// 3), skipping empty ones. A read that times out keeps what it has read
// of the line for the next call.
type lineReader struct {
	br  *bufio.Reader
	max int
	b   []byte
}

func (r *lineReader) next() (string, error) {
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			return "", err
		}
		if c != '\r' && c != '\n' {
			if len(r.b) >= r.max {
				return "", protocol.Wrap(ErrHandshake, protocol.ErrLineTooLong)
			}
			r.b = append(r.b, c)
			continue
		}
		if r.br.Buffered() > 0 {
			if n, _ := r.br.Peek(1); len(n) == 1 && (n[0] == '\r' || n[0] == '\n') && n[0] != c {
				r.br.ReadByte()
			}
		}
		if len(r.b) > 0 {
			s := string(r.b)
			r.b = r.b[:0]
			return s, nil
		}
	}
}

// lost ends a connection: it is dropped and every call waiting on it
// fails with ErrConnClosed (or ErrBadFrame) naming the cause.
func (l *Client) lost(c *conn, cause error) {
	l.mu.Lock()
	first := !c.dead
	l.lostLocked(c, cause)
	l.mu.Unlock()
	if first {
		c.nc.Close()
	}
}

// lostLocked marks c dead and fails its waiters; the caller closes the
// socket.
func (l *Client) lostLocked(c *conn, cause error) {
	if c.dead {
		return
	}
	c.dead, c.err = true, cause
	if c.watchStop != nil {
		c.watchStop()
		c.watchStop, c.watchDone = nil, nil
	}
	if l.cur == c {
		l.cur = nil
	}
	for key, w := range l.waiters {
		for w != nil {
			next := w.next
			if w.c == c {
				l.removeLocked(w)
				w.finishLocked(reply{err: connErr(key, cause)})
			}
			w = next
		}
	}
}
