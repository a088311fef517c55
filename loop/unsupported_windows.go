package loop

// POE for Go polls file descriptors with epoll, kqueue or poll(2); Windows
// has none of them. This undefined name makes the build fail with one
// message that says so.
var _ = POE_for_Go_does_not_support_Windows__it_needs_a_Unix_poller
