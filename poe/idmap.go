package poe

// idMap maps IDs (of timers, of sessions) to their values: an open-addressing hash table with
// linear probing and tombstones. IDs come from one counter and live timers
// have IDs close to each other, so the ID itself (modulo the table size)
// is the hash: consecutive timers land in consecutive slots, inserting
// many is a sequential walk, and a lookup is usually one probe. It does
// the work of a map[uint64]*item on the hottest timer paths for less.
type idMap[T any] struct {
	slots []idSlot[T]
	n     int // live entries
	used  int // live entries and tombstones
}

type idSlot[T any] struct {
	id uint64 // 0: empty; tombstone: id set, it nil
	it *T
}

func (m *idMap[T]) get(id uint64) *T {
	if m.n == 0 || id == 0 {
		return nil
	}
	mask := len(m.slots) - 1
	for i := int(id) & mask; ; i = (i + 1) & mask {
		s := &m.slots[i]
		if s.id == id {
			return s.it
		}
		if s.id == 0 {
			return nil
		}
	}
}

// put adds an ID that is not in the map (IDs are never reused).
func (m *idMap[T]) put(id uint64, it *T) {
	if (m.used+1)*4 > len(m.slots)*3 {
		m.rehash()
	}
	mask := len(m.slots) - 1
	for i := int(id) & mask; ; i = (i + 1) & mask {
		if m.slots[i].id == 0 {
			m.slots[i] = idSlot[T]{id, it}
			m.n++
			m.used++
			return
		}
	}
}

// del leaves a tombstone (the ID with no item) so that probe runs stay
// intact; rehash clears them.
func (m *idMap[T]) del(id uint64) {
	if m.n == 0 {
		return
	}
	mask := len(m.slots) - 1
	for i := int(id) & mask; ; i = (i + 1) & mask {
		s := &m.slots[i]
		if s.id == id {
			if s.it != nil {
				s.it = nil
				m.n--
			}
			return
		}
		if s.id == 0 {
			return
		}
	}
}

// rehash rebuilds the table without tombstones, doubling it only when the
// live entries need the room.
func (m *idMap[T]) rehash() {
	old := m.slots
	size := 16
	for size*3 < (m.n+1)*8 { // keep the live load under 3/8 after rebuilding
		size *= 2
	}
	if size < len(old) && m.n*8 > len(old) {
		size = len(old)
	}
	m.slots = make([]idSlot[T], size)
	m.n, m.used = 0, 0
	mask := size - 1
	for _, s := range old {
		if s.it == nil {
			continue
		}
		for i := int(s.id) & mask; ; i = (i + 1) & mask {
			if m.slots[i].id == 0 {
				m.slots[i] = s
				break
			}
		}
		m.n++
		m.used++
	}
}

func (m *idMap[T]) len() int { return m.n }

// each calls fn for every entry, in no particular order.
func (m *idMap[T]) each(fn func(id uint64, v *T)) {
	for _, s := range m.slots {
		if s.it != nil {
			fn(s.id, s.it)
		}
	}
}
