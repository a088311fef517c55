package ikc

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
)

// monitor is one session's callbacks about one kernel name.
type monitor struct {
	session *poe.Session
	name    string
	ops     map[string]string
	data    any
}

// monitors are the callbacks sessions asked for about kernels (10.11),
// by the kernel name watched ("*" for all).
type monitors struct {
	k      *poe.Kernel
	log    *slog.Logger
	byName map[string]map[poe.SessionID]*monitor
}

func newMonitors(k *poe.Kernel, log *slog.Logger) monitors {
	return monitors{k: k, log: log, byName: map[string]map[poe.SessionID]*monitor{}}
}

// set records session's callbacks about name; empty ops cancel them.
func (m *monitors) set(session *poe.Session, name string, ops map[string]string, data any) {
	if len(ops) == 0 {
		if list := m.byName[name]; list != nil {
			delete(list, session.ID())
			if len(list) == 0 {
				delete(m.byName, name)
			}
		}
		return
	}
	list := m.byName[name]
	if list == nil {
		list = map[poe.SessionID]*monitor{}
		m.byName[name] = list
	}
	cp := make(map[string]string, len(ops))
	for k, v := range ops {
		cp[k] = v
	}
	list[session.ID()] = &monitor{session: session, name: name, ops: cp, data: data}
}

// informOne posts op about kernel name to the monitors of name and of
// "*", in session ID order.
func (m *monitors) informOne(op, name string, real bool, args []any) {
	deliver := func(list map[poe.SessionID]*monitor) {
		ids := make([]poe.SessionID, 0, len(list))
		for id := range list {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			mon := list[id]
			ev, ok := mon.ops[op]
			if !ok || ev == "" || !mon.session.Alive() {
				continue
			}
			a := append([]any{mon.name, name, real, mon.data}, args...)
			if err := m.k.Post(mon.session, ev, a...); err != nil {
				m.log.Warn("ikc: monitor callback", "event", ev, "err", err)
			}
		}
	}
	deliver(m.byName[name])
	if name != "*" {
		deliver(m.byName["*"])
	}
}

// has reports whether someone monitors op for name or "*".
func (m *monitors) has(op, name string) bool {
	for _, key := range []string{name, "*"} {
		for _, mon := range m.byName[key] {
			if mon.ops[op] != "" {
				return true
			}
		}
	}
	return false
}

// Monitor asks for callbacks about kernel name (a remote ID, an alias, a
// specifier whose kernel part is used, or "*" for all): ops maps an
// operation (register, unregister, channel, subscribe, unsubscribe, error,
// shutdown) to the event posted to session with ARG0 = name, ARG1 = the
// kernel reported, ARG2 = whether ARG1 is a remote ID, ARG3 = data, then
// the op's arguments (ikc-protocol.md §10.11). Empty ops cancel.
func (r *Responder) Monitor(session *poe.Session, name string, ops map[string]string, data any) {
	if s, err := protocol.ParseSpecifier(name); err == nil && s.Kernel != "" && strings.HasPrefix(name, "poe:") {
		name = s.Kernel
	}
	r.monitors.set(session, name, ops, data)
}

// inform delivers an event about kernel name to its monitors and the "*"
// ones; for a remote ID the same follows for each of its aliases.
func (r *Responder) inform(op, name string, real bool, args ...any) {
	r.monitors.informOne(op, name, real, args)
	if real && op != "channel" {
		for _, a := range r.kernels.aliases[name] {
			r.monitors.informOne(op, a, false, args)
		}
	}
	if name == r.kernelID && op != "channel" {
		// The local kernel's names, as Perl reports local errors for
		// its ID and then its name (testdata/ikc/captures/g1-clientlite-basic).
		for _, a := range r.kernels.local[1:] {
			r.monitors.informOne(op, a, false, args)
		}
	}
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
