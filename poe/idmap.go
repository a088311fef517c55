package poe

// idMap maps IDs (of timers, of sessions) to their values: an
// open-addressing hash table with linear probing and tombstones. IDs come
// from one counter and live timers have IDs close to each other, so the ID
// itself (modulo the table size) is the hash: consecutive timers land in
// consecutive slots, inserting many is a sequential walk, and a lookup is
// usually one probe. It does the work of a map[uint64]*item on the hottest
// timer paths for less.
//
// IDs are never reused, so an insert may take the first tombstone of its
// probe run, and no ID sits further than maxDisp slots from its home: a
// lookup of an ID that is gone stops there, however full of tombstones the
// table is. The table is rebuilt in place (without tombstones, growing if
// the live entries need it) when tombstones fill it or an insert lands far
// from home; rebuilding allocates nothing once the table has its size.
//
// A slot is just the value's pointer (the ID is read from the value, which
// the caller is about to use anyway): half the memory of an (ID, pointer)
// pair, so twice the slots per cache line.
type idMap[T any, P interface {
	*T
	mapID() uint64
}] struct {
	slots   []*T // nil: empty; tomb: a tombstone
	tomb    *T
	n       int // live entries
	used    int // live entries and tombstones
	maxDisp int // the farthest any entry sits from its home slot
	spare   []*T
}

func (it *item) mapID() uint64   { return it.id }
func (s *Session) mapID() uint64 { return uint64(s.id) }

// farDisp is how far from home an insert may land before the table is
// rebuilt (a long run of live entries: the table is too small for the
// span of live IDs).
const farDisp = 32

func (m *idMap[T, P]) get(id uint64) *T {
	if m.n == 0 || id == 0 {
		return nil
	}
	mask := len(m.slots) - 1
	i := int(id) & mask
	for d := 0; d <= m.maxDisp; d++ {
		s := m.slots[i]
		if s == nil {
			return nil
		}
		if s != m.tomb && P(s).mapID() == id {
			return s
		}
		i = (i + 1) & mask
	}
	return nil
}

// put adds an ID that is not in the map (IDs are never reused).
func (m *idMap[T, P]) put(id uint64, it *T) {
	if (m.n+1)*4 > len(m.slots)*3 || (m.used+1)*8 > len(m.slots)*7 {
		m.rebuild(false)
	}
	mask := len(m.slots) - 1
	i := int(id) & mask
	for d := 0; ; d++ {
		s := &m.slots[i]
		if *s == nil || *s == m.tomb {
			// Empty, or a tombstone: the new ID is not further along
			// this run, so it can take the place.
			if *s == nil {
				m.used++
			}
			*s = it
			m.n++
			m.maxDisp = max(m.maxDisp, d)
			if d > farDisp {
				m.rebuild(true)
			}
			return
		}
		i = (i + 1) & mask
	}
}

// del leaves a tombstone (the ID with no item) so that probe runs stay
// intact; rebuilds clear them.
func (m *idMap[T, P]) del(id uint64) {
	if m.n == 0 {
		return
	}
	mask := len(m.slots) - 1
	i := int(id) & mask
	for d := 0; d <= m.maxDisp; d++ {
		s := &m.slots[i]
		if *s == nil {
			return
		}
		if *s != m.tomb && P(*s).mapID() == id {
			*s = m.tomb
			m.n--
			return
		}
		i = (i + 1) & mask
	}
}

// rebuild re-inserts the live entries without tombstones. The size keeps
// the live load under 3/4: IDs close together sit at home whatever the
// load, and a table half the size stays in cache where its random lookups
// (AlarmRemove in any order) would otherwise miss. It doubles when crowded
// says an insert landed far from home with few tombstones about (the live
// IDs span more than the table).
func (m *idMap[T, P]) rebuild(crowded bool) {
	size := 16
	for size*3 < (m.n+1)*4 {
		size *= 2
	}
	// Like a Go map, the table never shrinks: timer counts rise and fall
	// together, and regrowing would allocate again each time.
	size = max(size, len(m.slots))
	if crowded && size == len(m.slots) && m.used-m.n < m.n {
		size *= 2
	}
	if m.tomb == nil {
		m.tomb = new(T)
	}
	live := m.spare[:0]
	for _, s := range m.slots {
		if s != nil && s != m.tomb {
			live = append(live, s)
		}
	}
	if size == len(m.slots) {
		clear(m.slots)
	} else {
		m.slots = make([]*T, size)
	}
	m.n, m.used, m.maxDisp = 0, 0, 0
	mask := size - 1
	for _, s := range live {
		i, d := int(P(s).mapID())&mask, 0
		for m.slots[i] != nil {
			i, d = (i+1)&mask, d+1
		}
		m.slots[i] = s
		m.maxDisp = max(m.maxDisp, d)
	}
	m.n, m.used = len(live), len(live)
	clear(live)
	m.spare = live[:0]
}

func (m *idMap[T, P]) len() int { return m.n }

// each calls fn for every entry, in no particular order.
func (m *idMap[T, P]) each(fn func(id uint64, v *T)) {
	for _, s := range m.slots {
		if s != nil && s != m.tomb {
			fn(P(s).mapID(), s)
		}
	}
}
