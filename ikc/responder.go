package ikc

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
)

// ResponderAlias is the alias of the responder session: Perl programs post
// to "IKC" ($kernel->post(IKC => post => ...)).
const ResponderAlias = protocol.ResponderAlias

// Errors of the local API.
var (
	// ErrNoResponder: the kernel has no IKC responder (no Server, Client
	// or Spawn yet, or IKC was shut down).
	ErrNoResponder = errors.New("ikc: no IKC responder in this kernel")
	// ErrNoState: a specifier used to send lacks the session or the state.
	ErrNoState = protocol.ErrNoState
	// ErrUnknownKernel: no connected kernel has that name.
	ErrUnknownKernel = errors.New("ikc: unknown kernel")
	// ErrDuplicateKernel: a peer announced a kernel ID already registered;
	// its connection is refused (ikc-protocol.md §16 #2).
	ErrDuplicateKernel = errors.New("ikc: remote kernel already exists")
	// ErrNotPublished: retract of something never published.
	ErrNotPublished = errors.New("ikc: not published")
)

// ResponderOptions configure Spawn.
type ResponderOptions struct {
	// Logger receives warnings (nil: slog.Default()).
	Logger *slog.Logger
	// SubscribeTimeout is how long a subscription waits for the remote
	// kernel's answer before it counts as refused (0:
	// DefaultSubscribeTimeout).
	SubscribeTimeout time.Duration
	// MaxThunks caps the thunks (10.5) of the senders of one connected
	// kernel, the least recently used going first (0: DefaultMaxThunks;
	// negative: no cap). ThunkIdle lets go of a thunk that served nothing
	// for that long (0: DefaultThunkIdle).
	MaxThunks int
	ThunkIdle time.Duration
	// LogInterval is the period of the summary lines of repeated log
	// records that peers cause (0: ratelog.DefaultInterval, 10 s).
	LogInterval time.Duration
	// Limits are the defaults of every connection of this kernel; a
	// Server's or Client's own Limits take precedence.
	Limits Limits
	// ReleaseThreshold: when a connection whose buffers (a frame, its
	// queued output) reached this many octets ends, the memory goes back
	// to the operating system at once (0: DefaultReleaseThreshold;
	// negative: left to the Go runtime).
	ReleaseThreshold int
}

// Responder is the per-kernel IKC dispatcher (ikc-protocol.md §10): the session
// aliased "IKC" that keeps the published states, the connected kernels
// and their names, the monitors and the pending call replies, receives
// every request (10.1) and sends every message (10.8).
//
// All methods must be called on the kernel's goroutine (in handlers, or
// before Run), like every Kernel method.
type Responder struct {
	k                *poe.Kernel
	session          *poe.Session
	log              *slog.Logger
	kernelID         string
	subscribeTimeout time.Duration
	limits           Limits // connection defaults (ResponderOptions.Limits)
	shut             bool
	closers          []io.Closer // listeners closed at shutdown

	kernels  kernels       // connected kernels, every name, the default
	pubs     publications  // published states, call reply allowances
	monitors monitors      // callbacks about kernels
	thunks   thunks        // stand-ins for remote senders
	subs     subscriptions // pending subscriptions and proxy sessions
	replies  replies       // Go functions waiting for call replies
	in       inbox         // receive's scratch
	from     fromCache     // the from addresses of local sessions
	logs     peerLogs      // records peers can cause in bulk, folded
	stats    peerStats     // counters of trouble with peers (Stats)
	mem      *memRelease   // gives back what large connections used
}

// ResponderOf returns the kernel's responder (the heap of the session
// aliased IKC), or nil. Call it on the kernel's goroutine.
func ResponderOf(k *poe.Kernel) *Responder {
	s := k.AliasResolve(ResponderAlias)
	if s == nil {
		return nil
	}
	r, _ := s.Heap().(*Responder)
	return r
}

