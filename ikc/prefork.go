package ikc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poe-go/poe/poe"
)

// Prefork (ikc-protocol.md §13.2). Go cannot fork a running runtime, so a worker is
// this same program re-executed with the listening socket inherited as fd
// 3 and WorkerEnv naming the server it serves. The worker's main builds
// its sessions as usual; NewServer, seeing the marker, adopts the
// inherited listener instead of binding.
//
// The contract for programs: everything main does up to Kernel.Run must
// be deterministic, because a worker repeats it: the same NewServer calls
// with the same options (a server is matched by its Name, IP, Port and
// Unix), and the sessions and published states the workers should have.
// Work only the parent should do (or only workers) can test IsWorker, or
// wait for the __parent / __child signals, which reach every session once
// the kernel runs. In a worker, servers other than the one it serves are
// inert: they neither bind nor accept.

// WorkerEnv is the environment variable that marks a prefork worker; its
// value identifies the server the worker serves.
const WorkerEnv = "POE_IKC_WORKER"

// workerFD is the inherited listener's descriptor in a worker
// (exec.Cmd.ExtraFiles[0]).
const workerFD = 3

type serverRole int

const (
	roleServer serverRole = iota // binds its own listener
	roleWorker                   // adopts the inherited one
	roleInert                    // a worker's other servers
)

var workerMarker struct {
	sync.Mutex
	read    bool
	key     string // "" in a process that is not a worker
	adopted bool
}

func readWorkerMarker() {
	if !workerMarker.read {
		workerMarker.read = true
		workerMarker.key = os.Getenv(WorkerEnv)
		// Programs this worker runs (wheel.Run) are not workers.
		os.Unsetenv(WorkerEnv)
	}
}

// IsWorker reports whether this process is a prefork worker started by an
// IKC server's parent process.
func IsWorker() bool {
	workerMarker.Lock()
	defer workerMarker.Unlock()
	readWorkerMarker()
	return workerMarker.key != ""
}

// serverKey identifies a server's options across the re-exec.
func serverKey(o ServerOptions) string {
	return fmt.Sprintf("name=%q ip=%q port=%d unix=%q", o.Name, o.IP, o.Port, o.Unix)
}

// adoptListener decides a new server's role in this process and, for the
// worker's own server, returns the inherited listener.
func adoptListener(o ServerOptions) (serverRole, net.Listener, error) {
	workerMarker.Lock()
	defer workerMarker.Unlock()
	readWorkerMarker()
	if workerMarker.key == "" {
		return roleServer, nil, nil
	}
	if workerMarker.adopted || workerMarker.key != serverKey(o) || o.Processes < 2 {
		return roleInert, nil, nil
	}
	f := os.NewFile(workerFD, "ikc-listener")
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return roleWorker, nil, fmt.Errorf("ikc: worker: inherited listener: %w", err)
	}
	workerMarker.adopted = true
	return roleWorker, ln, nil
}

// listenerFD returns ln's descriptor for the workers to inherit. It goes
// through SyscallConn rather than File or Fd: those switch the open file
// description, which parent and workers share, to blocking mode, and a
// worker would then block in accept when another one won the race.
func listenerFD(ln net.Listener) (int, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("cannot pass a %T to workers", ln)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return -1, err
	}
	return fd, nil
}

// worker is a child the parent knows.
type worker struct {
	pid     int
	started time.Time
}

