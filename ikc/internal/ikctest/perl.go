package ikctest

// The Perl peer: ikc/testdata/ikc_peer.pl is a small Perl IKC peer (plain
// POE, POE::Filter::Line/Reference and Storable or YAML, not
// POE::Component::IKC) written for the interop tests. Without perl and POE
// they skip; with POE_REQUIRE_PERL=1 (CI) they fail instead.

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/poe-go/poe/internal/perltest"
)

// PerlTimeout bounds each wait for a Perl peer.
const PerlTimeout = 10 * time.Second

// NeedPerl skips (or fails, with POE_REQUIRE_PERL=1) unless perl can load
// the modules.
func NeedPerl(t *testing.T, modules ...string) {
	t.Helper()
	perltest.Need(t, "", append([]string{"POE", "POE::Filter::Reference", "Storable", "JSON::PP"}, modules...)...)
}

// PerlPeer is a running ikc/testdata/ikc_peer.pl.
type PerlPeer struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan map[string]any
	stderr *bytes.Buffer
	mu     sync.Mutex
	seen   []map[string]any
}

// StartPerl runs ikc_peer.pl with args; it is killed and reaped when the
// test ends. For the server role it waits for the "ready" line.
func StartPerl(t *testing.T, args ...string) (*PerlPeer, map[string]any) {
	t.Helper()
	return StartPerlScript(t, "ikc_peer.pl", "", args...)
}

// LockedWriter serializes writes to W with Mu.
type LockedWriter struct {
	W  io.Writer
	Mu *sync.Mutex
}

// Write writes b to W holding Mu.
func (l *LockedWriter) Write(b []byte) (int, error) {
	l.Mu.Lock()
	defer l.Mu.Unlock()
	return l.W.Write(b)
}

// Send writes a JSON command to the peer's stdin.
func (p *PerlPeer) Send(cmd map[string]any) {
	p.t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("perl stdin: %v", err)
	}
}

// Expect waits for an event named ev for which match (if given) holds.
func (p *PerlPeer) Expect(ev string, match func(map[string]any) bool) map[string]any {
	p.t.Helper()
	deadline := time.After(PerlTimeout)
	for {
		select {
		case e, ok := <-p.events:
			if !ok {
				p.t.Fatalf("perl peer exited while waiting for %q (seen %v)", ev, p.seen)
			}
			p.seen = append(p.seen, e)
			if e["ev"] == ev && (match == nil || match(e)) {
				return e
			}
		case <-deadline:
			p.t.Fatalf("timed out waiting for perl event %q (seen %v)", ev, p.seen)
		}
	}
}

// Invoked matches an invoke event of session/state.
func Invoked(session, state string) func(map[string]any) bool {
	return func(e map[string]any) bool { return e["session"] == session && e["state"] == state }
}
