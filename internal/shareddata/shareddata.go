// Package shareddata finds the project's shared test data: the folder
// ../shared/testdata beside the checkout (the module root), where the
// captures of real Perl IKC sessions and the Storable vectors live. It is
// for tests only.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// IKC returns ../shared/testdata/ikc beside the module root, found from the
// test's working directory; the test fails when it is missing.
func IKC(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
	g := filepath.Join(dir, "..", "shared", "testdata", "ikc")
	if _, err := os.Stat(g); err != nil {
		tb.Fatalf("golden data missing: %v (expected ../shared beside the checkout)", err)
	}
	return g
}
