package ikc

import (
	"fmt"
	"os"
	"sort"

	"github.com/poe-go/poe/poe"
)

// kernels is the table of kernels this one knows (10.9, 10.10): the
// connected remote kernels and their channels, every name (remote and
// local) with the kernel ID it stands for, the aliases registered for each
// remote kernel, and the default kernel.
type kernels struct {
	localID  string
	channels map[string]*channel   // remote ID -> registered connection
	names    map[string]string     // every name -> ID (remote and local)
	aliases  map[string][]string   // remote ID -> registered aliases
	local    []string              // local names (kernel ID first)
	def      string                // default kernel ID, "" for none
	all      map[*channel]struct{} // every connection, negotiating ones too
}

func newKernels(localID string) kernels {
	return kernels{
		localID:  localID,
		channels: map[string]*channel{},
		names:    map[string]string{localID: localID},
		aliases:  map[string][]string{},
		local:    []string{localID},
		all:      map[*channel]struct{}{},
	}
}

// opened and closed keep track of every connection.
func (t *kernels) opened(c *channel) { t.all[c] = struct{}{} }
func (t *kernels) closed(c *channel) { delete(t.all, c) }

// id returns the kernel ID that name stands for.
func (t *kernels) id(name string) (string, bool) {
	id, ok := t.names[name]
	return id, ok
}

// channel returns the connection of a remote kernel ID, nil if none.
func (t *kernels) channel(id string) *channel { return t.channels[id] }

// connected reports whether id is a connected remote kernel's ID.
func (t *kernels) connected(id string) bool {
	_, ok := t.channels[id]
	return ok
}

// addLocal adds a name of the local kernel unless it is empty or taken.
func (t *kernels) addLocal(n string) {
	if n == "" {
		return
	}
	if _, taken := t.names[n]; taken {
		return
	}
	t.names[n] = t.localID
	t.local = append(t.local, n)
}

// setDefault makes the kernel name stands for the default one; false
// when name is unknown. "" clears the default.
func (t *kernels) setDefault(name string) bool {
	if name == "" {
		t.def = ""
		return true
	}
	id, ok := t.names[name]
	if !ok {
		return false
	}
	t.def = id
	return true
}

// ids returns the connected remote kernel IDs, sorted.
func (t *kernels) ids() []string {
	out := make([]string, 0, len(t.channels))
	for id := range t.channels {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// add records a connected kernel and the aliases of it that are free
// (the first one connected becomes the default); false when id is taken.
func (t *kernels) add(ch *channel, id string, aliases []string) bool {
	if _, taken := t.names[id]; taken {
		return false
	}
	t.channels[id] = ch
	t.names[id] = id
	var got []string
	for _, a := range aliases {
		if a == "" || a == id {
			continue
		}
		if _, taken := t.names[a]; taken {
			continue
		}
		t.names[a] = id
		got = append(got, a)
	}
	t.aliases[id] = got
	if t.def == "" {
		t.def = id
	}
	return true
}

// namesOf returns a remote kernel's ID and its aliases.
func (t *kernels) namesOf(id string) []string { return append([]string{id}, t.aliases[id]...) }

// remove forgets a remote kernel, its aliases and its channel.
func (t *kernels) remove(id string) {
	for _, a := range t.aliases[id] {
		delete(t.names, a)
	}
	delete(t.names, id)
	delete(t.aliases, id)
	delete(t.channels, id)
	if t.def == id {
		t.def = ""
	}
}

// addAlias registers a free name a for remote kernel id.
func (t *kernels) addAlias(id, a string) bool {
	if _, taken := t.names[a]; a == "" || taken {
		return false
	}
	t.names[a] = id
	t.aliases[id] = append(t.aliases[id], a)
	return true
}

// dropAlias forgets alias n of remote kernel id.
func (t *kernels) dropAlias(id, n string) {
	delete(t.names, n)
	if i := indexOf(t.aliases[id], n); i >= 0 {
		t.aliases[id] = append(t.aliases[id][:i:i], t.aliases[id][i+1:]...)
	}
}

// route appends the IDs a kernel part selects to dst, or returns an
// error text (Perl's).
func (t *kernels) route(dst []string, kernel string) ([]string, string) {
	switch kernel {
	case "*":
		return append(append(dst, t.localID), t.ids()...), ""
	case "":
		if t.def == "" {
			return nil, fmt.Sprintf("%d: Not connected to any foreign kernels.", os.Getpid())
		}
		return append(dst, t.def), ""
	}
	if id, ok := t.names[kernel]; ok {
		return append(dst, id), ""
	}
	return nil, fmt.Sprintf("%d: Unknown kernel '%s'.", os.Getpid(), kernel)
}

// RegisterLocal adds names for the local kernel: messages addressed to
// them are processed locally (10.9). A name already taken is skipped.
func (r *Responder) RegisterLocal(names ...string) {
	for _, n := range names {
		r.kernels.addLocal(n)
	}
}

// SetDefault sets the default kernel (used for specifiers without a
// kernel part). The name must be registered; "" clears it.
func (r *Responder) SetDefault(name string) error {
	if !r.kernels.setDefault(name) {
		r.log.Warn("ikc: default: unknown kernel", "name", name)
		return fmt.Errorf("%w %q", ErrUnknownKernel, name)
	}
	return nil
}

// Kernels returns the IDs of the connected remote kernels, sorted.
func (r *Responder) Kernels() []string { return r.kernels.ids() }

// Aliases returns the registered aliases of a remote kernel.
func (r *Responder) Aliases(id string) []string {
	return append([]string(nil), r.kernels.aliases[id]...)
}

// register records a connected kernel (called by its channel).
func (r *Responder) register(ch *channel, id string, aliases []string, pid any) error {
	if !r.kernels.add(ch, id, aliases) {
		return fmt.Errorf("%w: %d: Remote kernel '%s' already exists", ErrDuplicateKernel, os.Getpid(), id)
	}
	r.inform("register", id, true, pid)
	return nil
}

// unregister forgets a connected kernel (its channel closed).
func (r *Responder) unregister(id string) {
	if !r.kernels.connected(id) {
		return
	}
	r.inform("unregister", id, true)
	// Proxies and thunks for that kernel go, while monitors can still be
	// told which kernel they served.
	names := r.kernels.namesOf(id)
	r.dropProxies(names)
	r.thunks.drop(names)
	r.kernels.remove(id)
}

// evRegister adds aliases to a connected kernel: register(ID, aliases).
func (r *Responder) evRegister(e *poe.Event) any {
	id, _ := r.kernels.id(e.String(poe.ARG0))
	if !r.kernels.connected(id) {
		return false
	}
	for _, a := range stringList(e.Arg(poe.ARG1)) {
		if r.kernels.addAlias(id, a) {
			r.monitors.informOne("register", a, false, nil)
		}
	}
	return true
}

// evUnregister closes the connection of a kernel (by ID or alias) or
// drops aliases: unregister(names).
func (r *Responder) evUnregister(e *poe.Event) any {
	for _, n := range stringList(e.Arg(poe.ARG0)) {
		id, ok := r.kernels.id(n)
		if !ok || id == r.kernelID {
			continue
		}
		if n == id {
			if ch := r.kernels.channel(id); ch != nil {
				ch.shutdown()
			}
			continue
		}
		r.kernels.dropAlias(id, n)
		r.monitors.informOne("unregister", n, false, nil)
	}
	return nil
}

func (r *Responder) evRegisterLocal(e *poe.Event) any {
	for _, a := range e.Args {
		r.RegisterLocal(stringList(a)...)
	}
	return nil
}
