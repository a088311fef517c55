package clientlite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// expansion is a specifier as given and the target it expands to.
type expansion struct {
	spec, remote string
	to           protocol.Address
	errKey       string // "session/state" of to
}

// target expands a specifier the way ClientLite does: without "poe:" it
// becomes poe://<remote kernel>/<spec>. It must name a session and a state.
func (l *Client) expand(spec string) (protocol.Address, error) {
	l.mu.Lock()
	remote := l.remote
	l.mu.Unlock()
	if e := l.target.Load(); e != nil && e.spec == spec && e.remote == remote && spec != "" {
		return e.to, nil
	}
	full := spec
	if !strings.HasPrefix(spec, "poe:") {
		full = "poe://" + remote + "/" + spec
	}
	a, err := protocol.StringAddress(full)
	if err != nil {
		return protocol.Address{}, err
	}
	if a.Session == "" || a.State == "" {
		return protocol.Address{}, fmt.Errorf("%w: %s", protocol.ErrNoState, full)
	}
	l.target.Store(&expansion{spec: spec, remote: remote, to: a, errKey: a.Session + "/" + a.State})
	return a, nil
}

// request builds a message for target and args: no argument sends undef
// params, one argument is the target's ARG0, several are delivered as
// ARG0..ARGn through IKC:proxy.
func (l *Client) request(r *request, spec string, args []any) (*protocol.Message, error) {
	to, err := l.expand(spec)
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
	r.msg = protocol.Message{Event: to, Params: params, From: &l.from}
	return &r.msg, nil
}

// reply is what a waiter gets: the answer's params, or why none came.
type reply struct {
	v   any
	err error
}

// waiter is a request waiting for the message to key ("session/state").
type waiter struct {
	key    string
	errKey string  // "session/state" of the request, matched by error reports
	seq    uint64  // registration order
	c      *conn   // the connection the answer must come on
	next   *waiter // the next (newer) waiter for key, under Client.mu
	// ch (capacity 1) is signalled when the fields below change.
	ch chan struct{}
	// Under Client.mu:
	done   bool  // rep is set and w is no longer registered
	rep    reply // the answer, or why none came
	lead   bool  // the read token was passed to it
	parked bool  // it waits on ch
}

// wake signals w that its state changed; a signal already pending
// suffices.
func (w *waiter) wake() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// finishLocked ends w's wait with rep; w is no longer registered.
func (w *waiter) finishLocked(rep reply) {
	w.done, w.rep = true, rep
	w.wake()
}

// request is the per-request scratch, pooled: the message, the waiter,
// its timer and the encoding buffers.
type request struct {
	msg      protocol.Message
	rsvp     protocol.Address
	rsvpHash storable.Hash  // rsvp's wire value
	params   storable.Array // PostRespond's [data, rsvp]
	w        waiter
	timer    *time.Timer
	encHash  storable.Hash
	buf      []byte
}

var requests = sync.Pool{New: func() any { return &request{w: waiter{ch: make(chan struct{}, 1)}} }}

func getRequest() *request { return requests.Get().(*request) }

func putRequest(r *request) {
	select {
	case <-r.w.ch: // a signal nobody waited for
	default:
	}
	if cap(r.buf) > 64<<10 {
		r.buf = nil
	}
	r.w = waiter{ch: r.w.ch}
	r.msg, r.rsvp = protocol.Message{}, protocol.Address{}
	clear(r.rsvpHash.Entries)
	clear(r.params.Elems)
	requests.Put(r)
}

// expect gives r a fresh rsvp state response<N> and returns the rsvp
// {kernel: name, session: IKCLite, state: response<N>}; to is the target,
// for error reports.
func (l *Client) expect(r *request, to protocol.Specifier) protocol.Address {
	l.mu.Lock()
	n := l.seq
	l.seq++
	l.mu.Unlock()
	var b [48]byte
	r.w.key = string(strconv.AppendUint(append(b[:0], liteSession+"/response"...), n, 10))
	state := r.w.key[len(liteSession)+1:]
	if e := l.target.Load(); e != nil && e.to.Session == to.Session && e.to.State == to.State {
		r.w.errKey = e.errKey
	} else {
		r.w.errKey = to.Session + "/" + to.State
	}
	if to.State == protocol.ProxyState {
		r.w.errKey = "" // filled by roundTrip from the params
	}
	// The rsvp's hash is built in r, from the entries for this client's
	// kernel and session made once (the wire value NewAddress would make).
	r.rsvpHash.Entries = append(r.rsvpHash.Entries[:0], l.rsvpBase[0], l.rsvpBase[1],
		storable.Entry{Key: "state", Value: storable.Bytes(state)})
	a, err := protocol.AddressFromValue(&r.rsvpHash)
	if err != nil {
		// Not for a valid name; keep the plain way.
		return protocol.NewAddress(protocol.Specifier{Kernel: l.opts.Name, Session: liteSession, State: state})
	}
	return a
}

