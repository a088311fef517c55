// Package wheel holds POE's wheels: helpers a session creates in one of
// its handlers to do I/O on its behalf (POE::Wheel::SocketFactory,
// ListenAccept, ReadWrite, Run, FollowTail).
//
// Conventions (docs/poe-semantics.md §6.1), the same for every wheel:
//
//   - A constructor takes the kernel and an options struct whose fields are
//     POE's parameter names (New*(k, Options)). It must run inside a handler
//     of the session that will own the wheel (k.ActiveSession()); it fails
//     with poe.ErrNoActiveSession elsewhere.
//   - Each wheel has a process-wide ID (ID()), the last argument of every
//     event it sends.
//   - The wheel installs internal handlers in its session named
//     "POE::Wheel::<Class>(<ID>) -> <purpose>" and watches its file
//     descriptors under those names. User events are delivered with
//     k.Call on the owning session from those handlers: SENDER is the
//     session itself and CALLER_STATE the internal handler's name (case C25 of docs/poe-semantics.md).
//   - Event names are options ending in Event; "" disables an event. They
//     can be changed with the wheel's Event method.
//   - Close releases the wheel: its watchers, timers, internal handlers and
//     ID, and the descriptors it owns. It is idempotent and works from any
//     handler. A wheel registers itself with Session.AddCloser, so the
//     wheels a session still has are closed after its _stop. A wheel that
//     is never closed keeps its session alive (POE frees a wheel when the
//     last Perl reference goes; Go has no such moment).
//
// Handles are raw non-blocking file descriptors (int). Anything with
// SyscallConn (net.Conn, net.Listener, *os.File) is accepted too; such a
// value is kept, and closed with its own Close method when the wheel owns
// it.
package wheel

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"

	"github.com/poe-go/poe/poe"
	"golang.org/x/sys/unix"
)

// Wheel is what every wheel implements.
type Wheel interface {
	ID() int
	Close() error
}

var ids struct {
	sync.Mutex
	last   int
	active map[int]bool
}

// allocID allocates a process-wide wheel ID as POE::Wheel does: the next
// number not in use.
func allocID() int {
	ids.Lock()
	defer ids.Unlock()
	if ids.active == nil {
		ids.active = map[int]bool{}
	}
	for {
		ids.last++
		if ids.last <= 0 {
			ids.last = 1
		}
		if !ids.active[ids.last] {
			ids.active[ids.last] = true
			return ids.last
		}
	}
}

func freeID(id int) {
	ids.Lock()
	delete(ids.active, id)
	ids.Unlock()
}

// stateName is the name of a wheel's internal handler.
func stateName(class string, id int, purpose string) string {
	return fmt.Sprintf("POE::Wheel::%s(%d) -> %s", class, id, purpose)
}

// owner returns the session a constructor runs in.
func owner(k *poe.Kernel) (*poe.Session, error) {
	if k == nil {
		return nil, errors.New("wheel: nil kernel")
	}
	s := k.ActiveSession()
	if s == nil || s.IsKernel() {
		return nil, poe.ErrNoActiveSession
	}
	return s, nil
}

// Errno returns POE's ($!+0, "$!") pair for err: the errno number and its
// C library message ("Connection refused"). A nil error is (0, "").
func Errno(err error) (int, string) {
	if err == nil {
		return 0, ""
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return int(en), Strerror(en)
	}
	return -1, err.Error()
}

// Strerror is the C library's message for an errno: Go's text with its
// first letter capitalised, as glibc spells it.
func Strerror(en syscall.Errno) string {
	s := en.Error()
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// handle is a descriptor given to a wheel: the fd and, when it came from
// a Go value, that value (kept alive, and closed through it).
type handle struct {
	fd  int
	obj any
}

func toHandle(h any) (handle, error) {
	if h == nil {
		return handle{fd: -1}, errors.New("wheel: no handle")
	}
	fd, err := poe.FD(h)
	if err != nil {
		return handle{fd: -1}, err
	}
	hd := handle{fd: fd}
	switch h.(type) {
	case int, uintptr:
	default:
		hd.obj = h
	}
	return hd, nil
}

// setNonblock makes an int fd non-blocking (Go values already are).
func (h handle) setNonblock() error {
	if h.obj != nil || h.fd < 0 {
		return nil
	}
	return unix.SetNonblock(h.fd, true)
}

func (h handle) close() error {
	if h.fd < 0 {
		return nil
	}
	if c, ok := h.obj.(io.Closer); ok {
		return c.Close()
	}
	return unix.Close(h.fd)
}

// setEvents implements the wheels' Event methods: name/value pairs whose
// names are keys of fields.
func setEvents(class string, fields map[string]*string, pairs []string) error {
	if len(pairs)%2 != 0 {
		return fmt.Errorf("wheel: %s.Event: odd number of arguments", class)
	}
	for i := 0; i < len(pairs); i += 2 {
		p, ok := fields[pairs[i]]
		if !ok {
			names := make([]string, 0, len(fields))
			for n := range fields {
				names = append(names, n)
			}
			return fmt.Errorf("wheel: %s.Event: unknown event parameter %q (want one of %s)", class, pairs[i], strings.Join(names, ", "))
		}
		*p = pairs[i+1]
	}
	return nil
}
