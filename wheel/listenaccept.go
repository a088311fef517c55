package wheel

import (
	"errors"
	"time"

	"github.com/poe-go/poe/poe"
	"golang.org/x/sys/unix"
)

// ListenAcceptOptions are POE::Wheel::ListenAccept's parameters.
type ListenAcceptOptions struct {
	// Handle is a listening socket: an fd (int), for example one
	// inherited from a parent process, or a net.Listener / *os.File.
	// The wheel makes it non-blocking and never closes it.
	Handle any
	// AcceptEvent(handle int, peer unix.Sockaddr, wheelID): handle is the
	// accepted socket, non-blocking, owned by the receiver. (POE passes the
	// packed sockaddr; a unix.Sockaddr is its Go form.)
	AcceptEvent string
	// ErrorEvent("accept", errno int, errstr, wheelID) for accept errors
	// other than would-block and aborted connections. After one the wheel
	// stops accepting for AcceptBackoff, then goes on.
	ErrorEvent string
	// AcceptBackoff is how long accepting stops after an accept error;
	// 0 means DefaultAcceptBackoff.
	AcceptBackoff time.Duration
}

// ListenAccept is POE::Wheel::ListenAccept: it accepts connections on a
// listening socket the program already has.
type ListenAccept struct {
	k     *poe.Kernel
	owner *poe.Session
	id    int
	idAny any
	h     handle

	acceptEvent, errorEvent string
	stRead, stBackoff       string
	userPaused, backoff     bool
	backoffFor              time.Duration
	closed                  bool
}

// NewListenAccept starts accepting on o.Handle.
func NewListenAccept(k *poe.Kernel, o ListenAcceptOptions) (*ListenAccept, error) {
	s, err := owner(k)
	if err != nil {
		return nil, err
	}
	if o.AcceptEvent == "" {
		return nil, errors.New("wheel: ListenAccept needs AcceptEvent")
	}
	h, err := toHandle(o.Handle)
	if err != nil {
		return nil, err
	}
	if err := h.setNonblock(); err != nil {
		return nil, err
	}
	id := allocID()
	w := &ListenAccept{
		k: k, owner: s, id: id, idAny: id, h: h,
		acceptEvent: o.AcceptEvent, errorEvent: o.ErrorEvent,
		backoffFor: acceptBackoff(o.AcceptBackoff),
		stRead:     stateName("ListenAccept", id, "select read"),
		stBackoff:  stateName("ListenAccept", id, "accept backoff"),
	}
	s.SetState(w.stRead, w.onRead, nil)
	s.SetState(w.stBackoff, w.onBackoff, nil)
	if err := k.SelectRead(h.fd, w.stRead); err != nil {
		s.SetState(w.stRead, nil, nil)
		s.SetState(w.stBackoff, nil, nil)
		freeID(id)
		return nil, err
	}
	s.AddCloser(w)
	return w, nil
}

func (w *ListenAccept) onRead(e *poe.Event) any {
	for i := 0; i < acceptBatch && !w.closed && !w.userPaused && !w.backoff; i++ {
		nfd, sa, err := acceptNB(w.h.fd)
		if err != nil {
			if acceptRetry(err) {
				if err == unix.EAGAIN {
					return nil
				}
				continue
			}
			n, str := Errno(err)
			w.backoff = true
			w.k.SelectPauseRead(w.h.fd)
			w.owner.Do(func() { w.k.Delay(w.stBackoff, w.backoffFor) })
			if w.errorEvent != "" {
				w.k.Call(w.owner, w.errorEvent, "accept", n, str, w.idAny)
			}
			return nil
		}
		if w.acceptEvent == "" {
			unix.Close(nfd)
			continue
		}
		w.k.Call(w.owner, w.acceptEvent, nfd, sa, w.idAny)
	}
	return nil
}

func (w *ListenAccept) onBackoff(e *poe.Event) any {
	w.backoff = false
	if !w.closed && !w.userPaused {
		w.k.SelectResumeRead(w.h.fd)
	}
	return nil
}

// ID returns the wheel's ID.
func (w *ListenAccept) ID() int { return w.id }

// PauseAccept stops accepting; new connections wait in the backlog. (POE
// 1.370's ListenAccept has no such method; programs paused the handle.)
func (w *ListenAccept) PauseAccept() {
	if w.closed {
		return
	}
	w.userPaused = true
	w.k.SelectPauseRead(w.h.fd)
}

// ResumeAccept undoes PauseAccept.
func (w *ListenAccept) ResumeAccept() {
	if w.closed {
		return
	}
	w.userPaused = false
	if !w.backoff {
		w.k.SelectResumeRead(w.h.fd)
	}
}

// Event renames events: Event("AcceptEvent", "x", "ErrorEvent", "y").
func (w *ListenAccept) Event(pairs ...string) error {
	return setEvents("ListenAccept", map[string]*string{
		"AcceptEvent": &w.acceptEvent, "ErrorEvent": &w.errorEvent,
	}, pairs)
}

// Close stops accepting. The listening handle stays open: it belongs to
// the program. Close is idempotent.
func (w *ListenAccept) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	k := w.k
	w.owner.Do(func() {
		k.SelectRead(w.h.fd, "")
		k.Alarm(w.stBackoff, time.Time{})
		w.owner.SetState(w.stRead, nil, nil)
		w.owner.SetState(w.stBackoff, nil, nil)
	})
	w.owner.RemoveCloser(w)
	freeID(w.id)
	return nil
}
