package ikc

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
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
	// its connection is refused (spec 16 #2).
	ErrDuplicateKernel = errors.New("ikc: remote kernel already exists")
	// ErrNotPublished: retract of something never published.
	ErrNotPublished = errors.New("ikc: not published")
)

// ResponderOptions configure Spawn.
type ResponderOptions struct {
	// Logger receives warnings (nil: slog.Default()).
	Logger *slog.Logger
}

// Responder is the per-kernel IKC dispatcher (spec 10): the session
// aliased "IKC" that keeps the published states, the connected kernels
// and their names, the monitors and the pending call replies, receives
// every request (10.1) and sends every message (10.8).
//
// All methods must be called on the kernel's goroutine (in handlers, or
// before Run), like every Kernel method.
type Responder struct {
	k        *poe.Kernel
	session  *poe.Session
	log      *slog.Logger
	kernelID string

	published map[string][]string // session name -> states
	rsvp      map[[2]string]int   // (session, state) -> pending replies

	channels  map[string]*channel // remote ID -> connection
	names     map[string]string   // every name -> ID (remote and local)
	aliases   map[string][]string // remote ID -> registered aliases
	local     []string            // local names (kernel ID first)
	monitors  map[string]map[poe.SessionID]*monitor
	defKernel string

	all       map[*channel]struct{}    // every connection, negotiating ones too
	closers   []io.Closer              // listeners closed at shutdown
	thunks    map[string]*poe.Session  // from -> current thunk
	proxies   map[string]*proxy        // "kernel\x00session" -> proxy
	receipts  map[string]*subscription // receipt state -> subscription
	callbacks map[string]func(any)     // reply state -> Go callback
	cbSeq     int
	shut      bool

	// Per-message scratch and caches of the receive and send paths.
	arg1      [1]any                       // receive's args of a plain request
	names1    map[string]any               // session name -> itself boxed
	fromAddrs map[string]*protocol.Address // session name -> its from (fromAddress)
}

var registry = struct {
	sync.Mutex
	m map[*poe.Kernel]*Responder
}{m: map[*poe.Kernel]*Responder{}}

// ResponderOf returns the kernel's responder, or nil.
func ResponderOf(k *poe.Kernel) *Responder {
	registry.Lock()
	defer registry.Unlock()
	return registry.m[k]
}

// Spawn returns the kernel's responder, creating the session aliased
// "IKC" if there is none (Server and Client call it). Unlike Perl's, a
// responder can be spawned again after a shutdown (spec 16 #20).
func Spawn(k *poe.Kernel, opts *ResponderOptions) (*Responder, error) {
	if r := ResponderOf(k); r != nil && !r.shut {
		return r, nil
	}
	r := &Responder{
		k:         k,
		log:       slog.Default(),
		kernelID:  k.ID(),
		published: map[string][]string{"IKC": {"remote_error", "do_you_have", "ping"}},
		rsvp:      map[[2]string]int{},
		channels:  map[string]*channel{},
		names:     map[string]string{},
		aliases:   map[string][]string{},
		monitors:  map[string]map[poe.SessionID]*monitor{},
		all:       map[*channel]struct{}{},
		proxies:   map[string]*proxy{},
		receipts:  map[string]*subscription{},
		callbacks: map[string]func(any){},
		thunks:    map[string]*poe.Session{},
		names1:    map[string]any{},
		fromAddrs: map[string]*protocol.Address{},
	}
	if opts != nil && opts.Logger != nil {
		r.log = opts.Logger
	}
	r.names[r.kernelID] = r.kernelID
	r.local = []string{r.kernelID}
	h := map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			if err := e.Kernel.AliasSet(ResponderAlias); err != nil {
				r.log.Warn("ikc: cannot take the IKC alias", "err", err)
			}
			return nil
		},
		"_stop":          func(e *poe.Event) any { r.stopped(); return nil },
		"post":           r.evPost,
		"call":           r.evCall,
		"publish":        r.evPublish,
		"retract":        r.evRetract,
		"published":      r.evPublished,
		"register":       r.evRegister,
		"unregister":     r.evUnregister,
		"register_local": r.evRegisterLocal,
		"default":        func(e *poe.Event) any { r.SetDefault(e.String(poe.ARG0)); return nil },
		"ping":           func(e *poe.Event) any { return "PONG" },
		"shutdown":       func(e *poe.Event) any { r.Shutdown(); return nil },
		"monitor":        r.evMonitor,
		"subscribe":      r.evSubscribe,
		"unsubscribe":    r.evUnsubscribe,
		"remote_error":   r.evRemoteError,
		"do_you_have":    r.evDoYouHave,
		"IKC:local":      r.evLocal,
		"IKC:timeout":    r.evReceiptTimeout,
		"_default":       r.evDefault,
	}
	var err error
	r.k.Session().Do(func() {
		r.session, err = k.Create(poe.Spec{Inline: h, Heap: r})
	})
	if err != nil {
		return nil, fmt.Errorf("ikc: spawn responder: %w", err)
	}
	registry.Lock()
	registry.m[k] = r
	registry.Unlock()
	return r, nil
}