// registerLocked enters w as waiting on c.
func (l *Client) registerLocked(c *conn, w *waiter) {
	w.c = c
	w.seq = l.nwait
	l.nwait++
	w.next = nil
	p := l.waiters[w.key]
	if p == nil {
		l.waiters[w.key] = w
		return
	}
	for p.next != nil {
		p = p.next
	}
	p.next = w
}

// removeLocked takes w out of the waiters.
func (l *Client) removeLocked(w *waiter) {
	head := l.waiters[w.key]
	if head == w {
		if w.next == nil {
			delete(l.waiters, w.key)
		} else {
			l.waiters[w.key] = w.next
		}
		w.next = nil
		return
	}
	for p := head; p != nil; p = p.next {
		if p.next == w {
			p.next, w.next = w.next, nil
			return
		}
	}
}

// unregister takes w out of the waiters, passing on the read token if it
// was handed to w. If w was answered meanwhile, it returns the answer.
// w is then idle (as after getRequest, but for its key).
func (l *Client) unregister(w *waiter, reading bool) (reply, bool) {
	l.mu.Lock()
	rep, done := w.rep, w.done
	if !done && w.c != nil {
		l.removeLocked(w)
	}
	if (reading || w.lead) && w.c != nil {
		l.handoffLocked(w.c)
	}
	w.done, w.rep, w.lead, w.parked = false, reply{}, false, false
	l.mu.Unlock()
	select {
	case <-w.ch:
	default:
	}
	return rep, done
}

// handoffLocked passes c's read token on, from a call whose wait has
// ended: to the newest call waiting on c (its answer is the furthest
// away, so it reads longest), preferring one already parked; with none,
// the token is free and the next call to wait takes it.
func (l *Client) handoffLocked(c *conn) {
	var next *waiter
	if !c.dead {
		for _, w := range l.waiters {
			for ; w != nil; w = w.next {
				if w.c == c && (next == nil || w.parked && !next.parked || w.parked == next.parked && w.seq > next.seq) {
					next = w
				}
			}
		}
	}
	if next == nil {
		c.reading = false
		return
	}
	next.lead = true
	next.wake()
}

// send writes m, connecting first when needed. A write that finds the
// connection closed reconnects once and writes again (Perl's _try_send).
// With r.w.key set, the waiter is registered on the connection before the
// frame goes out.
func (l *Client) send(ctx context.Context, r *request, m *protocol.Message) error {
	frame, err := l.frame(r, m)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		c, err := l.connection(ctx)
		if err != nil {
			return err
		}
		if !l.probe(c) {
			// The server closed the idle connection: reconnect first.
			l.lost(c, io.EOF)
			if attempt > 0 {
				return fmt.Errorf("%w (sending to %s)", ErrConnClosed, l.where)
			}
			continue
		}
		if r.w.key != "" {
			l.mu.Lock()
			if c.dead {
				l.mu.Unlock()
				if attempt > 0 {
					return fmt.Errorf("%w (sending to %s)", ErrConnClosed, l.where)
				}
				continue
			}
			l.registerLocked(c, &r.w)
			l.mu.Unlock()
		}
		err = l.write(ctx, c, frame)
		if err == nil {
			return nil
		}
		if r.w.key != "" {
			l.unregister(&r.w, false)
			r.w.c = nil
		}
		if errors.Is(err, errNotWritten) {
			return ioErr(ctx, "sending to "+l.where, ctx.Err())
		}
		l.lost(c, err)
		if attempt > 0 || ctx.Err() != nil {
			return ioErr(ctx, "sending to "+l.where, err)
		}
	}
}

