package poe

import (
	"fmt"
	"sort"
)

// AliasSet gives the active session a global name. Setting an alias it
// already has is a no-op; an alias owned by another session fails with
// EEXIST. Each alias holds the session alive but does not keep the kernel
// from going idle.
func (k *Kernel) AliasSet(name string) error {
	k.onGoroutine()
	s := k.active
	if s == k.self {
		return ErrNoActiveSession
	}
	if owner, ok := k.aliases[name]; ok {
		if owner == s {
			return nil
		}
		return errnof(eexist, fmt.Sprintf("alias %q belongs to %s", name, owner))
	}
	k.aliases[name] = s
	s.aliases = append(s.aliases, name)
	k.refInc(s)
	return nil
}

// AliasRemove removes an alias of the active session: ESRCH if nobody has
// it, EPERM if another session does.
func (k *Kernel) AliasRemove(name string) error {
	k.onGoroutine()
	s := k.active
	if s == k.self {
		return ErrNoActiveSession
	}
	owner, ok := k.aliases[name]
	if !ok {
		return errnof(esrch, fmt.Sprintf("alias %q does not exist", name))
	}
	if owner != s {
		return errnof(eperm, fmt.Sprintf("alias %q belongs to %s", name, owner))
	}
	delete(k.aliases, name)
	k.aliasCache = [2]aliasHit{}
	for i, a := range s.aliases {
		if a == name {
			s.aliases = append(s.aliases[:i], s.aliases[i+1:]...)
			break
		}
	}
	k.refDec(s)
	return nil
}

// AliasResolve resolves x as every destination is resolved (session, ID,
// alias, kernel) and returns the session, or nil.
func (k *Kernel) AliasResolve(x any) *Session {
	k.onGoroutine()
	return k.resolve(x)
}

// AliasList returns the aliases of x (the active session when x is
// omitted), sorted as strings. ESRCH if x does not resolve.
func (k *Kernel) AliasList(x ...any) ([]string, error) {
	k.onGoroutine()
	s := k.active
	if len(x) > 0 {
		if s = k.resolve(x[0]); s == nil {
			return nil, k.unresolved("alias_list", x[0])
		}
	}
	return s.sortedAliases(), nil
}

func (s *Session) sortedAliases() []string {
	out := append([]string(nil), s.aliases...)
	sort.Strings(out)
	return out
}

// Aliases returns the session's aliases, sorted.
func (s *Session) Aliases() []string { return s.sortedAliases() }

// IDToSession returns the live session with that ID, or ESRCH.
func (k *Kernel) IDToSession(id SessionID) (*Session, error) {
	if s := k.sessions.get(uint64(id)); s != nil {
		return s, nil
	}
	return nil, errnof(esrch, fmt.Sprintf("no session with ID %d", id))
}

// ActiveSession returns the session whose handler is running: the kernel's
// pseudo-session outside handlers.
func (k *Kernel) ActiveSession() *Session { return k.active }

// ActiveEvent returns the event being dispatched ("" outside handlers). A
// self-call does not change it.
func (k *Kernel) ActiveEvent() string { return k.activeEvent }

// aliasHit is an alias that resolve found, remembered until any alias goes
// away.
type aliasHit struct {
	name string
	s    *Session
}
