package protocol

import (
	"fmt"
	"sync"
	"testing"
)

// TestSpecifierCache: a cached parse gives what the regular expressions
// give, failures are never cached, the cache stays bounded, and it is safe
// for kernels on several goroutines.
func TestSpecifierCache(t *testing.T) {
	inputs := []string{
		"poe://Pulse/timeserver/connect", "poe://Pulse/timeserver/", "poe:/s/0",
		"0/state", "//127.0.0.1:603/s/t?x", "poe://unix:a.sock:12-3/s/t", "poe:",
		"poe://", "s/t", "état/ñ", "poe://k/s/t?a",
	}
	bad := []string{"a b/c:d", "poe://k/s/t/u", "s/t?", "x:y"}
	for round := 0; round < 2; round++ {
		for _, in := range inputs {
			want, werr := parseSpecifier(in)
			got, err := ParseSpecifier(in)
			if got != want || (err == nil) != (werr == nil) {
				t.Errorf("round %d: ParseSpecifier(%q) = %+v, %v; uncached %+v, %v", round, in, got, err, want, werr)
			}
		}
		for _, in := range bad {
			if _, err := ParseSpecifier(in); err == nil {
				t.Errorf("round %d: ParseSpecifier(%q) accepted", round, in)
			}
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3 * specCacheMax {
				in := fmt.Sprintf("poe://K%d/s%d/t", g, i)
				if sp, err := ParseSpecifier(in); err != nil || sp.Session != fmt.Sprintf("s%d", i) {
					t.Errorf("ParseSpecifier(%q) = %+v, %v", in, sp, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Concurrent puts may each add one entry after a reset.
	if n := specCache.len(); n > specCacheMax+4 {
		t.Errorf("cache holds %d entries, cap %d", n, specCacheMax+4)
	}
}
