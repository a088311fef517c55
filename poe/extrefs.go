package poe

import "fmt"

// extraRefs is what POE::Resource::Extrefs keeps for all sessions
// together; each session's tags are in its Session.
type extraRefs struct {
	total int // tags held, all sessions together: while any is, the kernel never goes idle
}

// RefcountIncrement adds one to a session's extra reference tag and returns
// the tag's new count. The first increment of a tag holds the session
// alive; while any tag exists anywhere the kernel never goes idle. ESRCH if
// id is not a live session.
func (k *Kernel) RefcountIncrement(id SessionID, tag string) (int, error) {
	s := k.sids.get(uint64(id))
	if s == nil {
		return 0, errnof(esrch, fmt.Sprintf("refcount_increment: no session with ID %d", id))
	}
	return k.extraInc(s, tag), nil
}

// RefcountDecrement takes one from a tag; at zero the tag goes and its hold
// on the session with it. POE lets an unknown tag go negative; we refuse it
// with EINVAL.
func (k *Kernel) RefcountDecrement(id SessionID, tag string) (int, error) {
	s := k.sids.get(uint64(id))
	if s == nil {
		return 0, errnof(esrch, fmt.Sprintf("refcount_decrement: no session with ID %d", id))
	}
	if s.extra[tag] <= 0 {
		return 0, errnof(einval, fmt.Sprintf("refcount_decrement: %s has no reference tagged %q", s, tag))
	}
	return k.extraDec(s, tag), nil
}

func (k *Kernel) extraInc(s *Session, tag string) int {
	if s.extra == nil {
		s.extra = map[string]int{}
	}
	n := s.extra[tag] + 1
	s.extra[tag] = n
	if n == 1 {
		k.extrefs.total++
		k.refInc(s)
	}
	return n
}

func (k *Kernel) extraDec(s *Session, tag string) int {
	n := s.extra[tag] - 1
	if n > 0 {
		s.extra[tag] = n
		return n
	}
	delete(s.extra, tag)
	k.extrefs.total--
	k.refDec(s)
	return 0
}

// ExtraRefTags returns how many extra reference tags (RefcountIncrement)
// currently hold s. Components that lend a session to application code
// (IKC's thunks) use it to see whether the application kept a hold on it.
func (s *Session) ExtraRefTags() int { return len(s.extra) }