// becomeWorker is the child side of fork: serve Connections connections.
func (s *Server) becomeWorker(e *poe.Event) {
	k := e.Kernel
	s.remaining = s.opts.Connections
	// Hold the session (and its TERM handler) until the worker's last
	// connection ends, not just its last accept.
	k.RefcountIncrement(e.Session.ID(), workerHold)
	s.held = true
	k.Sig("TERM", "sig_TERM")
	k.Sig("USR1", "sig_USR1")
	k.Sig("USR2", "sig_USR2")
	// A worker whose parent died (KILLed: no TERM came) stops accepting
	// instead of serving on as an orphan: a pidfd (Linux) or kqueue
	// (macOS, BSDs) becomes readable when the parent exits. Without
	// either, the worker looks for its reparenting every parentPoll.
	if ppid := os.Getppid(); ppid == 1 {
		k.Yield("parent_gone")
	} else if fd, err := watchParentFn(ppid); err == nil {
		s.parentFD = fd
		k.SelectRead(fd, "parent_gone")
	} else if errors.Is(err, unix.ESRCH) {
		k.Yield("parent_gone")
	} else {
		s.ppid = ppid
		k.Delay("parent_check", parentPoll)
	}
	s.vlog("ikc: worker started", "connections", s.remaining)
	k.Signal(k, "__child")
}

const workerHold = "ikc worker"

// release drops a worker's hold on its session.
func (s *Server) release() {
	if s.held {
		s.held = false
		s.k.RefcountDecrement(s.sess.ID(), workerHold)
	}
	if s.parentFD >= 0 {
		fd := s.parentFD
		s.parentFD = -1
		s.sess.Do(func() { s.k.SelectRead(fd, "") })
		unix.Close(fd)
	}
	if s.ppid != 0 {
		s.ppid = 0
		s.sess.Do(func() { s.k.Alarm("parent_check", time.Time{}) })
	}
}

// watchParentFn is watchParent (a variable so that tests can take the
// polling path).
var watchParentFn = watchParent

// parentPoll is how often a worker that cannot watch its parent checks
// whether it was reparented.
const parentPoll = time.Second

// parent_check: the polling fallback of the parent watch.
func (s *Server) parentCheck(e *poe.Event) any {
	if s.ppid == 0 {
		return nil
	}
	if os.Getppid() != s.ppid {
		return s.parentGone(e)
	}
	e.Kernel.Delay("parent_check", parentPoll)
	return nil
}

// parent_gone: the parent exited without telling this worker.
func (s *Server) parentGone(e *poe.Event) any {
	s.log.Warn("ikc: worker's parent is gone; shutting down", "pid", os.Getpid())
	s.beginShutdown(e.Kernel)
	s.release()
	return nil
}

// fork: start one worker (ARG0: the last of the initial set).
func (s *Server) fork(e *poe.Event) any {
	k := e.Kernel
	if s.isChild || !s.prefork || s.die || s.lnFD < 0 {
		return nil
	}
	if last, _ := e.Arg(poe.ARG0).(bool); last {
		// The initial set is queued: keep the parent's loop alive and
		// tell the sessions, whether this fork succeeds or is retried.
		k.Yield("waste_time")
	}
	pid, err := s.spawn()
	if err != nil {
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ECHILD) {
			s.failedForks++
			s.vlog("ikc: fork failed, retrying in 1 s", "err", err)
			k.Delay("retry", time.Second)
			return nil
		}
		s.reportError("fork", err)
		s.beginShutdown(k)
		return nil
	}
	s.children[pid] = &worker{pid: pid, started: time.Now()}
	if err := k.SigChild(pid, "sig_CHLD"); err != nil {
		// Gone before we could watch it: the babysitter finds it missing.
		s.log.Warn("ikc: watching worker", "worker", pid, "err", err)
	}
	s.vlog("ikc: forked a worker", "worker", pid, "workers", len(s.children))
	return nil
}

// spawnWorker re-executes this program as a worker, with the listener as
// fd 3 (raw descriptors: see listenerFD).
func (s *Server) spawnWorker() (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	env := append(os.Environ(), WorkerEnv+"="+serverKey(s.opts))
	pid, _, err := syscall.StartProcess(exe, os.Args, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{0, 1, 2, uintptr(s.lnFD)},
	})
	return pid, err
}

// retry: one fork per failed one.
func (s *Server) retry(e *poe.Event) any {
	if s.isChild || !s.prefork {
		return nil
	}
	for i := 0; i < s.failedForks; i++ {
		e.Kernel.Yield("fork")
	}
	s.failedForks = 0
	return nil
}

