package wheel

import (
	"errors"
	"fmt"
	"io"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/driver"
	"github.com/poe-go/poe/wheel/filter"
	"golang.org/x/sys/unix"
)

// ReadWriteOptions are POE::Wheel::ReadWrite's parameters.
type ReadWriteOptions struct {
	// Handle is used in both directions; or InputHandle and OutputHandle
	// (both then). An fd (int) or anything with SyscallConn.
	Handle, InputHandle, OutputHandle any
	// NoClose keeps the handles open when the wheel closes. By default
	// the wheel owns them and closes them in Close.
	NoClose bool

	// Filter is used in both directions, or InputFilter / OutputFilter.
	// Default: a Line filter (one shared instance when none is given).
	Filter, InputFilter, OutputFilter filter.Filter
	// Driver defaults to SysRW.
	Driver driver.Driver

	// InputEvent(record, wheelID) per input record. Without it the wheel
	// does not read.
	InputEvent string
	// ErrorEvent(operation, errno int, errstr, wheelID); operation is
	// "read" or "write"; end of file is ("read", 0, "").
	ErrorEvent string
	// FlushedEvent(wheelID) whenever a flush empties the output buffer.
	FlushedEvent string
	// HighMark and LowMark are octet thresholds (both or neither, both >
	// 0, high > low); HighEvent(wheelID) and LowEvent(wheelID) follow POE's
	// state machine (see Put).
	HighMark, LowMark   int
	HighEvent, LowEvent string
	// AutoFlush makes a Put into an empty buffer write at once instead of
	// waiting for the next writability event.
	AutoFlush bool
	// HoldOnPause makes PauseInput also hold the records the input filter
	// already has (the rest of the read being delivered) until
	// ResumeInput. POE's pause_input stops only the read watcher, so by
	// default those records still arrive, as in POE; a server that pauses
	// a peer whose output piles up wants them held.
	HoldOnPause bool
}

// ReadWrite is POE::Wheel::ReadWrite: buffered, filtered I/O on a stream
// handle.
type ReadWrite struct {
	k     *poe.Kernel
	owner *poe.Session
	id    int
	idAny any

	in, out handle
	noClose bool

	inFilter, outFilter filter.Filter
	drv                 driver.Driver
	// Put's fast path: the output filter appends each record's chunk
	// straight into the driver's queue (both nil when either side cannot).
	outApp filter.PutAppender
	drvApp driver.Appender
	// The same for the default pair, a Line filter into SysRW, called
	// directly rather than through the interfaces.
	outLine *filter.Line
	drvSys  *driver.SysRW

	inputEvent, errorEvent, flushedEvent, highEvent, lowEvent string
	inCall                                                    *poe.BoundCall // InputEvent's, bound while its name stays

	highMark, lowMark int
	highState         bool
	autoFlush         bool
	// A flush is deferred to the end of the timeslice (poe.Kernel.Defer):
	// all the Puts of a batch leave in one write, and a socket that takes
	// it all never has its write watcher resumed.
	flushDeferred bool
	deferredFn    func() // w.deferredFlush, bound once
	flushFn       func() // w.flushAndArm, bound once

	stRead, stWrite string
	reading         bool // the read watcher is registered
	writing         bool // the write watcher is registered
	// PauseInput also stops the records the input filter already holds:
	// those of the read being delivered wait in held, the unparsed bytes
	// in the filter, until ResumeInput.
	paused    bool // PauseInput with HoldOnPause, until ResumeInput
	holdPause bool // HoldOnPause
	held      []any
	resumeFn  func() // w.resumeDrain, bound once
	outOctets int

	chunk    [1]any   // GetOneStart's argument, reused
	recs     []any    // Put's records, reused
	outBytes [][]byte // the output filter's chunks as bytes, reused

	closed bool
}