// Spawn returns the kernel's responder, creating the session aliased
// "IKC" if there is none (Server and Client call it). Unlike Perl's, a
// responder can be spawned again after a shutdown (ikc-protocol.md §16 #20).
func Spawn(k *poe.Kernel, opts *ResponderOptions) (*Responder, error) {
	if r := ResponderOf(k); r != nil && !r.shut {
		return r, nil
	}
	r := &Responder{
		k:                k,
		log:              slog.Default(),
		kernelID:         k.ID(),
		subscribeTimeout: DefaultSubscribeTimeout,
	}
	if opts != nil && opts.Logger != nil {
		r.log = opts.Logger
	}
	var o ResponderOptions
	if opts != nil {
		o = *opts
	}
	if o.SubscribeTimeout > 0 {
		r.subscribeTimeout = o.SubscribeTimeout
	}
	r.limits = o.Limits
	r.logs = newPeerLogs(r.log, o.LogInterval)
	r.mem = newMemRelease(o.ReleaseThreshold)
	r.kernels = newKernels(r.kernelID)
	r.pubs = newPublications()
	r.monitors = newMonitors(k, r.log)
	r.thunks = newThunks(k, o.MaxThunks, o.ThunkIdle)
	r.subs = newSubscriptions()
	r.replies = newReplies()
	r.in = newInbox()
	r.from = newFromCache(r.kernelID)
	h := map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			if err := e.Kernel.AliasSet(ResponderAlias); err != nil {
				r.log.Warn("ikc: cannot take the IKC alias", "err", err)
			}
			return nil
		},
		"_stop":           func(e *poe.Event) any { r.shutdownState(); return nil },
		"post":            r.evPost,
		"call":            r.evCall,
		"publish":         r.evPublish,
		"retract":         r.evRetract,
		"published":       r.evPublished,
		"register":        r.evRegister,
		"unregister":      r.evUnregister,
		"register_local":  r.evRegisterLocal,
		"default":         func(e *poe.Event) any { r.SetDefault(e.String(poe.ARG0)); return nil },
		"ping":            func(e *poe.Event) any { return "PONG" },
		"shutdown":        func(e *poe.Event) any { r.Shutdown(); return nil },
		"monitor":         r.evMonitor,
		"subscribe":       r.evSubscribe,
		"unsubscribe":     r.evUnsubscribe,
		"remote_error":    r.evRemoteError,
		"do_you_have":     r.evDoYouHave,
		"IKC:local":       r.evLocal,
		"IKC:timeout":     r.evReceiptTimeout,
		"IKC:thunk_sweep": r.evThunkSweep,
		"_default":        r.evDefault,
	}
	var err error
	r.k.Session().Do(func() {
		r.session, err = k.Create(poe.Spec{Inline: h, Heap: r})
	})
	if err != nil {
		return nil, fmt.Errorf("ikc: spawn responder: %w", err)
	}
	return r, nil
}

// Session returns the responder's session.
func (r *Responder) Session() *poe.Session { return r.session }

// KernelID returns the local POE kernel ID (the first name this kernel
// announces).
func (r *Responder) KernelID() string { return r.kernelID }

// AddCloser registers c (a listener) to be closed at Shutdown.
func (r *Responder) AddCloser(c io.Closer) { r.closers = append(r.closers, c) }

// Shutdown ends IKC in this kernel: the IKC alias goes, every connection
// is closed after its pending output, "*" monitors get shutdown,
// listeners and subscription timers are dropped. Nothing is sent to
// peers. A new responder can be spawned afterwards.
func (r *Responder) Shutdown() {
	if r.shut {
		return
	}
	r.monitors.informOne("shutdown", "*", false, nil)
	r.shutdownState()
	r.session.Do(func() {
		r.k.AliasRemove(ResponderAlias)
		r.k.AlarmRemoveAll()
	})
}

// shutdownState closes the listeners and connections and drops the
// proxies, thunks and pending subscriptions and replies.
func (r *Responder) shutdownState() {
	if r.shut {
		return
	}
	r.shut = true
	for _, c := range r.closers {
		c.Close()
	}
	r.closers = nil
	for ch := range r.kernels.all {
		ch.shutdown()
	}
	r.dropProxies(nil)
	r.thunks.drop(nil)
	r.subs.reset()
	r.replies.reset()
	r.logs.agg.Close()
}
