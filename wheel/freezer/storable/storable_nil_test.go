package storable

import (
	"errors"
	"testing"
)

// Typed nil containers are refused with an error, never a panic.
func TestMarshalNilContainers(t *testing.T) {
	for _, v := range []any{(*Hash)(nil), (*Array)(nil), (*Ref)(nil)} {
		if _, err := Marshal(v); !errors.Is(err, ErrUnsupportedValue) {
			t.Errorf("Marshal(%#v) = %v, want ErrUnsupportedValue", v, err)
		}
	}
	// Inside Go data a nil pointer is undef, as encoding/json makes it null.
	if _, err := Marshal([]any{(*Hash)(nil)}); err != nil {
		t.Errorf("nested nil *Hash: %v", err)
	}
}