// NewReadWrite starts a wheel on the handle(s) given.
func NewReadWrite(k *poe.Kernel, o ReadWriteOptions) (*ReadWrite, error) {
	s, err := owner(k)
	if err != nil {
		return nil, err
	}
	var in, out handle
	switch {
	case o.Handle != nil:
		if in, err = toHandle(o.Handle); err != nil {
			return nil, err
		}
		out = in
	case o.InputHandle != nil && o.OutputHandle != nil:
		if in, err = toHandle(o.InputHandle); err != nil {
			return nil, err
		}
		if out, err = toHandle(o.OutputHandle); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("wheel: ReadWrite needs Handle, or InputHandle and OutputHandle")
	}
	if (o.HighMark > 0) != (o.LowMark > 0) || o.HighMark < 0 || o.LowMark < 0 {
		return nil, errors.New("wheel: ReadWrite: HighMark and LowMark go together and must be > 0")
	}
	if o.HighMark > 0 && o.HighMark <= o.LowMark {
		return nil, errors.New("wheel: ReadWrite: HighMark must be greater than LowMark")
	}
	if o.HighEvent != "" && o.HighMark == 0 {
		return nil, errors.New("wheel: ReadWrite: HighEvent needs HighMark")
	}
	if o.LowEvent != "" && o.LowMark == 0 {
		return nil, errors.New("wheel: ReadWrite: LowEvent needs LowMark")
	}
	if err := in.setNonblock(); err != nil {
		return nil, err
	}
	if out.fd != in.fd {
		if err := out.setNonblock(); err != nil {
			return nil, err
		}
	}
	w := &ReadWrite{
		k: k, owner: s, in: in, out: out, noClose: o.NoClose,
		inputEvent: o.InputEvent, errorEvent: o.ErrorEvent, flushedEvent: o.FlushedEvent,
		highEvent: o.HighEvent, lowEvent: o.LowEvent,
		highMark: o.HighMark, lowMark: o.LowMark, autoFlush: o.AutoFlush, holdPause: o.HoldOnPause,
		drv: o.Driver,
	}
	w.deferredFn, w.flushFn, w.resumeFn = w.deferredFlush, w.flushAndArm, w.resumeDrain
	switch {
	case o.Filter != nil:
		w.inFilter, w.outFilter = o.Filter, o.Filter
	case o.InputFilter == nil && o.OutputFilter == nil:
		f := newLineFilter()
		w.inFilter, w.outFilter = f, f
	default:
		w.inFilter, w.outFilter = o.InputFilter, o.OutputFilter
		if w.inFilter == nil {
			w.inFilter = newLineFilter()
		}
		if w.outFilter == nil {
			w.outFilter = newLineFilter()
		}
	}
	if w.drv == nil {
		w.drv = newDriver()
	}
	w.setOutFilter(w.outFilter)
	w.id = allocID()
	w.idAny = w.id
	w.stRead = stateName("ReadWrite", w.id, "select read")
	w.stWrite = stateName("ReadWrite", w.id, "select write")
	s.SetState(w.stRead, w.onRead, nil)
	s.SetState(w.stWrite, w.onWrite, nil)
	// Read first: on a socket, the write watch and its pause then change
	// nothing epoll has to hear of (the kernel applies changes lazily).
	if w.inputEvent != "" {
		if err := k.SelectRead(in.fd, w.stRead); err != nil {
			w.unregister()
			freeID(w.id)
			return nil, err
		}
		w.reading = true
	}
	if err := k.SelectWrite(out.fd, w.stWrite); err != nil {
		w.unregister()
		freeID(w.id)
		return nil, err
	}
	w.writing = true
	k.SelectPauseWrite(out.fd)
	s.AddCloser(w)
	return w, nil
}

func (w *ReadWrite) unregister() {
	k := w.k
	w.owner.Do(func() {
		if w.reading {
			k.SelectRead(w.in.fd, "")
			w.reading = false
		}
		if w.writing {
			k.SelectWrite(w.out.fd, "")
			w.writing = false
		}
		w.owner.SetState(w.stRead, nil, nil)
		w.owner.SetState(w.stWrite, nil, nil)
	})
}

// onRead is "... -> select read".
func (w *ReadWrite) onRead(e *poe.Event) any {
	if w.closed {
		return nil
	}
	data, err := w.drv.Get(w.in.fd)
	if err != nil {
		n, str := 0, ""
		if err != io.EOF {
			n, str = Errno(err)
		}
		if w.errorEvent != "" {
			w.k.Call(w.owner, w.errorEvent, "read", n, str, w.idAny)
		}
		if !w.closed && w.reading {
			w.owner.Do(func() { w.k.SelectRead(w.in.fd, "") })
			w.reading = false
		}
		return nil
	}
	if len(data) == 0 {
		return nil
	}
	w.feed(w.inFilter, data)
	return nil
}

// feed gives raw input to f and delivers its records while f stays the
// input filter (a handler may switch filters or close the wheel).
func (w *ReadWrite) feed(f filter.Filter, data []byte) {
	startBytes(f, &w.chunk, data, w.drv)
	w.drain(f)
}