// Session returns the responder's session.
func (r *Responder) Session() *poe.Session { return r.session }

// KernelID returns the local POE kernel ID (the first name this kernel
// announces).
func (r *Responder) KernelID() string { return r.kernelID }

func (r *Responder) stopped() {
	r.shutdownState()
	registry.Lock()
	if registry.m[r.k] == r {
		delete(registry.m, r.k)
	}
	registry.Unlock()
}

// ---------------------------------------------------------------------
// Publishing (10.2)

// sessionNames returns the names a session is published under: its
// aliases, or its numeric ID when it has none. A string is used as given.
func (r *Responder) sessionNames(s any) []string {
	switch x := s.(type) {
	case string:
		return []string{x}
	case *poe.Session:
		if a := x.Aliases(); len(a) > 0 {
			return a
		}
		return []string{strconv.FormatUint(uint64(x.ID()), 10)}
	case poe.SessionID:
		if ss, err := r.k.IDToSession(x); err == nil {
			return r.sessionNames(ss)
		}
		return []string{strconv.FormatUint(uint64(x), 10)}
	case int:
		return r.sessionNames(poe.SessionID(x))
	case nil:
		return nil
	}
	return []string{fmt.Sprint(s)}
}

// Publish makes states of a session invocable by remote kernels. session
// is a *poe.Session (every alias gets the states; a session without
// aliases is published under its numeric ID), a poe.SessionID, or a name
// recorded as given.
func (r *Responder) Publish(session any, states ...string) error {
	names := r.sessionNames(session)
	if len(names) == 0 {
		return fmt.Errorf("ikc: publish: no session given")
	}
	for _, n := range names {
		list := r.published[n]
		for _, st := range states {
			if !contains(list, st) {
				list = append(list, st)
			}
		}
		r.published[n] = list
	}
	return nil
}

// Retract removes published states of a session, or all of them when
// none are given. Retracting what was never published is an error
// (ErrNotPublished). Subscribed remote kernels are not told.
func (r *Responder) Retract(session any, states ...string) error {
	var err error
	for _, n := range r.sessionNames(session) {
		list, ok := r.published[n]
		if !ok {
			err = fmt.Errorf("%w: session %q", ErrNotPublished, n)
			continue
		}
		if len(states) == 0 {
			delete(r.published, n)
			continue
		}
		for _, st := range states {
			i := indexOf(list, st)
			if i < 0 {
				err = fmt.Errorf("%w: state %q of session %q", ErrNotPublished, st, n)
				continue
			}
			list = append(list[:i:i], list[i+1:]...)
		}
		if len(list) == 0 {
			delete(r.published, n)
		} else {
			r.published[n] = list
		}
	}
	if err != nil {
		r.log.Warn(err.Error())
	}
	return err
}

// Published returns the states published for a session name.
func (r *Responder) Published(session any) []string {
	var out []string
	for _, n := range r.sessionNames(session) {
		out = append(out, r.published[n]...)
	}
	return out
}

// PublishedAll returns every published session with its states,
// including IKC's own.
func (r *Responder) PublishedAll() map[string][]string {
	out := make(map[string][]string, len(r.published))
	for n, l := range r.published {
		out[n] = append([]string(nil), l...)
	}
	return out
}

func (r *Responder) isPublished(session, state string) bool {
	return contains(r.published[session], state)
}

// ---------------------------------------------------------------------
// Names (10.9, 10.10)

// RegisterLocal adds names for the local kernel: messages addressed to
// them are processed locally (10.9). A name already taken is skipped.
func (r *Responder) RegisterLocal(names ...string) {
	for _, n := range names {
		if n == "" {
			continue
		}
		if _, taken := r.names[n]; taken {
			continue
		}
		r.names[n] = r.kernelID
		r.local = append(r.local, n)
	}
}

// SetDefault sets the default kernel (used for specifiers without a
// kernel part). The name must be registered; "" clears it.
func (r *Responder) SetDefault(name string) error {
	if name == "" {
		r.defKernel = ""
		return nil
	}
	id, ok := r.names[name]
	if !ok {
		r.log.Warn("ikc: default: unknown kernel", "name", name)
		return fmt.Errorf("%w %q", ErrUnknownKernel, name)
	}
	r.defKernel = id
	return nil
}

