package poe

import (
	"os"
	"os/signal"
	"syscall"
)

// SignalClass says what an unhandled signal does (docs/poe-semantics.md
// §3.1).
type SignalClass int

const (
	// Benign signals stop nobody.
	Benign SignalClass = iota
	// Terminal signals stop every session they touch unless a watcher
	// calls SigHandled.
	Terminal
	// Nonmaskable signals stop every session they touch, handled or not.
	Nonmaskable
)

// ClassOf returns the class of a signal name.
func ClassOf(name string) SignalClass {
	switch name {
	case "HUP", "INT", "KILL", "QUIT", "TERM", "IDLE", "DIE":
		return Terminal
	case "ZOMBIE", "UIDESTROY":
		return Nonmaskable
	}
	return Benign
}

// signalTable is POE::Resource::Signals (child processes are in
// childprocs.go): how many sessions watch each signal, the state of the
// signal being dispatched, and the bridge from OS signals. Each session's
// watchers are in its Session.
type signalTable struct {
	watchers map[string]int // sessions watching each signal
	handled  bool           // SigHandled was called for the signal being dispatched
	depth    int            // signals being dispatched (nested)
	dieDepth int            // >0 while DIE watchers of an exception run
	os       *osSignals     // while an OS signal is watched
}

type sigWatch struct {
	event string
	args  []any
}

// Sig makes the active session watch signal name: the watcher event gets
// ARG0 = name, then the arguments given to Signal, then args. A second Sig
// for a name replaces the first; event "" removes the watcher. Watchers do
// not hold a session alive. For real OS signals (INT, TERM, HUP, USR1, ...)
// the kernel installs a handler while at least one session watches.
func (k *Kernel) Sig(name, event string, args ...any) error {
	k.onGoroutine()
	s := k.active
	if s == k.self {
		return ErrNoActiveSession
	}
	if name == "" {
		return errnof(einval, "sig: no signal name")
	}
	if event == "" {
		if s.sigs[name] != nil {
			k.sigUnwatch(s, name)
		}
		return nil
	}
	if s.sigs == nil {
		s.sigs = map[string]*sigWatch{}
	}
	if s.sigs[name] == nil {
		k.signals.watchers[name]++
		if k.signals.watchers[name] == 1 {
			k.osSignalsChanged(name)
			if name == "CHLD" {
				k.reapAllChanged()
			}
		}
	}
	s.sigs[name] = &sigWatch{event: event, args: append([]any(nil), args...)}
	return nil
}

func (k *Kernel) sigUnwatch(s *Session, name string) {
	delete(s.sigs, name)
	k.signals.watchers[name]--
	if k.signals.watchers[name] <= 0 {
		delete(k.signals.watchers, name)
		k.osSignalsChanged(name)
		if name == "CHLD" {
			k.reapAllChanged()
		}
	}
}

// SigHandled marks the signal being dispatched as handled, so a terminal
// signal stops nobody. It may be called from any handler that runs during
// the dispatch; outside one it does nothing.
func (k *Kernel) SigHandled() {
	if k.signals.depth > 0 {
		k.signals.handled = true
	}
}

// Signal posts signal name to dest and every session below it (FIFO like
// any post). A signal to the kernel reaches every session. DIE also climbs
// to dest's ancestors.
func (k *Kernel) Signal(dest any, name string, args ...any) error {
	s := k.resolve(dest)
	if s == nil {
		return k.unresolved("signal", dest)
	}
	k.enqueuePost(kindSignal, s, k.active, name, args)
	return nil
}

// SignalUIDestroy raises UIDESTROY, POE's signal_ui_destroy: the call a
// user interface makes when its main window closes. UIDESTROY is
// nonmaskable, so every session sees it and then stops. POE attaches the
// call to a toolkit's window; Go has no toolkit of its own, so the
// window's close callback calls SignalUIDestroy. On the kernel's
// goroutine (a handler, or the setup code before Run) the signal is
// dispatched at once, as POE's Tk and Gtk loops dispatch it from the
// destroy callback, and not at all when no session exists; from any
// other goroutine it is queued for the kernel's next timeslice.
func (k *Kernel) SignalUIDestroy() {
	if k.bridge.owner.Load() != 0 && !k.bridge.onOwnGoroutine() {
		k.inject(injected{signal: "UIDESTROY"})
		return
	}
	if k.sessions.n == 0 {
		return
	}
	k.dispatchSignal(k.self, "UIDESTROY", nil)
	k.gcSweep()
}