func (w *ReadWrite) drain(f filter.Filter) {
	if !w.deliverHeld() {
		return
	}
	for !w.closed && w.inFilter == f && !w.paused {
		recs, err := f.GetOne()
		if err != nil {
			w.filterError(err)
			return
		}
		if len(recs) == 0 {
			return
		}
		for i, r := range recs {
			if w.closed || w.inputEvent == "" {
				break
			}
			if w.paused {
				w.held = append(w.held, recs[i:]...)
				return
			}
			w.input().Call(r, w.idAny)
		}
	}
}

// input is the bound call of InputEvent.
func (w *ReadWrite) input() *poe.BoundCall {
	if w.inCall == nil || w.inCall.Event() != w.inputEvent {
		w.inCall = w.k.BindCall(w.owner, w.inputEvent)
	}
	return w.inCall
}

// deliverHeld delivers the records a pause held back; false if input was
// paused again (or the wheel closed) before they were all delivered.
func (w *ReadWrite) deliverHeld() bool {
	for len(w.held) > 0 {
		if w.closed || w.inputEvent == "" {
			w.held = nil
			return false
		}
		if w.paused {
			return false
		}
		r := w.held[0]
		w.held[0] = nil
		w.held = w.held[1:]
		w.input().Call(r, w.idAny)
	}
	w.held = nil
	return !w.closed
}

// resumeDrain delivers what the input filter held during a pause (at the
// end of the timeslice ResumeInput ran in, not inside its caller).
func (w *ReadWrite) resumeDrain() {
	if w.closed || w.paused {
		return
	}
	w.owner.Do(func() { w.drain(w.inFilter) })
}

// filterError reports input a filter refuses (POE dies in the filter) as
// a read error with errno EINVAL, and stops reading.
func (w *ReadWrite) filterError(err error) {
	if w.errorEvent != "" {
		w.k.Call(w.owner, w.errorEvent, "read", int(unix.EINVAL), err.Error(), w.idAny)
	}
	if !w.closed && w.reading {
		w.owner.Do(func() { w.k.SelectRead(w.in.fd, "") })
		w.reading = false
	}
}

// onWrite is "... -> select write": POE's flush and watermark logic.
func (w *ReadWrite) onWrite(e *poe.Event) any {
	w.flush()
	return nil
}

func (w *ReadWrite) flush() {
	if w.closed || !w.writing {
		return
	}
	left, err := w.drv.Flush(w.out.fd)
	w.outOctets = left
	k := w.k
	if err != nil {
		n, str := Errno(err)
		if w.errorEvent != "" {
			k.Call(w.owner, w.errorEvent, "write", n, str, w.idAny)
		}
		if !w.closed && w.writing {
			w.owner.Do(func() { k.SelectWrite(w.out.fd, "") })
			w.writing = false
		}
		return
	}
	if w.highState {
		if left <= w.lowMark {
			w.highState = false
			if w.lowEvent != "" {
				k.Call(w.owner, w.lowEvent, w.idAny)
			}
		}
	} else if w.highMark > 0 && left >= w.highMark {
		w.highState = true
		if w.highEvent != "" {
			k.Call(w.owner, w.highEvent, w.idAny)
		}
	}
	if left == 0 && !w.closed && w.writing {
		k.SelectPauseWrite(w.out.fd)
		if w.flushedEvent != "" {
			k.Call(w.owner, w.flushedEvent, w.idAny)
		}
	}
}

// Put serialises records through the output filter and queues them. It
// returns true when HighMark is set and the buffered octets reached it
// (and records that as the high-water state, without a HighEvent: POE's
// quirk, C70). A filter that refuses a record panics, as POE dies.
func (w *ReadWrite) Put(records ...any) bool {
	if w.closed {
		panic(errors.New("wheel: Put on a closed ReadWrite"))
	}
	if w.outApp != nil {
		return w.putAppend(records)
	}
	w.recs = append(w.recs[:0], records...)
	chunks, err := w.outFilter.Put(w.recs)
	clear(w.recs)
	if err != nil {
		panic(fmt.Errorf("wheel: ReadWrite(%d) output filter: %w", w.id, err))
	}
	if len(chunks) > 0 {
		was := w.drv.OutOctets()
		var ok bool
		if w.outBytes, ok = appendChunks(w.outBytes[:0], chunks); !ok {
			clear(w.outBytes)
			panic(fmt.Errorf("wheel: ReadWrite(%d): output filter produced a chunk that is not bytes", w.id))
		}
		w.outOctets = w.drv.Put(w.outBytes...)
		clear(w.outBytes)
		w.queued(was)
	}
	w.highState = w.highMark > 0 && w.outOctets >= w.highMark
	return w.highState
}

