package perltest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A module perl cannot load skips the test, or fails it when
// POE_REQUIRE_PERL=1; a module it can load lets the test run.
func TestNeed(t *testing.T) {
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("no perl")
	}
	if os.Getenv("PERLTEST_CHILD") != "" {
		Need(t, "install nothing", "No::Such::Module::Here")
		t.Log("ran")
		return
	}
	for _, require := range []string{"", "1"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNeed$", "-test.v")
		cmd.Env = append(os.Environ(), "PERLTEST_CHILD=1", "POE_REQUIRE_PERL="+require)
		out, err := cmd.CombinedOutput()
		s := string(out)
		switch {
		case strings.Contains(s, "ran"):
			t.Errorf("POE_REQUIRE_PERL=%q: the test ran without its module:\n%s", require, s)
		case require == "" && (err != nil || !strings.Contains(s, "SKIP") || !strings.Contains(s, "install nothing")):
			t.Errorf("without POE_REQUIRE_PERL: want a skip naming the hint, got %v:\n%s", err, s)
		case require == "1" && (err == nil || !strings.Contains(s, "POE_REQUIRE_PERL=1 but")):
			t.Errorf("with POE_REQUIRE_PERL=1: want a failure, got %v:\n%s", err, s)
		}
	}
	// perl itself loads strict.
	Need(t, "", "strict")
}
