// Package ikctest is what the tests of the IKC packages share: kernels
// running on their own goroutines (Node), recorders of handler calls,
// replays of the Perl captures in testdata/ikc/captures, fake servers,
// and the Perl peer of ikc/testdata. It is internal: not an API.
package ikctest