// putAppend is Put when the output filter makes one chunk per record and
// the driver takes chunks in place: each record is serialised straight
// into the driver's queue, nothing is copied or boxed per record.
func (w *ReadWrite) putAppend(records []any) bool {
	if l, d := w.outLine, w.drvSys; l != nil && d != nil {
		was := d.OutOctets()
		for _, r := range records {
			buf, err := l.AppendPut(d.OutBuffer(), r)
			w.outOctets = d.CommitChunk(buf)
			if err != nil {
				panic(fmt.Errorf("wheel: ReadWrite(%d) output filter: %w", w.id, err))
			}
		}
		w.queued(was)
		w.highState = w.highMark > 0 && w.outOctets >= w.highMark
		return w.highState
	}
	was := w.drv.OutOctets()
	for _, r := range records {
		buf, err := w.outApp.AppendPut(w.drvApp.OutBuffer(), r)
		w.outOctets = w.drvApp.CommitChunk(buf)
		if err != nil {
			panic(fmt.Errorf("wheel: ReadWrite(%d) output filter: %w", w.id, err))
		}
	}
	w.queued(was)
	w.highState = w.highMark > 0 && w.outOctets >= w.highMark
	return w.highState
}

// queued starts writing when a Put made the empty output queue non-empty.
func (w *ReadWrite) queued(was int) {
	if w.outOctets > 0 && was == 0 && w.writing {
		if w.autoFlush {
			w.flush()
			if w.outOctets > 0 && w.writing && !w.closed {
				w.k.SelectResumeWrite(w.out.fd)
			}
		} else if !w.flushDeferred {
			w.flushDeferred = true
			w.k.Defer(w.deferredFn)
		}
	}
}

// deferredFlush is the end-of-timeslice flush queued by Put.
func (w *ReadWrite) deferredFlush() {
	w.flushDeferred = false
	if !w.closed {
		w.owner.Do(w.flushFn)
	}
}

// flushAndArm writes what the socket takes now and leaves the rest to the
// write watcher.
func (w *ReadWrite) flushAndArm() {
	if w.drv.OutOctets() == 0 {
		return
	}
	w.flush()
	if w.outOctets > 0 && w.writing && !w.closed {
		w.k.SelectResumeWrite(w.out.fd)
	}
}

// setOutFilter installs the output filter and picks Put's path.
func (w *ReadWrite) setOutFilter(f filter.Filter) {
	w.outFilter = f
	w.outApp, w.drvApp = nil, nil
	if pa, ok := f.(filter.PutAppender); ok {
		if da, ok := w.drv.(driver.Appender); ok {
			w.outApp, w.drvApp = pa, da
		}
	}
	w.outLine, _ = w.outApp.(*filter.Line)
	w.drvSys, _ = w.drvApp.(*driver.SysRW)
}

// Flush runs the write handler once, synchronously.
func (w *ReadWrite) Flush() {
	if w.drv.OutOctets() > 0 {
		w.flush()
	}
}

// ID returns the wheel's ID.
func (w *ReadWrite) ID() int { return w.id }

// Event renames or disables ("") events: Event("InputEvent", "x", ...).
// Disabling InputEvent stops reading; setting it again resumes.
func (w *ReadWrite) Event(pairs ...string) error {
	err := setEvents("ReadWrite", map[string]*string{
		"InputEvent": &w.inputEvent, "ErrorEvent": &w.errorEvent, "FlushedEvent": &w.flushedEvent,
		"HighEvent": &w.highEvent, "LowEvent": &w.lowEvent,
	}, pairs)
	if w.closed {
		return err
	}
	switch {
	case w.inputEvent == "" && w.reading:
		w.owner.Do(func() { w.k.SelectRead(w.in.fd, "") })
		w.reading = false
	case w.inputEvent != "" && !w.reading:
		w.owner.Do(func() {
			if w.k.SelectRead(w.in.fd, w.stRead) == nil {
				w.reading = true
			}
		})
	}
	return err
}

// SetFilter replaces both filters, handing the input filter's unparsed
// bytes to the new one (see SetInputFilter).
func (w *ReadWrite) SetFilter(f filter.Filter) {
	w.setOutFilter(f)
	w.SetInputFilter(f)
}

