package clientlite

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// target expands a specifier the way ClientLite does: without "poe:" it
// becomes poe://<remote kernel>/<spec>. It must name a session and a state.
func (l *Client) target(spec string) (protocol.Address, error) {
	if spec == l.lastSpec && spec != "" {
		return l.lastTo, nil
	}
	orig := spec
	if !strings.HasPrefix(spec, "poe:") {
		spec = "poe://" + l.remote + "/" + spec
	}
	a, err := protocol.StringAddress(spec)
	if err != nil {
		return protocol.Address{}, err
	}
	if a.Session == "" || a.State == "" {
		return protocol.Address{}, fmt.Errorf("%w: %s", protocol.ErrNoState, spec)
	}
	l.lastSpec, l.lastTo = orig, a
	return a, nil
}

// request builds a message for target and args: no argument sends undef
// params, one argument is the target's ARG0, several are delivered as
// ARG0..ARGn through IKC:proxy.
func (l *Client) request(spec string, args []any) (*protocol.Message, error) {
	to, err := l.target(spec)
	if err != nil {
		return nil, err
	}
	var params storable.Value = storable.Undef{}
	switch len(args) {
	case 0:
	case 1:
		if params, err = protocol.ToValue(args[0]); err != nil {
			return nil, err
		}
	default:
		if to, params, err = protocol.RequestParams(to, args); err != nil {
			return nil, err
		}
	}
	if l.from == nil {
		a := protocol.PrebuiltAddress(protocol.Specifier{Kernel: l.opts.Name, Session: liteSession})
		l.from = &a
	}
	return &protocol.Message{Event: to, Params: params, From: l.from}, nil
}

// nextRSVP returns the next {kernel: name, session: IKCLite, state:
// response<N>}.
func (l *Client) nextRSVP() protocol.Address {
	a := protocol.NewAddress(protocol.Specifier{Kernel: l.opts.Name, Session: liteSession, State: "response" + strconv.Itoa(l.seq)})
	l.seq++
	return a
}

// send writes m, connecting first when needed; a write that finds the
// connection closed reconnects once and writes again (Perl's _try_send).
func (l *Client) send(ctx context.Context, m *protocol.Message) error {
	for attempt := 0; ; attempt++ {
		if l.conn == nil || !l.alive() {
			l.drop()
			if err := l.connect(ctx); err != nil {
				return err
			}
		}
		if err := l.frame(m); err != nil {
			return err
		}
		l.conn.SetWriteDeadline(l.deadline(ctx))
		stop := watch(ctx, l.conn)
		_, err := l.conn.Write(l.frameBuf)
		stop()
		if err == nil {
			l.conn.SetWriteDeadline(time.Time{})
			return nil
		}
		l.drop()
		if attempt > 0 || ctx.Err() != nil {
			return ioErr(ctx, "sending to "+l.where, err)
		}
	}
}

// frame puts m's frame in l.frameBuf.
func (l *Client) frame(m *protocol.Message) error {
	if _, ok := l.fz.(freezer.Storable); ok {
		// Encoded in place, after room for the header.
		l.encHash.Entries = m.AppendEntries(l.encHash.Entries[:0])
		img, err := storable.AppendEncode(freezer.BeginFrame(l.encBuf[:0]), &l.encHash)
		clear(l.encHash.Entries)
		if err != nil {
			return err
		}
		l.encBuf, l.frameBuf = img, freezer.EndFrame(img, 0)
		return nil
	}
	payload, err := protocol.FreezeMessage(l.fz, m)
	if err != nil {
		return err
	}
	l.frameBuf = freezer.AppendFrame(l.frameBuf[:0], payload)
	return nil
}

// thaw decodes an answer. A Storable one goes into l.msg and l.dec, valid
// until the next thaw; keep is true when it must outlive that (queued):
// then it is thawed into memory of its own.
func (l *Client) thaw(payload []byte, keep bool) (*protocol.Message, error) {
	if _, ok := l.fz.(freezer.Storable); ok && !keep {
		v, err := l.dec.Decode(payload)
		if err != nil {
			return nil, err
		}
		return l.msg.Decode(v)
	}
	return protocol.ThawMessage(l.fz, payload)
}

// wait reads messages until one addressed to session/state arrives and
// returns its params. An error report aborts the wait (as in Perl);
// answers for other IKCLite or IKC states are queued for Responded.
func (l *Client) wait(ctx context.Context, session, state string) (storable.Value, error) {
	for i, m := range l.queue {
		if m.Event.Session == session && m.Event.State == state {
			l.queue = append(l.queue[:i:i], l.queue[i+1:]...)
			return m.Params, nil
		}
	}
	if l.conn == nil {
		return nil, fmt.Errorf("%w (waiting for %s/%s)", ErrConnClosed, session, state)
	}
	what := func() string { return "waiting for response poe://" + l.opts.Name + "/" + session + "/" + state }
	conn := l.conn
	conn.SetReadDeadline(l.deadline(ctx))
	defer conn.SetReadDeadline(time.Time{})
	stop := watch(ctx, conn)
	defer stop()
	for {
		payload, err := l.fr.ReadFrame()
		if err != nil {
			// Closed, timed out (perhaps in the middle of a frame: the
			// stream cannot be trusted any more) or malformed: the
			// connection is dropped; the next request reconnects.
			l.drop()
			if errors.Is(err, freezer.ErrBadHeader) || errors.Is(err, freezer.ErrFrameTooLarge) {
				return nil, protocol.Wrap(ErrBadFrame, err)
			}
			return nil, ioErr(ctx, what(), err)
		}
		m, err := l.thaw(payload, false)
		if m == nil {
			l.drop()
			return nil, protocol.Wrap(ErrBadFrame, err)
		}
		if m.IsError {
			return nil, remoteError(m.Params)
		}
		if err != nil {
			l.log("ikc: lite: skipped a malformed message", "err", err)
			continue
		}
		to := m.Event.Specifier
		if to.Session == session && to.State == state {
			return m.Params, nil
		}
		if to.Session != liteSession && to.Session != protocol.ResponderAlias {
			l.log("ikc: lite: message for an unknown session skipped", "event", to.String())
			continue
		}
		l.log("ikc: lite: kept an answer for later", "event", to.String(), "expecting", session+"/"+state)
		if m, err = l.thaw(payload, true); m == nil {
			l.drop()
			return nil, protocol.Wrap(ErrBadFrame, err)
		}
		if len(l.queue) >= queueMax {
			l.queue = l.queue[1:]
		}
		l.queue = append(l.queue, m)
	}
}

func (l *Client) log(msg string, args ...any) {
	if l.opts.Logger != nil {
		l.opts.Logger.Debug(msg, args...)
	}
}
