package wheel

import (
	"errors"
	"io"
	"os"
	"time"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/driver"
	"github.com/poe-go/poe/wheel/filter"
	"golang.org/x/sys/unix"
)

// FollowTailOptions are POE::Wheel::FollowTail's parameters.
type FollowTailOptions struct {
	// Filename xor Handle: what to follow. A file named is reopened after
	// rotation or truncation, and waited for while it does not exist
	// (NewFollowTail fails for other open errors and for a directory). A
	// Handle (fd or SyscallConn value) is not closed by the wheel.
	Filename string
	Handle   any
	// ReportMissing: when the named file cannot be opened (missing:
	// ENOENT) the wheel sends ErrorEvent("open", errno, errstr, wheelID)
	// once, and keeps polling for it (Close the wheel to give up); the
	// report comes again only after the file was opened. POE waits
	// silently.
	ReportMissing bool

	// InputEvent(record, wheelID) per record; required.
	InputEvent string
	// ErrorEvent(operation, errno int, errstr, wheelID); operation "read",
	// or "open" with ReportMissing. After a "read" error the wheel stops.
	ErrorEvent string
	// ResetEvent(wheelID) when the file was truncated or replaced, or
	// (re)opened after being missing.
	ResetEvent string
	// IdleEvent(wheelID) after a poll that found no new data.
	IdleEvent string

	// PollInterval between polls of a regular file; default 1s.
	PollInterval time.Duration
	// Seek is the start offset: >= 0 from the start (clamped to the end),
	// < 0 from the end. SeekBack is bytes before the end. Without either,
	// the wheel starts 4096 bytes before the end and discards the complete
	// records found there (a trailing partial record is kept).
	Seek, SeekBack *int64

	// Filter defaults to Line (autodetected terminators), Driver to SysRW.
	Filter filter.Filter
	Driver driver.Driver
}

// FollowTail is POE::Wheel::FollowTail: it follows a growing file (polled
// on a timer) or a FIFO, pipe or socket (read watcher).
type FollowTail struct {
	k     *poe.Kernel
	owner *poe.Session
	id    int
	idAny any

	filename string
	h        handle // fd -1 while a named file is missing
	ownsFd   bool
	watcher  bool // not a regular file: read watcher instead of a timer
	stream   bool // a socket or tty: EOF is an error

	f     filter.Filter
	drv   driver.Driver
	chunk [1]any

	interval         time.Duration
	stTimer, stRead  string
	last             unix.Stat_t
	watching, closed bool

	reportMissing, missingReported bool

	inputEvent, errorEvent, resetEvent, idleEvent string
}

