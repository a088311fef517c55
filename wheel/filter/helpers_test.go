package filter_test

import (
	"testing"

	"github.com/poe-go/poe/wheel/filter"
)

// norm turns byte chunks and records into strings (recursively in []any)
// so that results compare with cmp against string literals.
func norm(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case *filter.Bytes:
		return string(x.B)
	case []any:
		if x == nil {
			return []any(nil)
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = norm(e)
		}
		return out
	}
	return v
}

func normList(l []any) []any {
	if l == nil {
		return nil
	}
	return norm(l).([]any)
}

// chunks makes a chunk list of []byte.
func chunks(ss ...string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// strs makes a list of string records.
func strs(ss ...string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func mustGet(t *testing.T, f filter.Filter, in []any) []any {
	t.Helper()
	out, err := filter.Get(f, in)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	return normList(out)
}

func mustPut(t *testing.T, f filter.Filter, in []any) []any {
	t.Helper()
	out, err := f.Put(in)
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	return normList(out)
}
