package poe

import "slices"

type injected struct {
	dest   any
	event  string
	args   []any
	signal string // an OS signal for the kernel
}

// PostFromGoroutine posts event to dest from any goroutine: the one
// thread-safe entry into a kernel. The kernel is the SENDER; dest is
// resolved on the kernel's goroutine (an unresolvable dest is logged and
// dropped). A kernel whose sessions are all idle stops even though other
// goroutines may still post; hold it with RefcountIncrement while they do.
func (k *Kernel) PostFromGoroutine(dest any, event string, args ...any) {
	k.inject(injected{dest: dest, event: event, args: slices.Clone(args)})
}

func (k *Kernel) inject(in injected) {
	k.injMu.Lock()
	k.inj = append(k.inj, in)
	k.injN.Add(1)
	k.injMu.Unlock()
	if k.ensurePoller() == nil {
		k.poller.Wake()
	}
}

func (k *Kernel) drainInjected() {
	k.injMu.Lock()
	batch := k.inj
	k.inj = nil
	k.injN.Store(0)
	k.injMu.Unlock()
	for _, in := range batch {
		if in.signal != "" {
			k.enqueuePost(kindSignal, k.self, k.self, in.signal, nil)
			continue
		}
		s := k.resolve(in.dest)
		if s == nil {
			k.log.Warn("poe: PostFromGoroutine: destination does not resolve", "dest", in.dest, "event", in.event)
			continue
		}
		if s != k.self {
			k.enqueuePost(kindPost, s, k.self, in.event, in.args)
		}
	}
}