// NewFollowTail starts following.
func NewFollowTail(k *poe.Kernel, o FollowTailOptions) (*FollowTail, error) {
	s, err := owner(k)
	if err != nil {
		return nil, err
	}
	if (o.Filename == "") == (o.Handle == nil) {
		return nil, errors.New("wheel: FollowTail needs exactly one of Filename and Handle")
	}
	if o.InputEvent == "" {
		return nil, errors.New("wheel: FollowTail needs InputEvent")
	}
	if o.Seek != nil && o.SeekBack != nil {
		return nil, errors.New("wheel: FollowTail: Seek and SeekBack are exclusive")
	}
	if o.SeekBack != nil && *o.SeekBack < 0 {
		return nil, errors.New("wheel: FollowTail: SeekBack must be >= 0")
	}
	w := &FollowTail{
		k: k, owner: s, filename: o.Filename, h: handle{fd: -1},
		f: o.Filter, drv: o.Driver, interval: o.PollInterval, reportMissing: o.ReportMissing,
		inputEvent: o.InputEvent, errorEvent: o.ErrorEvent, resetEvent: o.ResetEvent, idleEvent: o.IdleEvent,
	}
	if w.interval <= 0 {
		w.interval = time.Second
	}
	if w.f == nil {
		w.f = newLineFilter()
	}
	if w.drv == nil {
		w.drv = newDriver()
	}
	if o.Handle != nil {
		if w.h, err = toHandle(o.Handle); err != nil {
			return nil, err
		}
	} else if fd, err := unix.Open(o.Filename, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
		w.h, w.ownsFd = handle{fd: fd}, true
	} else if err != unix.ENOENT {
		return nil, &os.PathError{Op: "open", Path: o.Filename, Err: err}
	}
	if w.h.fd >= 0 {
		if err := unix.Fstat(w.h.fd, &w.last); err != nil {
			w.closeFd()
			return nil, err
		}
		switch w.last.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if o.Filename != "" {
				// It would fail on the first read (EISDIR): say so now.
				w.closeFd()
				return nil, &os.PathError{Op: "open", Path: o.Filename, Err: unix.EISDIR}
			}
			w.watcher = true
		case unix.S_IFREG:
		case unix.S_IFSOCK, unix.S_IFCHR:
			w.watcher, w.stream = true, true
		default:
			w.watcher = true
		}
		if w.watcher {
			if err := w.h.setNonblock(); err != nil {
				w.closeFd()
				return nil, err
			}
		} else if err := w.startPosition(o); err != nil {
			w.closeFd()
			return nil, err
		}
	}
	w.id = allocID()
	w.idAny = w.id
	w.stRead = stateName("FollowTail", w.id, "select read")
	if o.Filename != "" {
		w.stTimer = stateName("FollowTail", w.id, "name timer read")
	} else {
		w.stTimer = stateName("FollowTail", w.id, "handle timer read")
	}
	if w.watcher {
		s.SetState(w.stRead, w.onSelect, nil)
		if err := k.SelectRead(w.h.fd, w.stRead); err != nil {
			s.SetState(w.stRead, nil, nil)
			freeID(w.id)
			w.closeFd()
			return nil, err
		}
		w.watching = true
	} else {
		s.SetState(w.stTimer, w.onTimer, nil)
		k.Delay(w.stTimer, 0)
	}
	s.AddCloser(w)
	return w, nil
}

// startPosition seeks a regular file where following starts.
func (w *FollowTail) startPosition(o FollowTailOptions) error {
	size := w.last.Size
	var pos int64
	switch {
	case o.Seek != nil && *o.Seek >= 0:
		pos = min(*o.Seek, size)
	case o.Seek != nil:
		pos = max(size+*o.Seek, 0)
	case o.SeekBack != nil:
		pos = max(size-*o.SeekBack, 0)
	default:
		pos = max(size-4096, 0)
	}
	if _, err := unix.Seek(w.h.fd, pos, io.SeekStart); err != nil {
		return err
	}
	if o.Seek != nil || o.SeekBack != nil {
		return nil
	}
	// Skip the complete records up to the end; keep a partial one.
	for {
		data, err := w.drv.Get(w.h.fd)
		if err == io.EOF || (err == nil && len(data) == 0) {
			break
		}
		if err != nil {
			return err
		}
		startBytes(w.f, &w.chunk, data, w.drv)
		for {
			recs, err := w.f.GetOne()
			if err != nil || len(recs) == 0 {
				break
			}
		}
	}
	return nil
}

func (w *FollowTail) closeFd() {
	if w.h.fd >= 0 && w.ownsFd {
		w.h.close()
	}
	w.h = handle{fd: -1}
	w.ownsFd = false
}

func (w *FollowTail) call(event string, args ...any) {
	if event != "" && !w.closed {
		w.k.Call(w.owner, event, args...)
	}
}

// deliver feeds data to the filter and calls InputEvent per record. It
// reports false when the filter refused the input.
func (w *FollowTail) deliver(data []byte) bool {
	startBytes(w.f, &w.chunk, data, w.drv)
	for !w.closed {
		recs, err := w.f.GetOne()
		if err != nil {
			w.call(w.errorEvent, "read", int(unix.EINVAL), err.Error(), w.idAny)
			return false
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			w.call(w.inputEvent, r, w.idAny)
		}
	}
	return true
}

