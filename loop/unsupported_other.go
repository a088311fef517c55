//go:build !unix && !windows

package loop

// POE for Go polls file descriptors with epoll, kqueue or poll(2); this
// system (Plan 9, WebAssembly) has none of them. This undefined name
// makes the build fail with one message that says so.
var _ = POE_for_Go_needs_a_Unix_system_with_epoll_kqueue_or_poll