// waste_time: tell the sessions they are in the parent, once, and keep
// the parent's loop alive.
func (s *Server) wasteTime(e *poe.Event) any {
	k := e.Kernel
	if s.isChild {
		return nil
	}
	if !s.toldParent {
		s.toldParent = true
		s.vlog("ikc: telling every session we are the parent")
		k.Signal(k, "__parent")
	}
	if !s.die {
		k.Delay("waste_time", 60*time.Second)
	}
	return nil
}

// sig_CHLD: a worker exited (real: from SigChild; fake, ARG3 true: from
// the babysitter). A known one is replaced.
func (s *Server) sigCHLD(e *poe.Event) any {
	if s.isChild {
		return nil
	}
	pid := e.Int(poe.ARG1)
	fake, _ := e.Arg(poe.ARG3).(bool)
	if _, ok := s.children[pid]; ok {
		delete(s.children, pid)
		delete(s.rogues, pid)
		how := "exited"
		if fake {
			how = "is gone"
		}
		s.vlog("ikc: worker "+how, "worker", pid, "status", e.Arg(poe.ARG2))
		if !s.die {
			e.Kernel.Yield("fork")
		} else if len(s.children) == 0 {
			e.Kernel.Delay("kill_workers", 0)
		}
		return nil
	}
	if fake {
		s.log.Warn("ikc: needless fake CHLD", "worker", pid)
	} else {
		s.vlog("ikc: CHLD for a worker already given up", "worker", pid)
	}
	return nil
}

// sig_INT and sig_TERM: graceful shutdown. In the parent: stop accepting
// and forking, TERM the workers, wait for them (ShutdownTimeout, then
// KILL), shut IKC down; Run then returns. In a worker (TERM only): stop
// accepting, shut IKC down once its connections are flushed.
func (s *Server) sigINT(e *poe.Event) any {
	if s.isChild {
		return nil
	}
	s.log.Info("ikc: SIGINT", "pid", os.Getpid())
	s.beginShutdown(e.Kernel)
	e.Kernel.SigHandled()
	return nil
}

func (s *Server) sigTERM(e *poe.Event) any {
	s.log.Info("ikc: SIGTERM", "pid", os.Getpid())
	s.beginShutdown(e.Kernel)
	e.Kernel.SigHandled()
	return nil
}

func (s *Server) beginShutdown(k *poe.Kernel) {
	if s.die {
		return
	}
	s.die = true
	k.AlarmRemoveAll()
	s.roguesArmed = false
	s.Close()
	if s.opts.Unix != "" && !s.isChild {
		os.Remove(s.opts.Unix)
	}
	for pid := range s.children {
		unix.Kill(pid, unix.SIGTERM)
	}
	if len(s.children) > 0 {
		k.Delay("kill_workers", s.opts.ShutdownTimeout)
	}
	k.Sig("INT", "")
	k.Sig("TERM", "")
	if !s.r.shut {
		k.Post(ResponderAlias, "shutdown")
	}
	s.release()
}

// kill_workers: the shutdown deadline passed; KILL what is left.
func (s *Server) killWorkers(e *poe.Event) any {
	for pid := range s.children {
		s.log.Warn("ikc: worker outlived the shutdown deadline; killing it", "worker", pid)
		unix.Kill(pid, unix.SIGKILL)
	}
	return nil
}

// sig_USR1 / sig_USR2: a kernel peek on PeekOutput (USR2: verbose).
func (s *Server) sigUSR(e *poe.Event) any {
	verbose := e.String(poe.ARG0) == "USR2"
	fmt.Fprintf(s.opts.PeekOutput, "%d: kernel peek (%s)\n", os.Getpid(), e.String(poe.ARG0))
	e.Kernel.Peek().WriteText(s.opts.PeekOutput, verbose)
	e.Kernel.SigHandled()
	return nil
}
