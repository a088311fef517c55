package poe

import (
	"errors"
	"syscall"
)

// POE reports failures through errno values; these are the same values as
// Go's syscall errnos, so errors.Is(err, poe.ESRCH) and
// errors.Is(err, syscall.ESRCH) both hold.
var (
	ESRCH  error = syscall.ESRCH  // no such session, alias or alarm
	EPERM  error = syscall.EPERM  // not allowed (another session's alarm or alias, not a child)
	EINVAL error = syscall.EINVAL // a required argument is missing
	EEXIST error = syscall.EEXIST // alias owned by another session
	ENOSYS error = syscall.ENOSYS // no handler and no _default
)

// ErrNoActiveSession is returned by methods that act on the active session
// (Yield's siblings: Delay, Sig, AliasSet, SelectRead, State, ...) when they
// are called outside any handler. POE would silently act on the kernel; we
// say so instead. It matches ESRCH with errors.Is.
var ErrNoActiveSession error = &errnoError{"poe: no active session (called outside a handler)", syscall.ESRCH}

// ErrNoStart is returned by Create for a session without a _start handler;
// POE warns and creates nothing.
var ErrNoStart = errors.New("poe: session has no _start handler")

// ErrReservedState is returned by Create and State for the legacy name
// _signal, which POE refuses.
var ErrReservedState = errors.New("poe: the state name _signal is reserved")

type errnoError struct {
	msg   string
	errno syscall.Errno
}

func (e *errnoError) Error() string        { return e.msg }
func (e *errnoError) Is(target error) bool { return target == e.errno }

func errnof(errno syscall.Errno, msg string) error { return &errnoError{"poe: " + msg, errno} }

const (
	esrch  = syscall.ESRCH
	eperm  = syscall.EPERM
	einval = syscall.EINVAL
	eexist = syscall.EEXIST
)

// ErrNotForked is returned by HasForked in the process that created the
// kernel, where POE warns that has_forked belongs in the child.
var ErrNotForked = errors.New("poe: has_forked called in the process that created the kernel")