// probe reports whether c looks open. With no call reading c, nobody
// would have seen the server close it: c is peeked without blocking,
// holding the read token meanwhile. While a call reads, that reader
// notices the end itself.
func (l *Client) probe(c *conn) bool {
	l.mu.Lock()
	if c.reading || c.dead {
		l.mu.Unlock()
		return true // the reader, or the write, sees the end
	}
	c.reading = true
	l.mu.Unlock()
	open := c.br.Buffered() > 0 || c.raw == nil || c.peek.open(c.raw)
	l.mu.Lock()
	l.handoffLocked(c)
	l.mu.Unlock()
	return open
}

// errNotWritten: the context ended before the frame was written.
var errNotWritten = errors.New("ikc: not written")

// batch is frames of several requests written together: while one write
// is under way, the requests that come meanwhile append their frames to
// the open batch, and its first writer writes it next. Under load that
// turns many small writes into a few large ones (group commit); a lone
// caller writes its own frame at once. A writer that finds the socket
// free while other calls are in flight yields once before writing: the
// callers an answer has just woken run first and join its batch (without
// it, on few CPUs, each woken caller wrote alone: one write per call).
type batch struct {
	c    *conn
	buf  []byte
	done chan struct{} // closed once written; err is set by then
	err  error
}

// write writes one frame on c, alone or in a batch. A request whose
// context has ended does not write. A write once begun is not interrupted
// by the context (half a frame would break the connection for every call
// on it), only bounded by Options.Timeout.
func (l *Client) write(ctx context.Context, c *conn, frame []byte) error {
	if ctx.Err() != nil {
		return errNotWritten
	}
	l.wmu.Lock()
	for {
		if !l.busy {
			l.busy = true
			if l.inflight.Load() <= 1 {
				// Alone: write at once.
				l.wmu.Unlock()
				err := l.rawWrite(c, frame)
				l.writeEnded()
				return err
			}
			// Other calls are in flight: the ones already runnable
			// (woken by answers just read) join this write if we let
			// them run first, so one write goes out for all of them.
			b := &batch{c: c, buf: append(l.spare, frame...), done: make(chan struct{})}
			l.spare = nil
			l.open = b
			l.wmu.Unlock()
			runtime.Gosched()
			l.wmu.Lock()
			l.open = nil
			l.wmu.Unlock()
			return l.writeBatch(b)
		}
		if b := l.open; b != nil {
			if b.c == c {
				b.buf = append(b.buf, frame...)
				l.wmu.Unlock()
				<-b.done
				return b.err
			}
			// A batch for an older connection: let it fail first.
			l.wmu.Unlock()
			<-b.done
			l.wmu.Lock()
			continue
		}
		// Open a batch and write it once the write under way is done.
		b := &batch{c: c, buf: append(l.spare, frame...), done: make(chan struct{})}
		l.spare = nil
		l.open = b
		for l.busy {
			if l.idle == nil {
				l.idle = make(chan struct{})
			}
			idle := l.idle
			l.wmu.Unlock()
			<-idle
			l.wmu.Lock()
		}
		l.open, l.busy = nil, true
		l.wmu.Unlock()
		return l.writeBatch(b)
	}
}

// writeBatch writes b (the caller owns the write) and lets the next
// writer go.
func (l *Client) writeBatch(b *batch) error {
	b.err = l.rawWrite(b.c, b.buf)
	l.wmu.Lock()
	if l.spare == nil && cap(b.buf) <= 64<<10 {
		l.spare = b.buf[:0]
	}
	l.wmu.Unlock()
	l.writeEnded()
	close(b.done)
	return b.err
}

// writeEnded lets the next writer go.
func (l *Client) writeEnded() {
	l.wmu.Lock()
	l.busy = false
	if l.idle != nil {
		close(l.idle)
		l.idle = nil
	}
	l.wmu.Unlock()
}

// rawWrite writes frames on c, unless c has ended.
func (l *Client) rawWrite(c *conn, frames []byte) error {
	l.mu.Lock()
	dead := c.dead
	l.mu.Unlock()
	if dead {
		return fmt.Errorf("%w (sending to %s)", ErrConnClosed, l.where)
	}
	c.nc.SetWriteDeadline(time.Now().Add(l.opts.Timeout))
	if c.stall == nil {
		c.stall = time.AfterFunc(stallAfter, func() { l.drain(c) })
	} else {
		c.stall.Reset(stallAfter)
	}
	c.writing.Store(true)
	_, err := c.nc.Write(frames)
	c.writing.Store(false)
	c.stall.Stop()
	return err
}

