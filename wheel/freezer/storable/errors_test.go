package storable

import (
	"errors"
	"strings"
	"testing"
)

// TestErrorPrefixOnce: errors say "storable:" once, also when one wraps
// another of this package.
func TestErrorPrefixOnce(t *testing.T) {
	_, err := FromJSON([]byte(strings.Repeat("[", DefaultMaxDepth+10)))
	if !errors.Is(err, ErrTooDeep) {
		t.Fatalf("deep JSON: %v, want ErrTooDeep", err)
	}
	if want := "storable: JSON view: nesting too deep"; err.Error() != want {
		t.Errorf("%q, want %q", err, want)
	}
	_, err = FromJSON([]byte("{"))
	if err == nil || strings.Count(err.Error(), "storable: ") != 1 {
		t.Errorf("truncated JSON: %q", err)
	}
	_, err = Decode([]byte("garbage"))
	if !errors.Is(err, ErrBadMagic) || strings.Count(err.Error(), "storable: ") != 1 {
		t.Errorf("bad image: %q", err)
	}
}
