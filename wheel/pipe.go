package wheel

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The conduits of PipeOneWay and PipeTwoWay, POE::Pipe's (IO::Pipely's)
// types.
const (
	ConduitPipe       = "pipe"       // pipe(2)
	ConduitSocketpair = "socketpair" // a Unix stream socketpair(2)
	ConduitInet       = "inet"       // two TCP sockets connected over 127.0.0.1
)

// ErrConduit is returned for a conduit name PipeOneWay and PipeTwoWay do
// not know.
var ErrConduit = errors.New("wheel: unknown pipe conduit")

// inetAcceptTimeout bounds the wait for an inet conduit's own connection.
const inetAcceptTimeout = 5 * time.Second

// PipeOneWay is POE::Pipe::OneWay->new: a one-way conduit, read from r,
// written to w. conduit is ConduitPipe, ConduitSocketpair or ConduitInet;
// "" tries them in POE's order for Unix (pipe, socketpair, inet) and
// returns the first that works. A socket conduit is shut down in the
// unused directions. Both ends are close-on-exec and non-blocking, served
// by Go's poller for Read and Write and usable as wheel handles. (POE falls
// back to the other types when the one asked for fails; a named conduit
// here is that one or an error.)
func PipeOneWay(conduit string) (r, w *os.File, err error) {
	kinds := []string{conduit}
	if conduit == "" {
		kinds = []string{ConduitPipe, ConduitSocketpair, ConduitInet}
	}
	for _, kind := range kinds {
		var fds [2]int
		switch kind {
		case ConduitPipe:
			p := make([]int, 2)
			err = pipeCloexec(p)
			fds = [2]int{p[0], p[1]}
		case ConduitSocketpair:
			fds, err = socketpairCloexec(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		case ConduitInet:
			fds, err = inetPair()
		default:
			return nil, nil, fmt.Errorf("%w %q", ErrConduit, kind)
		}
		if err != nil {
			err = fmt.Errorf("wheel: %s conduit: %w", kind, err)
			continue
		}
		if kind != ConduitPipe {
			unix.Shutdown(fds[0], unix.SHUT_WR)
			unix.Shutdown(fds[1], unix.SHUT_RD)
		}
		if err = pipeFiles(fds); err != nil {
			continue
		}
		return os.NewFile(uintptr(fds[0]), kind+" (read)"), os.NewFile(uintptr(fds[1]), kind+" (write)"), nil
	}
	return nil, nil, err
}

// PipeTwoWay is POE::Pipe::TwoWay->new: a conduit in both directions,
// a's writes read at b and b's at a. For a socket conduit (socketpair,
// inet) each side's read and write ends are the same *os.File, as POE's
// are the same handle, so closing one closes the other; ConduitPipe is two
// pipes. "" tries POE's order for Unix: socketpair, inet, pipe. The ends
// are close-on-exec and non-blocking, as PipeOneWay's.
func PipeTwoWay(conduit string) (aRead, aWrite, bRead, bWrite *os.File, err error) {
	kinds := []string{conduit}
	if conduit == "" {
		kinds = []string{ConduitSocketpair, ConduitInet, ConduitPipe}
	}
	for _, kind := range kinds {
		switch kind {
		case ConduitPipe:
			var ar, bw, br, aw *os.File
			if ar, bw, err = PipeOneWay(ConduitPipe); err != nil {
				continue
			}
			if br, aw, err = PipeOneWay(ConduitPipe); err != nil {
				closeFiles(ar, bw)
				continue
			}
			return ar, aw, br, bw, nil
		case ConduitSocketpair, ConduitInet:
			var fds [2]int
			if kind == ConduitSocketpair {
				fds, err = socketpairCloexec(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			} else {
				fds, err = inetPair()
			}
			if err != nil {
				err = fmt.Errorf("wheel: %s conduit: %w", kind, err)
				continue
			}
			if err = pipeFiles(fds); err != nil {
				continue
			}
			a, b := os.NewFile(uintptr(fds[0]), kind+" (a)"), os.NewFile(uintptr(fds[1]), kind+" (b)")
			return a, a, b, b, nil
		default:
			return nil, nil, nil, nil, fmt.Errorf("%w %q", ErrConduit, kind)
		}
	}
	return nil, nil, nil, nil, err
}

// pipeFiles makes both fds non-blocking, so that os.NewFile gives them to
// Go's poller; on error both are closed.
func pipeFiles(fds [2]int) error {
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
			return err
		}
	}
	return nil
}

func closeFiles(fs ...*os.File) {
	for _, f := range fs {
		if f != nil {
			f.Close()
		}
	}
}

// inetPair connects two TCP sockets over 127.0.0.1, as IO::Pipely does
// where there is no socketpair: a listener on a free port, a connection to
// it, and the accepted socket whose peer is that connection (anyone else
// who connects meanwhile is turned away). It returns (accepted, connector).
func inetPair() (fds [2]int, err error) {
	lfd, err := socketNB(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return fds, err
	}
	defer unix.Close(lfd)
	if err = unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fds, err
	}
	if err = unix.Listen(lfd, 8); err != nil {
		return fds, err
	}
	laddr, err := unix.Getsockname(lfd)
	if err != nil {
		return fds, err
	}
	cfd, err := socketNB(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return fds, err
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(cfd)
		}
	}()
	if err = unix.Connect(cfd, laddr); err != nil && err != unix.EINPROGRESS {
		return fds, err
	}
	caddr, err := unix.Getsockname(cfd)
	if err != nil {
		return fds, err
	}
	mine := caddr.(*unix.SockaddrInet4)
	deadline := time.Now().Add(inetAcceptTimeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return fds, unix.ETIMEDOUT
		}
		pfd := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
		if _, err = unix.Poll(pfd, int(left/time.Millisecond)+1); err != nil && err != unix.EINTR {
			return fds, err
		}
		afd, peer, err := acceptNB(lfd)
		if err == unix.EAGAIN || err == unix.EINTR || err == unix.ECONNABORTED {
			continue
		}
		if err != nil {
			return fds, err
		}
		if p, isV4 := peer.(*unix.SockaddrInet4); isV4 && p.Port == mine.Port && p.Addr == mine.Addr {
			// The accept means the connection is made; SO_ERROR says so too.
			if soErr, err := unix.GetsockoptInt(cfd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soErr != 0 {
				unix.Close(afd)
				if err == nil {
					err = unix.Errno(soErr)
				}
				return fds, err
			}
			ok = true
			return [2]int{afd, cfd}, nil
		}
		unix.Close(afd)
	}
}