// stallAfter is how long a write may block before the connection is read
// without a waiting call (see drain).
const stallAfter = 10 * time.Millisecond

// drainSlice is how often drain looks whether the write has ended.
const drainSlice = 5 * time.Millisecond

// drain reads c while a write on it blocks and no call reads it: frames
// nobody waits for (late answers, posts to IKCLite) could otherwise fill
// both directions, the server stop reading until it can write, and the
// write wait for its timeout. It hands the read token on when the write
// has ended.
func (l *Client) drain(c *conn) {
	l.mu.Lock()
	if c.dead || c.reading || !c.writing.Load() {
		l.mu.Unlock()
		return
	}
	c.reading, c.leadDone = true, nil
	l.mu.Unlock()
	for {
		c.nc.SetReadDeadline(time.Now().Add(drainSlice))
		payload, err := c.fr.ReadFrame()
		if err == nil {
			var m *protocol.Message
			if m, err = l.decode(c, payload); m != nil {
				l.deliver(c, m, err, nil)
			} else {
				err = protocol.Wrap(ErrBadFrame, err)
			}
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			err = nil
		} else if errors.Is(err, freezer.ErrBadHeader) || errors.Is(err, freezer.ErrFrameTooLarge) {
			err = protocol.Wrap(ErrBadFrame, err)
		}
		if err != nil {
			l.readFailed(c, nil, err)
			return
		}
		l.mu.Lock()
		if c.dead || !c.writing.Load() {
			l.handoffLocked(c)
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
	}
}

// decode thaws a frame's payload; a nil message means the frame is
// unusable.
func (l *Client) decode(c *conn, payload []byte) (*protocol.Message, error) {
	if !l.store {
		return protocol.ThawMessage(l.fz, payload)
	}
	v, err := c.dec.Decode(payload)
	if err != nil {
		return nil, err
	}
	return c.md.Decode(v)
}

// frame encodes m into r's buffer.
func (l *Client) frame(r *request, m *protocol.Message) ([]byte, error) {
	if l.store {
		// Encoded in place, after room for the header.
		r.encHash.Entries = m.AppendEntries(r.encHash.Entries[:0])
		img, err := storable.AppendEncode(freezer.BeginFrame(r.buf[:0]), &r.encHash)
		clear(r.encHash.Entries)
		if err != nil {
			return nil, err
		}
		r.buf = img
		return freezer.EndFrame(img, 0), nil
	}
	payload, err := protocol.FreezeMessage(l.fz, m)
	if err != nil {
		return nil, err
	}
	r.buf = freezer.AppendFrame(r.buf[:0], payload)
	return r.buf, nil
}

// roundTrip sends m and waits for the answer r expects.
func (l *Client) roundTrip(ctx context.Context, r *request, m *protocol.Message) (any, error) {
	if r.w.errKey == "" && m.Event.State == protocol.ProxyState {
		if a, ok := m.Params.(*storable.Array); ok && len(a.Elems) > 0 {
			st, _ := storable.Text(a.Elems[0])
			r.w.errKey = m.Event.Session + "/" + st
		}
	}
	l.inflight.Add(1)
	defer l.inflight.Add(-1)
	if err := l.send(ctx, r, m); err != nil {
		return nil, err
	}
	return l.await(ctx, r)
}

// await waits for r's answer, its context or Options.Timeout. There is
// no reader goroutine: a call that waits takes c's read token if nobody
// holds it and reads the connection itself (lead), handing every other
// call its answer, until its own comes; then it passes the token on. A
// lone caller thus writes, reads and returns on its own goroutine. The
// other calls park until their answer or the token is handed to them.
func (l *Client) await(ctx context.Context, r *request) (any, error) {
	w := &r.w
	c := w.c
	dl := l.deadline(ctx)
	l.mu.Lock()
	for {
		if w.done {
			l.mu.Unlock()
			return w.rep.v, w.rep.err
		}
		if w.lead || !c.reading {
			w.lead, w.parked, c.reading = false, false, true
			l.watchLocked(c, ctx)
			l.mu.Unlock()
			return l.lead(ctx, r, dl)
		}
		w.parked = true
		l.mu.Unlock()
		if r.timer == nil {
			r.timer = time.NewTimer(time.Until(dl))
		} else {
			r.timer.Reset(time.Until(dl))
		}
		select {
		case <-w.ch:
			r.timer.Stop()
		case <-ctx.Done():
			r.timer.Stop()
			return l.giveUp(ctx, w, false)
		case <-r.timer.C:
			return l.giveUp(ctx, w, false)
		}
		l.mu.Lock()
		w.parked = false
	}
}

// giveUp ends w's wait at its deadline or context's end, unless its
// answer came meanwhile; reading says w holds the read token, which is
// passed on.
func (l *Client) giveUp(ctx context.Context, w *waiter, reading bool) (any, error) {
	key := w.key
	if rep, ok := l.unregister(w, reading); ok {
		return rep.v, rep.err
	}
	what := "waiting for response poe://" + l.opts.Name + "/" + key
	cerr := ctx.Err()
	if d, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(d) {
		// The read deadline was the context's, a moment before it ends.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil {
		return nil, fmt.Errorf("%w (%s): %w", ErrNoResponse, what, cerr)
	}
	return nil, fmt.Errorf("%w (%s)", ErrNoResponse, what)
}

// aLongTimeAgo is a read deadline that interrupts a blocked read now.
var aLongTimeAgo = time.Unix(1, 0)

// watchLocked makes the end of ctx, the context of c's new reader,
// interrupt c's read. The watch stays armed for the next readers with
// the same Done channel (a caller's calls usually share one), so a lone
// caller arms it once, not per call; it ends with c or when a reader
// with another context comes.
func (l *Client) watchLocked(c *conn, ctx context.Context) {
	done := ctx.Done()
	c.leadDone = done
	if done == nil || done == c.watchDone {
		return
	}
	if c.watchStop != nil {
		c.watchStop()
	}
	c.watchDone = done
	c.watchStop = context.AfterFunc(ctx, func() {
		l.mu.Lock()
		if c.reading && c.leadDone == done {
			c.nc.SetReadDeadline(aLongTimeAgo)
		}
		l.mu.Unlock()
	})
}

// lead reads c, holding its read token, until r's answer comes or r's
// wait ends. A deadline (dl, or at once when ctx ends: see watchLocked)
// interrupts the read without losing a frame partly read (freezer.Reader
// resumes), and the token goes to another waiting call, which reads on.
func (l *Client) lead(ctx context.Context, r *request, dl time.Time) (any, error) {
	w := &r.w
	c := w.c
	for arm := true; ; {
		if arm {
			c.nc.SetReadDeadline(dl)
			// Checked after setting the deadline: an interrupt that came
			// before it was overwritten, but its context has ended.
			if ctx.Err() != nil {
				return l.giveUp(ctx, w, true)
			}
			arm = false
		}
		payload, err := c.fr.ReadFrame()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if ctx.Err() != nil || !time.Now().Before(dl) {
					return l.giveUp(ctx, w, true)
				}
				// An earlier reader's context ended late: not ours.
				arm = true
				continue
			}
			if errors.Is(err, freezer.ErrBadHeader) || errors.Is(err, freezer.ErrFrameTooLarge) {
				err = protocol.Wrap(ErrBadFrame, err)
			}
			return l.readFailed(c, w, err)
		}
		m, err := l.decode(c, payload)
		if m == nil {
			return l.readFailed(c, w, protocol.Wrap(ErrBadFrame, err))
		}
		if rep, ok := l.deliver(c, m, err, w); ok {
			return rep.v, rep.err
		}
	}
}

