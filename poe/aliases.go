package poe

import (
	"fmt"
	"sort"
	"unsafe"
)

// aliasTable is POE::Resource::Aliases: the sessions by alias, and the
// aliases resolve found last.
type aliasTable struct {
	names map[string]*Session
	cache [2]aliasHit // forgotten when any alias goes away
	mru   int         // the slot hit last; lookup fills the other
}

// cached returns the session of an alias resolve found recently, or nil.
// A program posts with the same string over and over (a literal), so the
// strings' addresses are compared first: two aliases of one length, as
// "ping" and "pong", then cost no byte comparison.
func (t *aliasTable) cached(name string) *Session {
	c := &t.cache
	p := unsafe.StringData(name)
	for i := range c {
		if c[i].s != nil && unsafe.StringData(c[i].name) == p && len(c[i].name) == len(name) {
			t.mru = i
			return c[i].s
		}
	}
	for i := range c {
		if c[i].s != nil && c[i].name == name {
			t.mru = i
			return c[i].s
		}
	}
	return nil
}

// lookup returns the session of an alias, or nil. Programs post to the
// same alias over and over, or to two in turn (a request and its
// answer): the last two found are remembered.
func (t *aliasTable) lookup(name string) *Session {
	s := t.names[name]
	if s != nil {
		t.mru ^= 1
		t.cache[t.mru] = aliasHit{name, s}
	}
	return s
}

// drop forgets aliases.
func (t *aliasTable) drop(names ...string) {
	for _, a := range names {
		delete(t.names, a)
	}
	t.cache = [2]aliasHit{}
}

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
	if owner, ok := k.aliases.names[name]; ok {
		if owner == s {
			return nil
		}
		return errnof(eexist, fmt.Sprintf("alias %q belongs to %s", name, owner))
	}
	k.aliases.names[name] = s
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
	owner, ok := k.aliases.names[name]
	if !ok {
		return errnof(esrch, fmt.Sprintf("alias %q does not exist", name))
	}
	if owner != s {
		return errnof(eperm, fmt.Sprintf("alias %q belongs to %s", name, owner))
	}
	k.aliases.drop(name)
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

// aliasHit is an alias that resolve found, remembered until any alias goes
// away.
type aliasHit struct {
	name string
	s    *Session
}
