package poe

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// AlarmID identifies a timer. IDs come from the same counter as every
// queued item, so they are unique and increasing.
type AlarmID uint64

// Alarm describes a timer removed with AlarmRemove or AlarmRemoveAll.
type Alarm struct {
	ID   AlarmID
	Name string
	Time time.Time // when it was due (POE reports the delay for delay()-made timers; we report the time)
	Args []any
}

// All timer methods act on the active session's timers only.

// Alarm removes every timer of the active session named name, then, unless
// at is the zero time, sets one at at. EINVAL for an empty name.
func (k *Kernel) Alarm(name string, at time.Time, args ...any) error {
	s, err := k.timerSession(name)
	if err != nil {
		return err
	}
	k.removeNamed(s, name)
	if !at.IsZero() {
		k.addTimer(s, name, k.clock.fromTime(at), args)
	}
	return nil
}

// AlarmAdd sets a timer at at, keeping the session's others of that name.
func (k *Kernel) AlarmAdd(name string, at time.Time, args ...any) error {
	s, err := k.timerSession(name)
	if err != nil {
		return err
	}
	if at.IsZero() {
		return errnof(einval, "alarm_add: no time given")
	}
	k.addTimer(s, name, k.clock.fromTime(at), args)
	return nil
}

// AlarmSet sets a timer at at and returns its ID.
func (k *Kernel) AlarmSet(name string, at time.Time, args ...any) (AlarmID, error) {
	s, err := k.timerSession(name)
	if err != nil {
		return 0, err
	}
	if at.IsZero() {
		return 0, errnof(einval, "alarm_set: no time given")
	}
	return AlarmID(k.addTimer(s, name, k.clock.fromTime(at), args).id), nil
}

// Delay removes every timer of the active session named name and sets one
// d from now. (POE's delay(name) without seconds is Alarm(name,
// time.Time{}).)
func (k *Kernel) Delay(name string, d time.Duration, args ...any) error {
	s, err := k.timerSession(name)
	if err != nil {
		return err
	}
	k.removeNamed(s, name)
	k.addTimer(s, name, k.clock.read()+int64(d), args)
	return nil
}

// DelayAdd sets a timer d from now, keeping others of that name.
func (k *Kernel) DelayAdd(name string, d time.Duration, args ...any) error {
	s, err := k.timerSession(name)
	if err != nil {
		return err
	}
	k.addTimer(s, name, k.clock.read()+int64(d), args)
	return nil
}

// DelaySet sets a timer d from now and returns its ID.
func (k *Kernel) DelaySet(name string, d time.Duration, args ...any) (AlarmID, error) {
	s, err := k.timerSession(name)
	if err != nil {
		return 0, err
	}
	return AlarmID(k.addTimer(s, name, k.clock.read()+int64(d), args).id), nil
}

// AlarmAdjust moves a timer by delta from its current due time and returns
// the new time. ESRCH for an unknown ID, EPERM for another session's timer,
// EINVAL for ID 0.
func (k *Kernel) AlarmAdjust(id AlarmID, delta time.Duration) (time.Time, error) {
	it, err := k.ownTimer("alarm_adjust", id)
	if err != nil {
		return time.Time{}, err
	}
	if delta != 0 {
		it.due += int64(delta)
		k.alarms.heap.fix(it)
	}
	return k.clock.toTime(it.due), nil
}

// DelayAdjust re-schedules a timer to d from now and returns the new time.
func (k *Kernel) DelayAdjust(id AlarmID, d time.Duration) (time.Time, error) {
	it, err := k.ownTimer("delay_adjust", id)
	if err != nil {
		return time.Time{}, err
	}
	it.due = k.clock.read() + int64(d)
	k.alarms.heap.fix(it)
	return k.clock.toTime(it.due), nil
}

// AlarmRemove removes one timer and returns what it was.
func (k *Kernel) AlarmRemove(id AlarmID) (Alarm, error) {
	it, err := k.ownTimer("alarm_remove", id)
	if err != nil {
		return Alarm{}, err
	}
	a := k.describe(it)
	k.removeTimer(it)
	return a, nil
}

// AlarmRemoveAll removes every timer of the active session and returns
// them in due order.
func (k *Kernel) AlarmRemoveAll() ([]Alarm, error) {
	k.onGoroutine()
	s := k.active
	if s == k.self {
		return nil, ErrNoActiveSession
	}
	k.alarms.list()
	its := slices.Clone(s.alarms)
	sortItems(its)
	out := make([]Alarm, len(its))
	for i, it := range its {
		out[i] = k.describe(it)
		k.removeTimer(it)
	}
	return out, nil
}

func sortItems(its []*item) {
	sort.Slice(its, func(i, j int) bool { return its[i].less(its[j]) })
}

// describe spells toTime out to stay within the inliner's budget
// (AlarmRemove inlines it).
func (k *Kernel) describe(it *item) Alarm {
	return Alarm{ID: AlarmID(it.id), Name: it.event, Time: k.clock.epoch.Add(time.Duration(it.due)), Args: append([]any(nil), it.args...)}
}