// readFailed ends c after a read error of its reader w (nil for drain):
// every call on it fails, w's call too.
func (l *Client) readFailed(c *conn, w *waiter, err error) (any, error) {
	l.mu.Lock()
	first := !c.dead
	l.lostLocked(c, err)
	c.reading = false
	var rep reply
	if w != nil {
		rep = w.rep // w waited on c: lostLocked ended it
	}
	l.mu.Unlock()
	if first {
		c.nc.Close()
	}
	return rep.v, rep.err
}

// answered is an answer nobody waited for, kept for Responded.
type answered struct {
	key string
	v   any
}

// deliver hands a message from c to the call waiting for it; self is the
// reader's own call. An error report goes to the oldest call to the
// target it names; answers for IKCLite or IKC states nobody waits for
// are queued for Responded, except late answers to calls that gave up.
// Once self is answered, deliver passes the read token on and returns
// self's answer and true.
func (l *Client) deliver(c *conn, m *protocol.Message, decodeErr error, self *waiter) (reply, bool) {
	if m.IsError {
		err := remoteError(m.Params)
		l.mu.Lock()
		l.deliverErrorLocked(c, err)
		return l.settleLocked(c, self)
	}
	if decodeErr != nil {
		l.log("ikc: lite: skipped a malformed message", "err", decodeErr)
		return reply{}, false
	}
	to := m.Event.Specifier
	if to.Session != liteSession && to.Session != protocol.ResponderAlias {
		l.log("ikc: lite: message for an unknown session skipped", "event", to.String())
		return reply{}, false
	}
	v := protocol.FromValue(m.Params)
	var b [64]byte
	kb := append(append(append(b[:0], to.Session...), '/'), to.State...)
	l.mu.Lock()
	for w := l.waiters[string(kb)]; w != nil; w = w.next {
		if w.c == c {
			l.removeLocked(w)
			w.finishLocked(reply{v: v})
			return l.settleLocked(c, self)
		}
	}
	defer l.mu.Unlock()
	key := string(kb)
	if to.Session == liteSession && l.abandoned(to.State) {
		l.log("ikc: lite: late answer dropped", "event", to.String())
		return reply{}, false
	}
	l.log("ikc: lite: kept an answer for later", "event", to.String())
	if len(l.queue) >= queueMax {
		l.queue = l.queue[1:]
	}
	l.queue = append(l.queue, answered{key: key, v: v})
	return reply{}, false
}