// onTimer is one poll of a regular file.
func (w *FollowTail) onTimer(e *poe.Event) any {
	if w.closed {
		return nil
	}
	k := w.k
	if w.h.fd < 0 {
		fd, err := unix.Open(w.filename, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			if w.reportMissing && !w.missingReported {
				w.missingReported = true
				n, str := Errno(err)
				w.call(w.errorEvent, "open", n, str, w.idAny)
				if w.closed {
					return nil
				}
			}
			w.call(w.idleEvent, w.idAny)
			k.Delay(w.stTimer, w.interval)
			return nil
		}
		w.h, w.ownsFd = handle{fd: fd}, true
		w.missingReported = false
		unix.Fstat(fd, &w.last)
		w.call(w.resetEvent, w.idAny)
		if w.closed {
			return nil
		}
	}
	data, err := w.drv.Get(w.h.fd)
	if err != nil && err != io.EOF {
		n, str := Errno(err)
		w.call(w.errorEvent, "read", n, str, w.idAny)
		return nil // stop polling
	}
	if len(data) > 0 {
		if w.deliver(data) && !w.closed {
			k.Delay(w.stTimer, 0)
		}
		return nil
	}
	// End of file: was the file reset?
	var st unix.Stat_t
	var serr error
	if w.filename != "" {
		serr = unix.Stat(w.filename, &st)
	} else {
		serr = unix.Fstat(w.h.fd, &st)
	}
	if serr == nil {
		pos, _ := unix.Seek(w.h.fd, 0, io.SeekCurrent)
		if st.Ino != w.last.Ino || st.Dev != w.last.Dev || st.Rdev != w.last.Rdev ||
			st.Nlink != w.last.Nlink || st.Size < w.last.Size || st.Size < pos {
			if w.filename != "" {
				// Reopen on the next poll, which reports the reset.
				w.closeFd()
			} else {
				w.last = st
				unix.Seek(w.h.fd, 0, io.SeekStart)
				w.call(w.resetEvent, w.idAny)
			}
			if !w.closed {
				k.Delay(w.stTimer, 0)
			}
			return nil
		}
		w.last = st
	}
	w.call(w.idleEvent, w.idAny)
	if !w.closed {
		k.Delay(w.stTimer, w.interval)
	}
	return nil
}

// onSelect reads a FIFO, pipe or socket.
func (w *FollowTail) onSelect(e *poe.Event) any {
	if w.closed {
		return nil
	}
	data, err := w.drv.Get(w.h.fd)
	if err == nil {
		if len(data) > 0 {
			w.deliver(data)
		}
		return nil
	}
	if err != io.EOF || w.stream {
		n, str := Errno(err)
		if err == io.EOF {
			n, str = 0, ""
		}
		w.call(w.errorEvent, "read", n, str, w.idAny)
	} else {
		w.call(w.idleEvent, w.idAny)
	}
	if !w.closed && w.watching {
		w.owner.Do(func() { w.k.SelectRead(w.h.fd, "") })
		w.watching = false
	}
	return nil
}

// ID returns the wheel's ID.
func (w *FollowTail) ID() int { return w.id }

// Tell returns the current read offset (-1 without an open file).
func (w *FollowTail) Tell() int64 {
	if w.h.fd < 0 {
		return -1
	}
	pos, err := unix.Seek(w.h.fd, 0, io.SeekCurrent)
	if err != nil {
		return -1
	}
	return pos
}

// Event renames or disables events: Event("InputEvent", "x", ...).
func (w *FollowTail) Event(pairs ...string) error {
	return setEvents("FollowTail", map[string]*string{
		"InputEvent": &w.inputEvent, "ErrorEvent": &w.errorEvent,
		"ResetEvent": &w.resetEvent, "IdleEvent": &w.idleEvent,
	}, pairs)
}

// Close stops following and closes the file the wheel opened (not a
// Handle given to it). Idempotent.
func (w *FollowTail) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	k := w.k
	w.owner.Do(func() {
		if w.watching {
			k.SelectRead(w.h.fd, "")
			w.watching = false
		}
		k.Alarm(w.stTimer, time.Time{})
		w.owner.SetState(w.stTimer, nil, nil)
		w.owner.SetState(w.stRead, nil, nil)
	})
	w.closeFd()
	w.owner.RemoveCloser(w)
	freeID(w.id)
	return nil
}
