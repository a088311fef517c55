package poe

import "fmt"

// sessionIDs is POE::Resource::SIDs: the IDs given to sessions, and the
// live sessions by ID.
type sessionIDs struct {
	idMap[Session, *Session]
	last SessionID // the last ID given
}

// allocate gives s the next ID and files it under it.
func (t *sessionIDs) allocate(s *Session) {
	t.last++
	s.id = t.last
	t.put(uint64(s.id), s)
}

// free forgets the ID of a session that stopped (IDs are not reused).
func (t *sessionIDs) free(s *Session) { t.del(uint64(s.id)) }

// IDToSession returns the live session with that ID, or ESRCH.
func (k *Kernel) IDToSession(id SessionID) (*Session, error) {
	if s := k.sids.get(uint64(id)); s != nil {
		return s, nil
	}
	return nil, errnof(esrch, fmt.Sprintf("no session with ID %d", id))
}