func (k *Kernel) timerSession(name string) (*Session, error) {
	k.onGoroutine()
	s := k.active
	if s == k.self {
		return nil, ErrNoActiveSession
	}
	if name == "" {
		return nil, errnof(einval, "timer name is empty")
	}
	return s, nil
}

func (k *Kernel) ownTimer(op string, id AlarmID) (*item, error) {
	k.onGoroutine()
	s := k.active
	if s == k.self {
		return nil, ErrNoActiveSession
	}
	if id == 0 {
		return nil, errnof(einval, op+": no alarm ID given")
	}
	if !k.alarms.indexed {
		k.alarms.index()
	}
	it := k.alarms.byID.get(uint64(id))
	if it == nil {
		return nil, errnof(esrch, fmt.Sprintf("%s: no alarm %d", op, id))
	}
	if it.dest != s {
		return nil, errnof(eperm, fmt.Sprintf("%s: alarm %d belongs to %s", op, id, it.dest))
	}
	return it, nil
}

// alarmTable holds the timers: the timer side of POE::Resource::Events,
// whose API is POE::Kernel's alarm and delay methods (above). The ID index
// and the per-session lists are built on first need, and kept from then on.
type alarmTable struct {
	heap timerHeap          // the timers in due order (timerheap.go)
	byID idMap[item, *item] // the timers by ID, once indexed
	// indexed: byID is kept, from the first lookup of a timer by ID.
	indexed bool
	// bySession: every session's alarms slice is kept, from the first
	// time one session's timers had to be listed (a removal by name,
	// AlarmRemoveAll, a session stopping with timers).
	bySession bool
}

func (k *Kernel) addTimer(s *Session, name string, due int64, args []any) *item {
	it := k.newItem()
	it.kind, it.dest, it.src, it.event, it.due = kindAlarm, s, s, name, due
	it.setArgs(args)
	k.hold(it)
	a := &k.alarms
	a.heap.push(it)
	if a.indexed {
		a.byID.put(it.id, it)
	}
	s.ntimers++
	if a.bySession {
		it.aidx = int32(len(s.alarms))
		s.alarms = append(s.alarms, it)
	}
	if s.alarmNames != nil {
		s.alarmNames[name]++
	}
	if k.trace != nil {
		k.trace.enqueue(k, it)
	}
	return it
}

// removeTimer takes a timer out of the queue and frees it.
func (k *Kernel) removeTimer(it *item) {
	a := &k.alarms
	a.heap.remove(it)
	if a.indexed {
		a.byID.del(it.id)
	}
	a.unlink(it)
	k.release(it)
	k.queue.recycle(it)
}

// unlink takes a timer out of its session's list.
func (a *alarmTable) unlink(it *item) {
	s := it.dest
	s.ntimers--
	if a.bySession {
		// Swap-remove: one other timer moves (a doubly linked list
		// would touch two neighbours, each a likely cache miss).
		last := len(s.alarms) - 1
		if i := it.aidx; int(i) != last {
			m := s.alarms[last]
			s.alarms[i] = m
			m.aidx = i
		}
		s.alarms[last] = nil
		s.alarms = s.alarms[:last]
	}
	if s.alarmNames != nil {
		if n := s.alarmNames[it.event] - 1; n > 0 {
			s.alarmNames[it.event] = n
		} else {
			delete(s.alarmNames, it.event)
		}
	}
}

// index builds the ID index the first time a timer is looked up by ID: a
// kernel whose timers are only set and fired (or removed by name) never
// pays for it.
func (a *alarmTable) index() {
	a.indexed = true
	a.heap.each(func(it *item) { a.byID.put(it.id, it) })
}

// list starts keeping each session's list of timers, for the operations
// that need one session's timers. A kernel whose timers are only set,
// fired and removed by ID never pays for the lists: each costs a likely
// cache miss per removal (the timer moved into the gap).
func (a *alarmTable) list() {
	if a.bySession {
		return
	}
	a.bySession = true
	a.heap.each(func(it *item) {
		s := it.dest
		it.aidx = int32(len(s.alarms))
		s.alarms = append(s.alarms, it)
	})
}

func (k *Kernel) removeNamed(s *Session, name string) {
	if s.ntimers == 0 {
		return
	}
	k.alarms.list()
	if s.alarmNames == nil {
		// The name index is built the first time a session removes
		// timers by name: sessions that only use DelaySet/AlarmSet
		// never pay for it.
		s.alarmNames = map[string]int{}
		for _, it := range s.alarms {
			s.alarmNames[it.event]++
		}
	}
	if s.alarmNames[name] == 0 {
		return
	}
	// Backwards, as a removal moves the last timer into its place.
	for i := len(s.alarms) - 1; i >= 0; i-- {
		if s.alarms[i].event == name {
			k.removeTimer(s.alarms[i])
		}
	}
}