// SetInputFilter replaces the input filter. The old filter's pending
// (unparsed) input goes to the new one and every complete record it makes
// is delivered to InputEvent at once, before SetInputFilter returns —
// unless a handler switches the filter again. Records the old filter
// already produced are not parsed again.
func (w *ReadWrite) SetInputFilter(f filter.Filter) {
	old := w.inFilter
	w.inFilter = f
	if old == nil || old == f || w.closed {
		return
	}
	pending := old.GetPending()
	if len(pending) == 0 {
		return
	}
	f.GetOneStart(pending)
	w.drain(f)
}

// SetOutputFilter replaces the output filter; what is already buffered is
// not re-serialised.
func (w *ReadWrite) SetOutputFilter(f filter.Filter) { w.setOutFilter(f) }

// InputFilter and OutputFilter return the current filters.
func (w *ReadWrite) InputFilter() filter.Filter  { return w.inFilter }
func (w *ReadWrite) OutputFilter() filter.Filter { return w.outFilter }

// SetHighMark changes HighMark (only if marks were set at construction;
// it must stay above LowMark).
func (w *ReadWrite) SetHighMark(n int) error {
	if w.highMark == 0 || n <= w.lowMark {
		return unix.EINVAL
	}
	w.highMark = n
	return nil
}

// SetLowMark changes LowMark (> 0 and below HighMark).
func (w *ReadWrite) SetLowMark(n int) error {
	if w.highMark == 0 || n <= 0 || n >= w.highMark {
		return unix.EINVAL
	}
	w.lowMark = n
	return nil
}

// PauseInput stops reading until ResumeInput. As POE's pause_input it
// stops the read watcher only: the records of a read being delivered
// still arrive. With HoldOnPause they wait for ResumeInput too.
func (w *ReadWrite) PauseInput() {
	w.paused = w.holdPause
	if w.reading {
		w.k.SelectPauseRead(w.in.fd)
	}
}

// ResumeInput undoes PauseInput; with HoldOnPause, what the filter held
// is delivered at the end of the current timeslice.
func (w *ReadWrite) ResumeInput() {
	was := w.paused
	w.paused = false
	if w.reading {
		w.k.SelectResumeRead(w.in.fd)
	}
	if was && !w.closed {
		w.k.Defer(w.resumeFn)
	}
}

// ShutdownInput shuts the socket down for reading (SHUT_RD) and stops
// reading. On a non-socket only the watcher goes.
func (w *ReadWrite) ShutdownInput() error {
	if w.closed {
		return nil
	}
	err := unix.Shutdown(w.in.fd, unix.SHUT_RD)
	if w.reading {
		w.owner.Do(func() { w.k.SelectRead(w.in.fd, "") })
		w.reading = false
	}
	if err == unix.ENOTSOCK {
		err = nil
	}
	return err
}

// ShutdownOutput shuts the socket down for writing (SHUT_WR: the peer
// reads end of file) and stops writing. As in POE, output still buffered
// is dropped: call it after FlushedEvent.
func (w *ReadWrite) ShutdownOutput() error {
	if w.closed {
		return nil
	}
	err := unix.Shutdown(w.out.fd, unix.SHUT_WR)
	if w.writing {
		w.owner.Do(func() { w.k.SelectWrite(w.out.fd, "") })
		w.writing = false
	}
	if err == unix.ENOTSOCK {
		err = nil
	}
	return err
}

// DriverOutOctets returns the octets still buffered (as of the last Put
// or flush); DriverOutMessages the chunks.
func (w *ReadWrite) DriverOutOctets() int   { return w.outOctets }
func (w *ReadWrite) DriverOutMessages() int { return w.drv.OutMessages() }

// InputHandle and OutputHandle return the file descriptors.
func (w *ReadWrite) InputHandle() int  { return w.in.fd }
func (w *ReadWrite) OutputHandle() int { return w.out.fd }

// Close removes the wheel's watchers and handlers, frees its ID and closes
// its handles (unless NoClose). Buffered output is dropped. Idempotent.
func (w *ReadWrite) Close() error {
	if w.closed {
		return nil
	}
	w.unregister()
	w.closed = true
	w.owner.RemoveCloser(w)
	freeID(w.id)
	// Output still queued is dropped: its pooled buffers go back.
	if d, ok := w.drv.(driver.Discarder); ok {
		d.Discard()
	}
	if w.noClose {
		return nil
	}
	err := w.in.close()
	if w.out.fd != w.in.fd {
		if e := w.out.close(); err == nil {
			err = e
		}
	}
	return err
}
