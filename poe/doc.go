// Package poe is a single-threaded, POE-style event kernel: sessions with
// heaps, post/yield/call, delays and alarms, aliases, signals and I/O
// watchers, dispatched one at a time on the goroutine that runs the kernel.
//
// The semantics are those of Perl's POE 1.370 (see docs/porting.md); the
// names are POE's in Go spelling (Post, Yield, Call, Delay, AliasSet, Sig,
// SelectRead, ARG0...).
//
// Every Kernel method must be called on the kernel's goroutine: from a
// handler, or from the goroutine that creates sessions before Run. Other
// goroutines use PostFromGoroutine, CallFromGoroutine and Shutdown; a
// kernel method called from another goroutine while the kernel runs
// panics (always while the kernel waits for I/O or timers, whatever it
// does in assert mode and race builds).
//
// # Layout
//
// The kernel is split as Perl's POE::Kernel is, into resources
// (POE::Resource::*): each owns its state in an unexported type, kept in
// the Kernel by value, and lives in its own file:
//
//   - kernel.go: the Kernel, NewKernel, the run loop and its timeslice.
//   - post.go, dispatch.go: post, yield and call, and the dispatch of a
//     batch and of one event (POE::Kernel's _dispatch_event).
//   - events.go: POE::Resource::Events, the queue of posted events
//     (eventQueue); alarms.go and timerheap.go: its timers (alarmTable)
//     and POE::Kernel's alarm and delay API.
//   - clock.go: POE::Resource::Clock (kernelClock).
//   - sids.go: POE::Resource::SIDs (sessionIDs).
//   - sessions.go, session.go, gc.go: POE::Resource::Sessions
//     (sessionTable; Session; refcounts and garbage collection).
//   - aliases.go: POE::Resource::Aliases (aliasTable).
//   - extrefs.go: POE::Resource::Extrefs (extraRefs).
//   - filehandles.go: POE::Resource::FileHandles (fileHandles).
//   - signals.go: POE::Resource::Signals (signalTable); childprocs.go:
//     its sig_child side (childProcs).
//   - statistics.go: POE::Resource::Statistics (Stats).
//   - bridge.go, context.go: the way in from other goroutines (goBridge),
//     which POE, alone in its process, does not need.
//   - peek.go, peekhttp.go: POE::API::Peek; trace.go, traceevents.go:
//     TRACE_EVENTS and the Trace Event Format recorder; assert.go:
//     ASSERT_DEFAULT.
//
// docs/poe-semantics.md describes the behaviour reproduced, section by
// section; the conformance tests (conformance_*_test.go) check its cases.
package poe