// Kernels returns the IDs of the connected remote kernels, sorted.
func (r *Responder) Kernels() []string {
	out := make([]string, 0, len(r.channels))
	for id := range r.channels {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Aliases returns the registered aliases of a remote kernel.
func (r *Responder) Aliases(id string) []string {
	return append([]string(nil), r.aliases[id]...)
}

// register records a connected kernel (called by its channel).
func (r *Responder) register(ch *channel, id string, aliases []string, pid any) error {
	if _, taken := r.names[id]; taken {
		return fmt.Errorf("%w: %d: Remote kernel '%s' already exists", ErrDuplicateKernel, os.Getpid(), id)
	}
	r.channels[id] = ch
	r.names[id] = id
	var got []string
	for _, a := range aliases {
		if a == "" || a == id {
			continue
		}
		if _, taken := r.names[a]; taken {
			continue
		}
		r.names[a] = id
		got = append(got, a)
	}
	r.aliases[id] = got
	if r.defKernel == "" {
		r.defKernel = id
	}
	r.inform("register", id, true, pid)
	return nil
}

// unregister forgets a connected kernel (its channel closed).
func (r *Responder) unregister(id string) {
	if _, ok := r.channels[id]; !ok {
		return
	}
	r.inform("unregister", id, true)
	// Proxies for that kernel lose their aliases.
	names := append([]string{id}, r.aliases[id]...)
	for key, p := range r.proxies {
		if contains(names, p.spec.Kernel) {
			r.dropProxy(key, p)
		}
	}
	r.dropThunks(names)
	for _, a := range r.aliases[id] {
		delete(r.names, a)
	}
	delete(r.names, id)
	delete(r.aliases, id)
	delete(r.channels, id)
	if r.defKernel == id {
		r.defKernel = ""
	}
}

// ---------------------------------------------------------------------
// Monitors (10.11)

type monitor struct {
	session *poe.Session
	name    string
	ops     map[string]string
	data    any
}

// Monitor asks for callbacks about kernel name (a remote ID, an alias, a
// specifier whose kernel part is used, or "*" for all): ops maps an
// operation (register, unregister, channel, subscribe, unsubscribe, error,
// shutdown) to the event posted to session with ARG0 = name, ARG1 = the
// kernel reported, ARG2 = whether ARG1 is a remote ID, ARG3 = data, then
// the op's arguments (spec 10.11). Empty ops cancel.
func (r *Responder) Monitor(session *poe.Session, name string, ops map[string]string, data any) {
	if s, err := protocol.ParseSpecifier(name); err == nil && s.Kernel != "" && strings.HasPrefix(name, "poe:") {
		name = s.Kernel
	}
	if len(ops) == 0 {
		if m := r.monitors[name]; m != nil {
			delete(m, session.ID())
			if len(m) == 0 {
				delete(r.monitors, name)
			}
		}
		return
	}
	m := r.monitors[name]
	if m == nil {
		m = map[poe.SessionID]*monitor{}
		r.monitors[name] = m
	}
	cp := make(map[string]string, len(ops))
	for k, v := range ops {
		cp[k] = v
	}
	m[session.ID()] = &monitor{session: session, name: name, ops: cp, data: data}
}

// inform delivers an event about kernel name to its monitors and the "*"
// ones; for a remote ID the same follows for each of its aliases.
func (r *Responder) inform(op, name string, real bool, args ...any) {
	r.informOne(op, name, real, args)
	if real && op != "channel" {
		for _, a := range r.aliases[name] {
			r.informOne(op, a, false, args)
		}
	}
	if name == r.kernelID && op != "channel" {
		// The local kernel's names, as Perl reports local errors for
		// its ID and then its name (captures/g1-clientlite-basic).
		for _, a := range r.local[1:] {
			r.informOne(op, a, false, args)
		}
	}
}

func (r *Responder) informOne(op, name string, real bool, args []any) {
	deliver := func(list map[poe.SessionID]*monitor) {
		ids := make([]poe.SessionID, 0, len(list))
		for id := range list {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			m := list[id]
			ev, ok := m.ops[op]
			if !ok || ev == "" || !m.session.Alive() {
				continue
			}
			a := append([]any{m.name, name, real, m.data}, args...)
			if err := r.k.Post(m.session, ev, a...); err != nil {
				r.log.Warn("ikc: monitor callback", "event", ev, "err", err)
			}
		}
	}
	deliver(r.monitors[name])
	if name != "*" {
		deliver(r.monitors["*"])
	}
}

// hasMonitor reports whether someone monitors op for name or "*".
func (r *Responder) hasMonitor(op, name string) bool {
	for _, key := range []string{name, "*"} {
		for _, m := range r.monitors[key] {
			if m.ops[op] != "" {
				return true
			}
		}
	}
	return false
}

// ---------------------------------------------------------------------
// Sending (10.8)

// routes appends the IDs a kernel part selects to dst, or returns an
// error text.
func (r *Responder) routes(dst []string, kernel string) ([]string, string) {
	switch kernel {
	case "*":
		return append(append(dst, r.kernelID), r.Kernels()...), ""
	case "":
		if r.defKernel == "" {
			return nil, fmt.Sprintf("%d: Not connected to any foreign kernels.", os.Getpid())
		}
		return append(dst, r.defKernel), ""
	}
	if id, ok := r.names[kernel]; ok {
		return append(dst, id), ""
	}
	return nil, fmt.Sprintf("%d: Unknown kernel '%s'.", os.Getpid(), kernel)
}

// fromFor builds the from of a message sent on behalf of s (10.6): its
// first alias with published states, else none.
func (r *Responder) fromFor(s *poe.Session) *protocol.Address {
	if s == nil || s.IsKernel() || !s.Alive() {
		return nil
	}
	for _, n := range r.sessionNames(s) {
		if len(r.published[n]) > 0 {
			return r.fromAddress(n)
		}
	}
	return nil
}

// fromAddress returns the from of session name n, its hash built once
// (the same bytes NewAddress(...).Value() gives). Read-only: shared by
// every message that session sends.
func (r *Responder) fromAddress(n string) *protocol.Address {
	if a := r.fromAddrs[n]; a != nil {
		return a
	}
	if len(r.fromAddrs) >= 256 {
		clear(r.fromAddrs)
	}
	a := protocol.PrebuiltAddress(protocol.Specifier{Kernel: r.kernelID, Session: n, State: protocol.ProxyState})
	r.fromAddrs[n] = &a
	return &a
}

// send routes m (filling its from for behalf when it has none) and
// returns how many kernels it was written to. For a call (m.RSVP set) the
// rsvp allowance grows once per kernel reached.
func (r *Responder) send(m *protocol.Message, behalf *poe.Session) (int, error) {
	if r.shut {
		return 0, ErrNoResponder
	}
	to := m.Event.Specifier
	if to.Session == "" || to.State == "" {
		r.log.Warn("ikc: need a session and a state to send", "event", to.String())
		return 0, fmt.Errorf("%w: %s", ErrNoState, to)
	}
	if m.From == nil && !m.IsError {
		m.From = r.fromFor(behalf)
	}
	var one [1]string
	ids, errText := r.routes(one[:0], to.Kernel)
	if errText != "" {
		r.inform("error", "*", false, "resolve", errText)
		return 0, fmt.Errorf("%w: %s", ErrUnknownKernel, errText)
	}
	n := 0
	for _, id := range ids {
		if m.RSVP != nil {
			r.rsvp[rsvpKey(m.RSVP.Specifier)]++
		}
		var err error
		if id == r.kernelID {
			err = r.sendLocal(m)
		} else if ch := r.channels[id]; ch != nil {
			err = ch.write(m)
		} else {
			err = fmt.Errorf("%w %q", ErrUnknownKernel, id)
		}
		if err != nil {
			if m.RSVP != nil {
				r.allowDec(rsvpKey(m.RSVP.Specifier))
			}
			r.log.Warn("ikc: send failed", "kernel", id, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

func rsvpKey(s protocol.Specifier) [2]string { return [2]string{s.Session, s.State} }

func (r *Responder) allowDec(key [2]string) {
	if r.rsvp[key] <= 1 {
		delete(r.rsvp, key)
	} else {
		r.rsvp[key]--
	}
}

// sendLocal delivers a message addressed to the local kernel (10.9): a
// copy (frozen and thawed, as a peer would see it) is processed by the
// receive path in a later event.
func (r *Responder) sendLocal(m *protocol.Message) error {
	cp := *m
	if cp.RSVP != nil && cp.RSVP.Kernel == "" {
		rs := *cp.RSVP
		rs.Kernel = r.kernelID
		cp.RSVP = &rs
	}
	payload, err := protocol.FreezeMessage(freezer.Storable{}, &cp)
	if err != nil {
		return err
	}
	msg, err := protocol.ThawMessage(freezer.Storable{}, payload)
	if err != nil && msg == nil {
		return err
	}
	return r.k.Post(r.session, "IKC:local", msg, err)
}

func (r *Responder) evLocal(e *poe.Event) any {
	msg, _ := e.Arg(poe.ARG0).(*protocol.Message)
	err, _ := e.Arg(poe.ARG1).(error)
	if msg != nil {
		r.receive(msg, err, r.kernelID)
	}
	return nil
}

// expandTarget applies Perl's rule for IKC/post and IKC/call targets: a
// string not starting with "poe:" gets "poe://" prepended.
func expandTarget(target any) (protocol.Address, error) {
	switch x := target.(type) {
	case protocol.Address:
		return x, nil
	case *protocol.Address:
		if x == nil {
			return protocol.Address{}, fmt.Errorf("%w: nil", protocol.ErrBadSpecifier)
		}
		return *x, nil
	case protocol.Specifier:
		return protocol.NewAddress(x), nil
	case *protocol.Specifier:
		if x == nil {
			return protocol.Address{}, fmt.Errorf("%w: nil", protocol.ErrBadSpecifier)
		}
		return protocol.NewAddress(*x), nil
	case map[string]any, *storable.Hash:
		v, err := protocol.ToValue(x)
		if err != nil {
			return protocol.Address{}, err
		}
		return protocol.AddressFromValue(v)
	case string:
		s := x
		if !strings.HasPrefix(s, "poe:") {
			s = "poe://" + s
		}
		return protocol.StringAddress(s)
	case storable.Bytes:
		return expandTarget(string(x))
	case storable.String:
		return expandTarget(string(x))
	}
	return protocol.Address{}, fmt.Errorf("%w: a %T", protocol.ErrBadSpecifier, target)
}

// Post sends a request to a remote state: the target is a specifier
// ("poe://Kernel/session/state"; a string not starting with "poe:" gets
// "poe://" prepended, as in Perl) and the sending session is the active
// one. With exactly one argument it is the target's ARG0 (Perl's
// IKC/post); with none or several the target receives them as ARG0..ARGn
// (via IKC:proxy). It returns the number of kernels reached.
func (r *Responder) Post(target any, args ...any) (int, error) {
	return r.post(r.k.ActiveSession(), target, args)
}

func (r *Responder) post(sender *poe.Session, target any, args []any) (int, error) {
	to, err := expandTarget(target)
	if err != nil {
		return 0, err
	}
	if to.State == "" {
		r.log.Warn("ikc: Need a state name for IKC/post", "target", to.String())
		return 0, fmt.Errorf("%w: %s", ErrNoState, to)
	}
	to, params, err := protocol.RequestParams(to, args)
	if err != nil {
		return 0, err
	}
	return r.send(&protocol.Message{Event: to, Params: params}, sender)
}

// Call sends a request whose return value is posted back to rsvp, a
// specifier of a local state ("poe:callback" names a state of the calling
// session: an empty session part becomes the caller's numeric ID, as in
// Perl). Arguments as in Post. It returns the number of kernels reached.
func (r *Responder) Call(target any, rsvp any, args ...any) (int, error) {
	return r.call(r.k.ActiveSession(), target, rsvp, args)
}

func (r *Responder) call(sender *poe.Session, target, rsvp any, args []any) (int, error) {
	to, err := expandTarget(target)
	if err != nil {
		return 0, err
	}
	if to.State == "" {
		return 0, fmt.Errorf("%w: %s", ErrNoState, to)
	}
	rs, err := expandTarget(rsvp)
	if err != nil {
		return 0, fmt.Errorf("ikc: call: rsvp: %w", err)
	}
	if rs.State == "" {
		return 0, fmt.Errorf("ikc: call: rsvp %w: %s", ErrNoState, rs)
	}
	if rs.Session == "" {
		if sender == nil || sender.IsKernel() {
			return 0, fmt.Errorf("ikc: call: rsvp %s names no session and there is no calling session", rs)
		}
		rs = protocol.NewAddress(protocol.Specifier{Kernel: rs.Kernel, Session: strconv.FormatUint(uint64(sender.ID()), 10), State: rs.State, Args: rs.Args})
	}
	to, params, err := protocol.RequestParams(to, args)
	if err != nil {
		return 0, err
	}
	return r.send(&protocol.Message{Event: to, Params: params, RSVP: &rs}, sender)
}

// CallFunc is Call with a Go function as the reply target: fn runs (on
// the kernel's goroutine) with the reply's value. It is called at most
// once; a call that gets no reply (the target returned nil) never calls it.
func (r *Responder) CallFunc(target any, fn func(result any), args ...any) (int, error) {
	r.cbSeq++
	state := "IKC:reply " + strconv.Itoa(r.cbSeq)
	r.callbacks[state] = fn
	n, err := r.call(r.k.ActiveSession(), target, protocol.NewAddress(protocol.Specifier{Session: ResponderAlias, State: state}), args)
	if n == 0 {
		delete(r.callbacks, state)
	}
	return n, err
}

// ---------------------------------------------------------------------
// Receiving (10.1)

// receive processes one request that arrived from kernel rid (the local
// kernel ID for local deliveries). decodeErr is DecodeMessage's error: a
// message with a bad event is treated as addressed to the empty specifier.
func (r *Responder) receive(msg *protocol.Message, decodeErr error, rid string) {
	if r.shut {
		return
	}
	to := msg.Event.Specifier
	badEvent := false
	if decodeErr != nil {
		var me *protocol.MessageError
		if errors.As(decodeErr, &me) && me.Key == protocol.KeyEvent {
			to = protocol.Specifier{}
			badEvent = true
		}
	}
	fail := func(phase, text string) {
		text = strings.TrimSuffix(text, "\n") + ".  Request " + to.String()
		if msg.From != nil {
			text += " sent by " + msg.From.String()
		}
		mk := to.Kernel
		if mk == "" {
			mk = "*"
		}
		if !r.hasMonitor("error", mk) {
			r.log.Warn("ikc: refused a request", "phase", phase, "error", text)
		}
		r.inform("error", mk, false, "local-"+phase, text)
		if msg.IsError {
			return
		}
		var rkernel storable.Value = protocol.StringValue(to.Kernel)
		if badEvent {
			rkernel = storable.Undef{}
		}
		errorsTo := protocol.NewAddress(protocol.Specifier{Kernel: rid, Session: ResponderAlias, State: "remote_error"})
		reply := &protocol.Message{
			Event:   errorsTo,
			Params:  storable.NewArray(protocol.StringValue(text), rkernel, protocol.StringValue(phase)),
			IsError: true,
		}
		r.send(reply, nil)
	}

	var args []any
	if to.State == protocol.ProxyState {
		a, ok := msg.Params.(*storable.Array)
		var st string
		var inner *storable.Array
		if ok && len(a.Elems) >= 1 {
			st, _ = storable.Text(a.Elems[0])
			if len(a.Elems) >= 2 {
				inner, _ = a.Elems[1].(*storable.Array)
			} else {
				inner = &storable.Array{}
			}
		}
		if st == "" || inner == nil {
			fail("request", "IKC:proxy needs params [state, [arguments]]")
			return
		}
		to.State = st
		args = make([]any, len(inner.Elems))
		for i, v := range inner.Elems {
			args[i] = protocol.FromValue(v)
		}
	} else {
		args = r.arg1[:1:1]
		args[0] = protocol.FromValue(msg.Params)
		defer func() { r.arg1[0] = nil }()
	}

	key := rsvpKey(to)
	switch {
	case r.rsvp[key] > 0:
		r.allowDec(key)
	case r.published[to.Session] == nil:
		fail("check", fmt.Sprintf("Session '%s' is not available for remote kernels", to.Session))
		return
	case !r.isPublished(to.Session, to.State):
		fail("check", fmt.Sprintf("Session '%s' has not published state '%s'", to.Session, to.State))
		return
	}
	if to.Args != "" {
		args = append(args, to.Args)
	}

	target := r.resolveSession(to.Session)
	if target == nil {
		fail("resolve", fmt.Sprintf("Unknown session '%s'", to.Session))
		return
	}

	thunk := r.thunkFor(msg.From)
	var ret any
	var callErr error
	thunk.Do(func() { ret, callErr = r.k.Call(target, to.State, args...) })
	if callErr != nil {
		fail("invocation", callErr.Error())
		return
	}
	if msg.RSVP == nil {
		return
	}
	var params storable.Value
	if msg.WantList() {
		list := listOf(ret)
		if len(list) == 0 {
			return
		}
		v, err := protocol.ToValue(list)
		if err != nil {
			fail("invocation", err.Error())
			return
		}
		params = v
	} else {
		if ret == nil {
			return // undef: no reply (captures/d-call-rsvp)
		}
		v, err := protocol.ToValue(ret)
		if err != nil {
			fail("invocation", err.Error())
			return
		}
		params = v
	}
	if _, err := r.send(&protocol.Message{Event: *msg.RSVP, Params: params}, target); err != nil {
		r.log.Warn("ikc: reply not sent", "rsvp", msg.RSVP.String(), "err", err)
	}
}

// listOf makes a handler's return value a list (wantarray calls).
func listOf(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return []any{v}
}

// boxedName returns name as an any for AliasResolve, boxed once per name
// (session names of incoming requests repeat).
func (r *Responder) boxedName(name string) any {
	if v, ok := r.names1[name]; ok {
		return v
	}
	if len(r.names1) >= 256 {
		clear(r.names1)
	}
	var v any = name
	r.names1[name] = v
	return v
}

// resolveSession finds a local session by alias or numeric ID.
func (r *Responder) resolveSession(name string) *poe.Session {
	if name == "" {
		return nil
	}
	if allDigits(name) {
		id, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			return nil
		}
		s, err := r.k.IDToSession(poe.SessionID(id))
		if err != nil {
			return nil
		}
		return s
	}
	s := r.k.AliasResolve(r.boxedName(name))
	if s == nil || s.IsKernel() {
		return nil
	}
	return s
}

// ---------------------------------------------------------------------
// Thunks (10.5)

type thunkHeap struct {
	r    *Responder
	from *protocol.Address
}

// thunkFor returns the session that is SENDER of an incoming request:
// the current thunk for that remote sender, unless application code holds
// a reference on it (then a fresh one). Thunks are kept per remote sender
// so that answers posted later never go to another sender.
func (r *Responder) thunkFor(from *protocol.Address) *poe.Session {
	key := ""
	if from != nil {
		key = from.Kernel + "\x00" + from.Session + "\x00" + from.State
	}
	if t := r.thunks[key]; t != nil && t.Alive() {
		if t.ExtraRefTags() == 0 {
			return t
		}
		// Held by the application: it keeps serving that sender until
		// released.
		r.releaseThunk(t)
	}
	var fromCopy *protocol.Address
	if from != nil {
		a := protocol.NewAddress(from.Specifier)
		fromCopy = &a
	}
	th := &thunkHeap{r: r, from: fromCopy}
	var s *poe.Session
	r.session.Do(func() {
		s, _ = r.k.Create(poe.Spec{Heap: th, Inline: map[string]poe.Handler{
			"_start":   func(e *poe.Event) any { e.Kernel.AliasSet(thunkAlias(e.Session)); return nil },
			"_default": thunkDefault,
		}})
	})
	r.thunks[key] = s
	return s
}

// releaseThunk drops the responder's hold (its alias) on a thunk.
func (r *Responder) releaseThunk(t *poe.Session) {
	if t.Alive() {
		t.Do(func() { r.k.AliasRemove(thunkAlias(t)) })
	}
}

// dropThunks releases the thunks serving senders of the given kernels
// (all when names is nil).
func (r *Responder) dropThunks(names []string) {
	for key, t := range r.thunks {
		th, _ := t.Heap().(*thunkHeap)
		if names == nil || th != nil && th.from != nil && contains(names, th.from.Kernel) {
			r.releaseThunk(t)
			delete(r.thunks, key)
		}
	}
}

func thunkAlias(s *poe.Session) string { return "IKC:thunk " + strconv.FormatUint(uint64(s.ID()), 10) }

// thunkDefault forwards an event posted to a thunk to the remote sender
// of the request it served.
func thunkDefault(e *poe.Event) any {
	th := e.Heap.(*thunkHeap)
	ev := e.String(poe.ARG0)
	if strings.HasPrefix(ev, "_") {
		return nil
	}
	args := e.Slice(poe.ARG1)
	r := th.r
	if r.shut {
		return nil
	}
	if th.from == nil {
		r.log.Warn(fmt.Sprintf("Attempt to respond to an anonymous foreign post with '%s'", ev))
		return nil
	}
	vals := make([]storable.Value, len(args))
	for i, a := range args {
		v, err := protocol.ToValue(a)
		if err != nil {
			r.log.Warn("ikc: cannot forward to the remote sender", "event", ev, "err", err)
			return nil
		}
		vals[i] = v
	}
	var m *protocol.Message
	if th.from.State != "" {
		m = &protocol.Message{Event: *th.from, Params: storable.NewArray(protocol.StringValue(ev), &storable.Array{Elems: vals})}
	} else {
		m = &protocol.Message{
			Event:  protocol.NewAddress(protocol.Specifier{Kernel: th.from.Kernel, Session: th.from.Session, State: ev}),
			Params: &storable.Array{Elems: vals},
		}
	}
	r.send(m, e.Sender)
	return nil
}

// ---------------------------------------------------------------------
// Built-in published states

// evRemoteError handles IKC/remote_error: an error report from a peer.
func (r *Responder) evRemoteError(e *poe.Event) any {
	switch p := e.Arg(poe.ARG0).(type) {
	case []any:
		text, kernel, phase := "", "*", ""
		if len(p) > 0 {
			text = fmt.Sprint(p[0])
		}
		if len(p) > 1 && p[1] != nil && fmt.Sprint(p[1]) != "" {
			kernel = fmt.Sprint(p[1])
		}
		if len(p) > 2 {
			phase = fmt.Sprint(p[2])
		}
		if !r.hasMonitor("error", kernel) {
			r.log.Warn(fmt.Sprintf("%d: Remote error: %s", os.Getpid(), text))
		}
		r.inform("error", kernel, false, "remote-"+phase, text)
	default:
		text := fmt.Sprint(p)
		if !r.hasMonitor("error", "*") {
			r.log.Warn(fmt.Sprintf("%d: Remote error: %s", os.Getpid(), text))
		}
		r.inform("error", "*", false, "remote", text)
	}
	return nil
}

// evDoYouHave answers a subscription query (10.7).
func (r *Responder) evDoYouHave(e *poe.Event) any {
	p := e.Slice(poe.ARG0)
	if len(p) == 0 {
		return "Refused subscription"
	}
	v, err := protocol.ToValue(p[0])
	if err != nil {
		return "Refused subscription"
	}
	spec, err := protocol.SpecifierFromValue(v)
	if err != nil {
		return fmt.Sprintf("Bad state %v", p[0])
	}
	if r.published[spec.Session] != nil && (spec.State == "" || r.isPublished(spec.Session, spec.State)) {
		if spec.Kernel == "" {
			spec.Kernel = r.kernelID
		}
		return []any{map[string]any{"kernel": spec.Kernel, "session": spec.Session, "state": spec.State}, r.kernelID}
	}
	return "Refused subscription " + spec.String()
}

// evDefault dispatches replies to Go callbacks and subscription receipts.
func (r *Responder) evDefault(e *poe.Event) any {
	ev := e.String(poe.ARG0)
	args := e.Slice(poe.ARG1)
	var arg any
	if len(args) > 0 {
		arg = args[0]
	}
	if fn, ok := r.callbacks[ev]; ok {
		delete(r.callbacks, ev)
		fn(arg)
		return nil
	}
	if sub, ok := r.receipts[ev]; ok {
		r.receipt(ev, sub, arg)
		return nil
	}
	if !strings.HasPrefix(ev, "_") {
		r.log.Warn("ikc: unknown IKC event", "event", ev)
	}
	return nil
}

// ---------------------------------------------------------------------
// Shutdown (10.13)

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
	r.informOne("shutdown", "*", false, nil)
	r.shutdownState()
	r.session.Do(func() {
		r.k.AliasRemove(ResponderAlias)
		r.k.AlarmRemoveAll()
	})
	registry.Lock()
	if registry.m[r.k] == r {
		delete(registry.m, r.k)
	}
	registry.Unlock()
}

func (r *Responder) shutdownState() {
	if r.shut {
		return
	}
	r.shut = true
	for _, c := range r.closers {
		c.Close()
	}
	r.closers = nil
	for ch := range r.all {
		ch.shutdown()
	}
	for key, p := range r.proxies {
		r.dropProxy(key, p)
	}
	r.dropThunks(nil)
	r.receipts = map[string]*subscription{}
	r.callbacks = map[string]func(any){}
}

// ---------------------------------------------------------------------
// Perl-style events

func (r *Responder) evPost(e *poe.Event) any {
	n, _ := r.post(e.Sender, e.Arg(poe.ARG0), []any{e.Arg(poe.ARG1)})
	return n
}

func (r *Responder) evCall(e *poe.Event) any {
	n, _ := r.call(e.Sender, e.Arg(poe.ARG0), e.Arg(poe.ARG2), []any{e.Arg(poe.ARG1)})
	return n
}

func stringList(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{x}
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, s := range x {
			out = append(out, fmt.Sprint(s))
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

func (r *Responder) evPublish(e *poe.Event) any {
	return r.Publish(e.Arg(poe.ARG0), stringList(e.Arg(poe.ARG1))...) == nil
}

func (r *Responder) evRetract(e *poe.Event) any {
	return r.Retract(e.Arg(poe.ARG0), stringList(e.Arg(poe.ARG1))...) == nil
}

func (r *Responder) evPublished(e *poe.Event) any {
	if e.Arg(poe.ARG0) == nil {
		return r.PublishedAll()
	}
	return r.Published(e.Arg(poe.ARG0))
}

// evRegister adds aliases to a connected kernel: register(ID, aliases).
func (r *Responder) evRegister(e *poe.Event) any {
	id := r.names[e.String(poe.ARG0)]
	if _, ok := r.channels[id]; !ok {
		return false
	}
	for _, a := range stringList(e.Arg(poe.ARG1)) {
		if _, taken := r.names[a]; a == "" || taken {
			continue
		}
		r.names[a] = id
		r.aliases[id] = append(r.aliases[id], a)
		r.informOne("register", a, false, nil)
	}
	return true
}

// evUnregister closes the connection of a kernel (by ID or alias) or
// drops aliases: unregister(names).
func (r *Responder) evUnregister(e *poe.Event) any {
	for _, n := range stringList(e.Arg(poe.ARG0)) {
		id, ok := r.names[n]
		if !ok || id == r.kernelID {
			continue
		}
		if n == id {
			if ch := r.channels[id]; ch != nil {
				ch.shutdown()
			}
			continue
		}
		delete(r.names, n)
		if i := indexOf(r.aliases[id], n); i >= 0 {
			r.aliases[id] = append(r.aliases[id][:i:i], r.aliases[id][i+1:]...)
		}
		r.informOne("unregister", n, false, nil)
	}
	return nil
}

func (r *Responder) evRegisterLocal(e *poe.Event) any {
	for _, a := range e.Args {
		r.RegisterLocal(stringList(a)...)
	}
	return nil
}

// evMonitor is IKC/monitor(name, {op => state, ..., data => value}).
func (r *Responder) evMonitor(e *poe.Event) any {
	name := e.String(poe.ARG0)
	ops := map[string]string{}
	var data any
	switch m := e.Arg(poe.ARG1).(type) {
	case map[string]any:
		for k, v := range m {
			if k == "data" {
				data = v
				continue
			}
			ops[k] = fmt.Sprint(v)
		}
	case map[string]string:
		for k, v := range m {
			if k == "data" {
				data = v
				continue
			}
			ops[k] = v
		}
	}
	r.Monitor(e.Sender, name, ops, data)
	return nil
}

// ---------------------------------------------------------------------
// Package-level API

func responderFor(k *poe.Kernel) (*Responder, error) {
	r := ResponderOf(k)
	if r == nil || r.shut {
		return nil, ErrNoResponder
	}
	return r, nil
}

// Post sends a request to a remote (or local) state on behalf of the
// active session; see Responder.Post.
func Post(k *poe.Kernel, target any, args ...any) (int, error) {
	r, err := responderFor(k)
	if err != nil {
		return 0, err
	}
	return r.Post(target, args...)
}

// Call sends a request whose return value is posted to rsvp; see
// Responder.Call.
func Call(k *poe.Kernel, target any, rsvp any, args ...any) (int, error) {
	r, err := responderFor(k)
	if err != nil {
		return 0, err
	}
	return r.Call(target, rsvp, args...)
}

// CallFunc sends a request whose return value is given to fn; see
// Responder.CallFunc.
func CallFunc(k *poe.Kernel, target any, fn func(result any), args ...any) (int, error) {
	r, err := responderFor(k)
	if err != nil {
		return 0, err
	}
	return r.CallFunc(target, fn, args...)
}

// Publish makes states of a session invocable by remote kernels; it
// spawns the responder if needed. See Responder.Publish.
func Publish(k *poe.Kernel, session any, states ...string) error {
	r, err := Spawn(k, nil)
	if err != nil {
		return err
	}
	return r.Publish(session, states...)
}

// Retract withdraws published states; see Responder.Retract.
func Retract(k *poe.Kernel, session any, states ...string) error {
	r, err := responderFor(k)
	if err != nil {
		return err
	}
	return r.Retract(session, states...)
}

// Monitor registers the active session's callbacks about kernel name;
// see Responder.Monitor.
func Monitor(k *poe.Kernel, name string, ops map[string]string, data any) error {
	r, err := Spawn(k, nil)
	if err != nil {
		return err
	}
	r.Monitor(k.ActiveSession(), name, ops, data)
	return nil
}

// Shutdown ends IKC in the kernel; see Responder.Shutdown.
func Shutdown(k *poe.Kernel) {
	if r := ResponderOf(k); r != nil {
		r.Shutdown()
	}
}

// allDigits reports whether s is a non-empty run of ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool { return indexOf(list, s) >= 0 }

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