// dispatchSignal delivers a popped signal (docs/poe-semantics.md §3.3).
func (k *Kernel) dispatchSignal(target *Session, name string, extra []any) {
	if target.freed {
		return
	}
	touched := k.descendants(target)
	_, fromException := firstArg(extra).(*DieInfo)
	if name == "DIE" {
		var up []*Session
		for p := target.parent; p != nil && p != k.self; p = p.parent {
			up = append([]*Session{p}, up...)
		}
		touched = append(up, touched...)
	}
	prevHandled := k.signals.handled
	k.signals.handled = false
	k.signals.depth++
	if fromException {
		k.signals.dieDepth++
	}
	if k.trace != nil {
		k.trace.signalf(k, "dispatching %s to %s (%d sessions)", name, target, len(touched))
	}
	for i := len(touched) - 1; i >= 0; i-- {
		s := touched[i]
		if s.freed {
			continue
		}
		if s == k.self {
			// The kernel's own IDLE watcher runs last: an IDLE that was
			// handled but produced no work becomes a ZOMBIE.
			if name == "IDLE" && k.signals.handled && k.queue.queued == 0 && k.fds.watched == 0 {
				k.enqueuePost(kindSignal, k.self, k.self, "ZOMBIE", nil)
			}
			continue
		}
		w := s.sigs[name]
		if w == nil {
			continue
		}
		args := make([]any, 0, 1+len(extra)+len(w.args))
		args = append(append(append(args, name), extra...), w.args...)
		k.dispatch(s, k.self, w.event, args, "", "", 0, modeMgmt)
	}
	handled := k.signals.handled
	if fromException {
		k.signals.dieDepth--
	}
	k.signals.depth--
	k.signals.handled = prevHandled
	class := ClassOf(name)
	if class == Nonmaskable || class == Terminal && !handled {
		if k.trace != nil {
			k.trace.signalf(k, "%s stops %d sessions", name, len(touched))
		}
		for i := len(touched) - 1; i >= 0; i-- {
			if s := touched[i]; s != k.self && !s.freed {
				k.stopSession(s)
			}
		}
	}
	if name == "DIE" && !handled && fromException {
		info := extra[0].(*DieInfo)
		if k.fatal != nil {
			k.fatal = &chainedError{err: info.Err, prev: k.fatal}
		} else {
			k.fatal = info.Err
		}
	}
}

func firstArg(a []any) any {
	if len(a) == 0 {
		return nil
	}
	return a[0]
}

// OS signals. Only asynchronous signals a program may reasonably catch are
// forwarded; PWR (Linux, NetBSD) and INFO (macOS, BSDs) where the system
// has them (signals_*.go). CHLD is not: the kernel raises it itself when
// it reaps a child (childprocs.go).
var osSignalByName = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
	"TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
	"PIPE": syscall.SIGPIPE, "WINCH": syscall.SIGWINCH, "ALRM": syscall.SIGALRM,
	"CONT": syscall.SIGCONT, "TSTP": syscall.SIGTSTP, "TTIN": syscall.SIGTTIN,
	"TTOU": syscall.SIGTTOU, "URG": syscall.SIGURG, "XCPU": syscall.SIGXCPU,
	"XFSZ": syscall.SIGXFSZ, "VTALRM": syscall.SIGVTALRM, "PROF": syscall.SIGPROF,
	"IO": syscall.SIGIO,
}

// SignalName returns POE's name for an OS signal ("INT" for SIGINT), or "".
func SignalName(sig os.Signal) string {
	for n, s := range osSignalByName {
		if s == sig {
			return n
		}
	}
	return ""
}

type osSignals struct {
	ch   chan os.Signal
	done chan struct{}
}

func (k *Kernel) osSignalsChanged(name string) {
	if _, ok := osSignalByName[name]; !ok {
		return
	}
	var want []os.Signal
	for n := range k.signals.watchers {
		if sig, ok := osSignalByName[n]; ok {
			want = append(want, sig)
		}
	}
	if k.signals.os != nil {
		signal.Stop(k.signals.os.ch)
	}
	if len(want) == 0 {
		k.signals.stopOS()
		return
	}
	if k.signals.os == nil {
		k.signals.os = &osSignals{ch: make(chan os.Signal, 32), done: make(chan struct{})}
		go k.forwardSignals(k.signals.os)
	}
	signal.Notify(k.signals.os.ch, want...)
}

func (k *Kernel) forwardSignals(o *osSignals) {
	for {
		select {
		case sig := <-o.ch:
			if name := SignalName(sig); name != "" {
				k.inject(injected{signal: name})
			}
		case <-o.done:
			return
		}
	}
}

// stopOS stops forwarding OS signals.
func (t *signalTable) stopOS() {
	if t.os == nil {
		return
	}
	signal.Stop(t.os.ch)
	close(t.os.done)
	t.os = nil
}

// String names the class.
func (c SignalClass) String() string {
	switch c {
	case Terminal:
		return "terminal"
	case Nonmaskable:
		return "nonmaskable"
	}
	return "benign"
}
