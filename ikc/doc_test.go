package ikc

import (
	"os"
	"strings"
	"testing"
)

// TestDocsAnswer: the package documentation and the porting guide, where
// users look, say what a port from Perl trips over: the monitors'
// argument positions (the error ones differ from Perl's documentation),
// and that Port 0 means 603, not a free port.
func TestDocsAnswer(t *testing.T) {
	for file, wants := range map[string][]string{
		"doc.go":                   {"ARG4", "ARG5", "the operation", "EphemeralPort", "Port 0 means 603"},
		"../docs/porting.md":       {"ARG4 the operation", "ARG5 the message", "`Port: 0`, like a missing `port`, means 603"},
		"clientlite/clientlite.go": {`"YAML" or "FreezeThaw"`, "Port 0\n\t// means 603"},
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range wants {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s does not say %q", file, w)
			}
		}
	}
}
