package ikctest

// Perl's real POE::Component::IKC: ikc/testdata/real_ikc.pl runs its
// Server, Client or ClientLite. No package registry serves IKC, so these
// tests run only where a copy is pointed at: IKC_PERL5LIB (0.2402, the
// version the project follows) and IKC_0_1904_PERL5LIB (the seed's
// 0.1904). Without them they skip with a one-line reason.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// RealIKCLib returns the directory holding POE::Component::IKC of the
// version asked for ("0.2402" or "0.1904"), or skips: IKC_PERL5LIB for
// 0.2402 (or for 0.1904 if that is what it holds), IKC_0_1904_PERL5LIB
// for 0.1904.
func RealIKCLib(t *testing.T, version string) string {
	t.Helper()
	NeedPerl(t)
	envs := []string{"IKC_PERL5LIB"}
	if version == "0.1904" {
		envs = []string{"IKC_0_1904_PERL5LIB", "IKC_PERL5LIB"}
	}
	for _, env := range envs {
		lib := os.Getenv(env)
		if lib == "" {
			continue
		}
		if v := RealIKCVersion(lib); v == version {
			return lib
		}
	}
	t.Skipf("no POE::Component::IKC %s: set %s to its lib directory", version, envs[0])
	return ""
}

// RealIKCVersion is the POE::Component::IKC version found in lib ("" if
// none).
func RealIKCVersion(lib string) string {
	out, err := exec.Command("perl", "-I"+lib, "-MPOE::Component::IKC::Server", "-e", "print $POE::Component::IKC::Server::VERSION").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// StartRealIKC runs ikc/testdata/real_ikc.pl with IKC from lib; it is
// killed and reaped when the test ends. A server is waited for ("ready").
func StartRealIKC(t *testing.T, lib string, args ...string) (*PerlPeer, map[string]any) {
	t.Helper()
	return StartPerlScript(t, "real_ikc.pl", lib, args...)
}

// StartPerlScript is StartPerl for any script of ikc/testdata (with lib,
// if not empty, on @INC), reading event lines of up to 16 MiB.
func StartPerlScript(t *testing.T, script, lib string, args ...string) (*PerlPeer, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	var pargs []string
	if lib != "" {
		pargs = append(pargs, "-I"+lib)
	}
	pargs = append(pargs, filepath.Join(moduleRoot(), "ikc", "testdata", script))
	cmd := exec.CommandContext(ctx, "perl", append(pargs, args...)...)
	p := &PerlPeer{t: t, cmd: cmd, events: make(chan map[string]any, 10000), stderr: &bytes.Buffer{}}
	cmd.Stderr = &LockedWriter{W: p.stderr, Mu: &p.mu}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(p.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				ev = map[string]any{"ev": "junk", "text": sc.Text()}
			}
			p.events <- ev
		}
	})
	t.Cleanup(func() {
		backlogs.Lock()
		delete(backlogs.m, p)
		backlogs.Unlock()
		p.stdin.Close()
		cmd.Process.Kill()
		go func() {
			for range p.events { // unblock the scanner
			}
		}()
		wg.Wait()
		cmd.Wait()
		cancel()
		if t.Failed() {
			p.mu.Lock()
			t.Logf("perl %s %v stderr:\n%s", script, args, p.stderr.String())
			p.mu.Unlock()
		}
	})
	var ready map[string]any
	if len(args) > 1 && args[1] == "server" {
		ready = p.Expect("ready", nil)
	}
	return p, ready
}

// backlogs keeps, per peer, the events Await passed over, for later
// Awaits.
var backlogs struct {
	sync.Mutex
	m map[*PerlPeer][]map[string]any
}

// Await waits up to timeout for an event named ev for which match (if
// given) holds. Events it passes over are kept for later Awaits (not for
// Expect). Unlike Expect it returns an error, so a subtest can use a peer
// started by its parent.
func (p *PerlPeer) Await(ev string, match func(map[string]any) bool, timeout time.Duration) (map[string]any, error) {
	ok := func(e map[string]any) bool { return e["ev"] == ev && (match == nil || match(e)) }
	backlogs.Lock()
	if backlogs.m == nil {
		backlogs.m = map[*PerlPeer][]map[string]any{}
	}
	for i, e := range backlogs.m[p] {
		if ok(e) {
			backlogs.m[p] = slices.Delete(backlogs.m[p], i, i+1)
			backlogs.Unlock()
			return e, nil
		}
	}
	backlogs.Unlock()
	keep := func(e map[string]any) {
		backlogs.Lock()
		if len(backlogs.m[p]) < 10000 {
			backlogs.m[p] = append(backlogs.m[p], e)
		}
		backlogs.Unlock()
	}
	deadline := time.After(timeout)
	for {
		select {
		case e, open := <-p.events:
			if !open {
				return nil, fmt.Errorf("perl peer exited while waiting for %q", ev)
			}
			if ok(e) {
				return e, nil
			}
			keep(e)
		case <-deadline:
			return nil, fmt.Errorf("no perl event %q within %v", ev, timeout)
		}
	}
}

// Command writes a JSON command to the peer's stdin.
func (p *PerlPeer) Command(cmd map[string]any) error {
	b, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	_, err = p.stdin.Write(append(b, '\n'))
	return err
}
