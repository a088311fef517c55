// Package hostile holds the hostile-peer suite of IKC (tests only): each
// test starts an IKC server in a child process (the test binary run
// again), attacks it from raw sockets on 127.0.0.1 with input a careless
// or malicious peer could send, and checks that the server lives on, that
// its memory stays within bounds and comes back once the peer has gone,
// and that a fresh client is still answered quickly.
//
// docs/hostile-peers.md lists the cases and their numbers; with
// HOSTILE_REPORT=1 the suite prints that table's rows.
package hostile
