package poe

// ExtraRefTags returns how many extra reference tags (RefcountIncrement)
// currently hold s. Components that lend a session to application code
// (IKC's thunks) use it to see whether the application kept a hold on it.
func (s *Session) ExtraRefTags() int { return len(s.extra) }
