package poe

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poe-go/poe/loop"
)

// Options configure a kernel. The zero value is POE's default behaviour.
type Options struct {
	// NoCatch turns exception catching off (POE_CATCH_EXCEPTIONS=0): a
	// handler's panic is not turned into a DIE signal but stops the kernel
	// at once; Run returns it. It is also set by the environment variable
	// POE_CATCH_EXCEPTIONS=0.
	NoCatch bool
	// Trace receives one line per enqueue and dispatch, in the format of
	// POE's TRACE_EVENTS ("=== <pid> === <ev> ..."). POE_TRACE_EVENTS=1
	// sends it to standard error. Tracing also fills CallerFile/CallerLine.
	Trace io.Writer
	// Recorder, when set, records every dispatch (session, event, sender,
	// arguments, queue wait, handler time) for Trace Event Format output;
	// see TraceRecorder. Nil costs nothing.
	Recorder *TraceRecorder
	// Logger receives warnings (unhandled events with option "default",
	// misuse). Default: slog.Default().
	Logger *slog.Logger
	// Poller replaces the default reactor (tests, other systems).
	Poller loop.Poller
	// Assert turns on assert mode, POE's ASSERT_DEFAULT: an event nobody
	// handles, a bad argument index and a kernel call off the kernel's
	// goroutine panic instead of passing quietly (see assert.go). It is
	// also set by POE_ASSERT=1 (or Perl's POE_ASSERT_DEFAULT=1). A
	// debugging mode: each kernel call then costs about 10 µs.
	Assert bool
}

// Kernel is the event dispatcher: POE's $poe_kernel. Several kernels may
// live in one process (tests do that); they share nothing.
//
// Each resource owns its state in a type of its own, in its own file (see
// the package comment); the Kernel holds them by value, so that reaching
// one costs what reaching a field of the Kernel does.
type Kernel struct {
	id   string
	pid  int // the process the kernel's ID names (HasForked)
	opts Options
	log  *slog.Logger

	// The dispatch state (dispatch.go).
	self        *Session // the kernel's pseudo-session, root of the session tree
	active      *Session // the session whose handler runs; self outside handlers
	activeEvent string
	cur         *item  // the queued item whose handler runs (for the batch trap)
	inBatch     bool   // a batch is being dispatched (trap resumes it)
	batchCut    uint64 // the last item ID given out when the batch began
	freeEvents  []*Event
	fatal       error
	running     bool
	// deferred runs at the end of the timeslice (Defer); deferring is
	// the slice being run, kept to reuse its array.
	deferred, deferring []func()

	// The resources.
	clock    kernelClock  // clock.go
	queue    eventQueue   // events.go
	alarms   alarmTable   // alarms.go, timerheap.go
	sids     sessionIDs   // sids.go
	sessions sessionTable // sessions.go, gc.go
	aliases  aliasTable   // aliases.go
	extrefs  extraRefs    // extrefs.go
	fds      fileHandles  // filehandles.go
	signals  signalTable  // signals.go
	procs    childProcs   // childprocs.go
	bridge   goBridge     // bridge.go
	stats    Stats        // statistics.go

	// The reactor, created on first need (ensurePoller).
	poller     loop.Poller
	pollerErr  error
	pollerOnce sync.Once
	pollerOK   bool // the kernel goroutine has seen ensurePoller succeed

	// Tracing (trace.go, traceevents.go).
	trace    *tracer
	rec      *TraceRecorder
	observed bool // trace or rec: one check on the hot paths for both
}

var kernelCounter atomic.Uint32

// eventPool bounds the Events kept for reuse: more than nested dispatches
// ever use at once.
const eventPool = 256

// NewKernel returns a kernel; opts may be nil.
func NewKernel(opts *Options) *Kernel {
	var o Options
	if opts != nil {
		o = *opts
	}
	if os.Getenv("POE_CATCH_EXCEPTIONS") == "0" {
		o.NoCatch = true
	}
	if assertFromEnv() {
		o.Assert = true
	}
	if o.Trace == nil && os.Getenv("POE_TRACE_EVENTS") == "1" {
		o.Trace = os.Stderr
	}
	k := &Kernel{
		opts:    o,
		log:     o.Logger,
		aliases: aliasTable{names: map[string]*Session{}},
		fds:     fileHandles{recs: map[int]*fdRec{}},
		procs:   childProcs{pids: map[int]*pidRec{}},
		signals: signalTable{watchers: map[string]int{}},
		clock:   kernelClock{epoch: time.Now()},
		poller:  o.Poller,
		queue:   eventQueue{fifo: ring{buf: make([]*item, 16)}},
	}
	if k.log == nil {
		k.log = slog.Default()
	}
	if !o.Assert {
		k.freeEvents = make([]*Event, 0, eventPool)
	}
	if o.Trace != nil {
		k.trace = &tracer{w: o.Trace, pid: os.Getpid()}
	}
	k.fds.readyFn = k.fds.onReady
	k.self = &Session{k: k, id: 0}
	k.active = k.self
	k.pid = getpid()
	k.id = makeKernelID(k.pid)
	if o.Recorder != nil {
		k.rec = o.Recorder
		k.rec.attach(k)
	}
	k.observed = k.trace != nil || k.rec != nil
	return k
}