// settleLocked ends deliver (and unlocks mu): if the reader's own call is
// answered, the read token is passed on.
func (l *Client) settleLocked(c *conn, self *waiter) (reply, bool) {
	defer l.mu.Unlock()
	if self == nil || !self.done {
		return reply{}, false
	}
	l.handoffLocked(c)
	return self.rep, true
}

// abandoned reports whether state is the response<N> of a request made
// here that no longer waits.
func (l *Client) abandoned(state string) bool {
	n, ok := strings.CutPrefix(state, "response")
	if !ok {
		return false
	}
	i, err := strconv.ParseUint(n, 10, 64)
	return err == nil && i < l.seq && strconv.FormatUint(i, 10) == n
}

// deliverErrorLocked hands an error report to the oldest call on c to the
// target the report names (a report does not say which request failed;
// calls to the same target fail alike). A report naming no target goes
// to the oldest call, as Perl ends its one wait; one for a target no call
// waits for (a Post's) is only logged.
func (l *Client) deliverErrorLocked(c *conn, err error) {
	target := reportedTarget(err.(*RemoteError).Text)
	var best *waiter
	for _, w := range l.waiters {
		for ; w != nil; w = w.next {
			if w.c != c || w.errKey == "" || target != "" && w.errKey != target {
				continue
			}
			if best == nil || w.seq < best.seq {
				best = w
			}
		}
	}
	if best == nil {
		l.log("ikc: lite: error report for no waiting call", "err", err)
		return
	}
	l.removeLocked(best)
	best.finishLocked(reply{err: err})
}

// reportedTarget finds "session/state" of the request an error report's
// text names: "...  Request poe://k/s/t[ sent by ...]" (0.2402) or "...
// [poe://k/s/t][ sent by [...]]" (0.1904). "" when there is none.
func reportedTarget(text string) string {
	var spec string
	if i := strings.LastIndex(text, ".  Request poe:"); i >= 0 {
		spec = text[i+len(".  Request "):]
		if j := strings.Index(spec, " sent by "); j >= 0 {
			spec = spec[:j]
		}
	} else if i := strings.Index(text, " [poe:"); i >= 0 {
		spec = text[i+2:]
		j := strings.IndexByte(spec, ']')
		if j < 0 {
			return ""
		}
		spec = spec[:j]
	} else {
		return ""
	}
	s, err := protocol.ParseSpecifier(spec)
	if err != nil || s.Session == "" {
		return ""
	}
	return s.Session + "/" + s.State
}

func (l *Client) log(msg string, args ...any) {
	if l.opts.Logger != nil {
		l.opts.Logger.Debug(msg, args...)
	}
}
