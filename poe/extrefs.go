package poe

import "fmt"

// RefcountIncrement adds one to a session's extra reference tag and returns
// the tag's new count. The first increment of a tag holds the session
// alive; while any tag exists anywhere the kernel never goes idle. ESRCH if
// id is not a live session.
func (k *Kernel) RefcountIncrement(id SessionID, tag string) (int, error) {
	s := k.sessions.get(uint64(id))
	if s == nil {
		return 0, errnof(esrch, fmt.Sprintf("refcount_increment: no session with ID %d", id))
	}
	return k.extraInc(s, tag), nil
}

// RefcountDecrement takes one from a tag; at zero the tag goes and its hold
// on the session with it. POE lets an unknown tag go negative; we refuse it
// with EINVAL.
func (k *Kernel) RefcountDecrement(id SessionID, tag string) (int, error) {
	s := k.sessions.get(uint64(id))
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
		k.extraTotal++
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
	k.extraTotal--
	k.refDec(s)
	return 0
}