func makeKernelID(pid int) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return fmt.Sprintf("%s-%08x-%08x-%08x", host, uint32(time.Now().Unix()), uint32(pid), kernelCounter.Add(1))
}

// getpid is os.Getpid, a variable so that tests can play the child of a
// fork.
var getpid = os.Getpid

var (
	defaultOnce   sync.Once
	defaultKernel *Kernel
)

// Default returns the process-wide kernel, created on first use: the
// $poe_kernel of programs that need only one.
func Default() *Kernel {
	defaultOnce.Do(func() { defaultKernel = NewKernel(nil) })
	return defaultKernel
}

// ID returns the kernel's ID: host name, then three 8-digit hex fields
// (start time, process ID, a per-process counter), as POE builds it.
func (k *Kernel) ID() string { return k.id }

// Session returns the kernel's pseudo-session: the root of the session tree
// and the SENDER of events produced outside handlers.
func (k *Kernel) Session() *Session { return k.self }

// Running reports whether Run is in progress.
func (k *Kernel) Running() bool { return k.running }

// pollerErrOnce is ensurePoller for the kernel's own goroutine, without
// the sync.Once cost on every timeslice.
func (k *Kernel) pollerErrOnce() error {
	if k.pollerOK {
		return nil
	}
	err := k.ensurePoller()
	k.pollerOK = err == nil
	return err
}

// ensurePoller creates the reactor on first need; safe from any goroutine.
func (k *Kernel) ensurePoller() error {
	k.pollerOnce.Do(func() {
		if k.poller != nil {
			return
		}
		k.poller, k.pollerErr = loop.New()
		if k.pollerErr == nil {
			// The kernel has no Close: release the reactor's fds with it.
			runtime.AddCleanup(k, func(p loop.Poller) { p.Close() }, k.poller)
		}
	})
	return k.pollerErr
}

// Run dispatches events until no session is left, then returns. If a
// handler's exception was fatal (unhandled DIE, a panic in _stop, NoCatch),
// every session is stopped and Run returns that error. Run may be called
// again after it returns; the kernel starts afresh with the next session.
func (k *Kernel) Run() error {
	if err := k.ensurePoller(); err != nil {
		return fmt.Errorf("poe: cannot create the reactor: %w", err)
	}
	if getpid() != k.pid {
		k.HasForked() // as POE's run does when it finds a new $$
	}
	k.running = true
	k.bridge.serve()
	k.own()
	defer func() { k.running = false }()
	for !k.trap(func() {
		for k.step() {
		}
	}) {
	}
	err := k.fatal
	k.fatal = nil
	return err
}

// RunOneTimeslice runs one iteration of the loop (idle check, I/O wait and
// dispatch, the batch of due events) and reports whether sessions remain.
// When none does it finalises the kernel and returns false.
func (k *Kernel) RunOneTimeslice() bool {
	k.bridge.serve()
	if k.sessions.n > 0 && k.bridge.owner.Load() == 0 {
		k.own()
	}
	more := false
	for !k.trap(func() { more = k.step() }) {
	}
	return more
}

// RunWhile runs timeslices while cond reports true before each one and
// sessions remain: POE's run_while(\$flag), with the flag read through
// cond (a handler clears it, or cond watches anything else). It returns
// when cond reports false, leaving the sessions in place for a later Run,
// RunWhile or RunOneTimeslice; or when no session is left, with the
// fatal error Run would return.
func (k *Kernel) RunWhile(cond func() bool) error {
	for cond() && k.RunOneTimeslice() {
	}
	if k.sessions.n > 0 {
		return nil
	}
	err := k.fatal
	k.fatal = nil
	return err
}

