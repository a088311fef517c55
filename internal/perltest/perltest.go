// Package perltest decides whether a test that talks to real Perl runs:
// without perl and the modules it needs the test skips, and with
// POE_REQUIRE_PERL=1 (as in CI, which installs them) it fails instead.
package perltest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Need skips t unless perl loads every one of modules; with
// POE_REQUIRE_PERL=1 it fails t instead. hint, when not empty, ends the
// message (what to install).
func Need(t testing.TB, hint string, modules ...string) {
	t.Helper()
	args := make([]string, 0, len(modules)+1)
	for _, m := range modules {
		args = append(args, "-M"+m)
	}
	args = append(args, "-e1")
	out, err := exec.Command("perl", args...).CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("perl %s failed (%v): %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	if hint != "" {
		msg += "; " + hint
	}
	if os.Getenv("POE_REQUIRE_PERL") == "1" {
		t.Fatalf("POE_REQUIRE_PERL=1 but %s", msg)
	}
	t.Skipf("skipping the Perl interop test: %s", msg)
}