// HasForked tells the kernel that it now runs in a new process: POE's
// has_forked, which a child calls after fork to take the kernel over.
// Go cannot fork (the child of a bare fork(2) keeps one thread of a
// multi-threaded runtime); a process started with syscall.ForkExec or
// os/exec, or the re-executed worker of ikc's prefork server, begins
// with a kernel of its own and has nothing to call. So HasForked acts
// only when the process ID is not the one the kernel was created in:
// then, as POE, it renews the kernel's ID (which names the process) and
// the trace's process ID. Run does that by itself when it finds a new
// process ID, as POE's run does. In the creating process HasForked
// changes nothing and returns ErrNotForked (POE warns).
func (k *Kernel) HasForked() error {
	pid := getpid()
	if pid == k.pid {
		return ErrNotForked
	}
	k.pid = pid
	k.id = makeKernelID(pid)
	if k.trace != nil {
		k.trace.pid = pid
	}
	return nil
}

// trap runs fn, which dispatches queued events, inside the kernel's
// exception trap for queued handlers: one deferred recover for a whole run
// rather than one per event (that would be a fifth of the cost of a
// yield). When a handler panics, batchPanic applies POE's rules to the
// item that was running, the interrupted batch is finished, and trap
// returns false so that the caller goes on.
func (k *Kernel) trap(fn func()) (done bool) {
	defer func() {
		if r := recover(); r != nil {
			k.batchPanic(r)
			done = false
		}
	}()
	if k.inBatch {
		k.runBatch()
		if k.sessions.n == 0 {
			k.finish()
			return true
		}
	}
	fn()
	return true
}

// step is one timeslice.
func (k *Kernel) step() bool {
	if k.sessions.n == 0 {
		k.finish()
		return false
	}
	if err := k.pollerErrOnce(); err != nil {
		k.setFatal(fmt.Errorf("poe: cannot create the reactor: %w", err))
		k.Stop()
		k.finish()
		return false
	}
	k.timeslice()
	if k.sessions.n == 0 {
		k.finish()
		return false
	}
	return true
}

func (k *Kernel) finish() {
	// Posts to the kernel and leftovers of stopped sessions go with it.
	q := &k.queue
	q.fifo.each(func(it *item) { it.dead = true })
	for q.fifo.n > 0 {
		q.recycle(q.fifo.pop())
	}
	q.queued, q.gcItems = 0, 0
	k.signals.stopOS()
	k.bridge.unserve()
}

func (k *Kernel) timeslice() {
	k.stats.Timeslices++
	if k.bridge.pending.Load() != 0 {
		k.drainInjected()
	}
	if k.queue.queued == 0 {
		k.maybeIdle() // only an empty queue can mean idle; this spares a call per timeslice
	}
	timeout := time.Duration(-1)
	clocked := false // k.clock.now was just read
	if k.queue.fifoHead() != nil {
		timeout = 0
	} else if k.alarms.heap.live > 0 {
		if t := k.alarms.heap.head(); t != nil {
			timeout = max(0, time.Duration(t.due-k.clock.read()))
			clocked = true
		}
	}
	if k.fds.always > 0 || len(k.deferred) > 0 {
		timeout = 0
	}
	if k.fds.active > 0 || timeout != 0 {
		k.poll(timeout, clocked)
		if k.bridge.pending.Load() != 0 {
			k.drainInjected()
			k.clock.fresh = false
		}
	}
	k.dispatchDue()
	if len(k.deferred) > 0 {
		k.runDeferred()
	}
}

// Defer runs fn on the kernel's goroutine at the end of the current
// timeslice: after the batch of events and the I/O callbacks, before the
// loop waits again. Wheels use it to coalesce work per timeslice
// (ReadWrite writes its output once, after every Put of the batch,
// without a round trip through the poller). fn runs outside any session:
// use Session.Do to act as one. Call Defer on the kernel's goroutine.
func (k *Kernel) Defer(fn func()) { k.deferred = append(k.deferred, fn) }

// runDeferred runs the functions deferred so far; those they defer in
// turn wait for the next timeslice, so that I/O is never starved.
func (k *Kernel) runDeferred() {
	batch := k.deferred
	k.deferred = k.deferring[:0]
	for i, fn := range batch {
		batch[i] = nil
		fn()
	}
	k.deferring = batch[:0]
}

// Stop stops every session at once, deepest first, with the usual _stop
// and _child deliveries, then makes the kernel the active session. Run
// returns shortly afterwards. Code after Stop in the same handler runs with
// the kernel active (so its Yields go nowhere).
func (k *Kernel) Stop() {
	order := k.descendants(k.self)
	for i := len(order) - 1; i >= 0; i-- {
		if s := order[i]; !s.freed {
			k.stopSession(s)
		}
	}
	k.active, k.activeEvent = k.self, ""
	k.gcSweep()
}

func (k *Kernel) setFatal(err error) {
	if k.fatal == nil {
		k.fatal = err
	}
}
