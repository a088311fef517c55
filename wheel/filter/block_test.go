package filter_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/poe-go/poe/wheel/filter"
)

func mustBlock(t *testing.T, o filter.BlockOptions) *filter.Block {
	t.Helper()
	f, err := filter.NewBlock(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// be32 is the custom codec of 01_block.t: a 4-byte big-endian length.
var be32 = &filter.LengthCodec{
	Encode: func(dst []byte, n int) []byte { return binary.BigEndian.AppendUint32(dst, uint32(n)) },
	Decode: func(b []byte) (int, int, bool) {
		if len(b) < 4 {
			return 0, 0, false
		}
		return int(binary.BigEndian.Uint32(b)), 4, true
	},
}

func TestBlockConformance(t *testing.T) {
	t.Run("C85", func(t *testing.T) {
		f := mustBlock(t, filter.BlockOptions{BlockSize: 4})
		raw := mustPut(t, f, strs("12345678"))
		if diff := cmp.Diff(strs("12345678"), raw); diff != "" {
			t.Error(diff)
		}
		cooked := mustGet(t, f, raw)
		if diff := cmp.Diff(strs("1234", "5678"), cooked); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(strs("12345678"), mustPut(t, f, cooked)); diff != "" {
			t.Error(diff)
		}

		f = mustBlock(t, filter.BlockOptions{BlockSize: 4})
		f.GetOneStart(mustPut(t, f, strs("12345678")))
		one, err := f.GetOne()
		if diff := cmp.Diff(strs("1234"), normList(one)); diff != "" || err != nil {
			t.Error(diff, err)
		}
		if diff := cmp.Diff(strs("1234"), mustPut(t, f, one)); diff != "" {
			t.Error(diff)
		}

		for name, o := range map[string]filter.BlockOptions{"default": {}, "custom": {LengthCodec: be32}} {
			t.Run(name, func(t *testing.T) {
				f := mustBlock(t, o)
				raw := mustPut(t, f, strs("a", "bc", "def", "ghij"))
				if name == "default" {
					if diff := cmp.Diff(strs("1\x00a", "2\x00bc", "3\x00def", "4\x00ghij"), raw); diff != "" {
						t.Error(diff)
					}
				} else {
					want := strs("\x00\x00\x00\x01a", "\x00\x00\x00\x02bc", "\x00\x00\x00\x03def", "\x00\x00\x00\x04ghij")
					if diff := cmp.Diff(want, raw); diff != "" {
						t.Error(diff)
					}
				}
				if diff := cmp.Diff(strs("a", "bc", "def", "ghij"), mustGet(t, f, raw)); diff != "" {
					t.Error(diff)
				}
				parts := []string{"1", "0", "\x00", "klmno"}
				if name == "custom" {
					parts = []string{"\x00", "\x00", "\x00", "\x0a", "klmno"}
				}
				for _, p := range parts {
					if got := mustGet(t, f, chunks(p)); len(got) != 0 {
						t.Errorf("partial %q returned %q", p, got)
					}
				}
				if diff := cmp.Diff(strs("klmnopqrst"), mustGet(t, f, chunks("pqrst"))); diff != "" {
					t.Error(diff)
				}
			})
		}

		bad := map[string]filter.BlockOptions{
			"MaxLength > MaxBuffer":   {MaxLength: 10, MaxBuffer: 5},
			"MaxLength + header":      {MaxLength: 10, MaxBuffer: 12},
			"negative MaxLength":      {MaxLength: -1},
			"negative MaxBuffer":      {MaxBuffer: -1},
			"negative BlockSize":      {BlockSize: -1},
			"BlockSize, LengthCodec":  {BlockSize: 4, LengthCodec: be32},
			"BlockSize, MaxLength":    {BlockSize: 4, MaxLength: 10},
			"LengthCodec without dec": {LengthCodec: &filter.LengthCodec{Encode: be32.Encode}},
		}
		for name, o := range bad {
			if f, err := filter.NewBlock(o); !errors.Is(err, filter.ErrParameter) || f != nil {
				t.Errorf("%s: %v %v", name, f, err)
			}
		}
		if _, err := filter.NewBlock(filter.BlockOptions{MaxLength: 10, MaxBuffer: 13}); err != nil {
			t.Error(err)
		}
		data := chunks("134\x00a bunch of data here")
		f = mustBlock(t, filter.BlockOptions{MaxLength: 10})
		if _, err := filter.Get(f, data); !errors.Is(err, filter.ErrBlockExceeds) || !strings.Contains(err.Error(), "block exceeds") {
			t.Errorf("MaxLength: %v", err)
		}
		f = mustBlock(t, filter.BlockOptions{MaxLength: 5, MaxBuffer: 10})
		if _, err := filter.Get(f, data); !errors.Is(err, filter.ErrBufferExceeds) || !strings.Contains(err.Error(), "buffer exceeds") {
			t.Errorf("MaxBuffer: %v", err)
		}
	})

	t.Run("C91", func(t *testing.T) {
		// Quirk A10 reproduced: the garbage is dropped (with a warning)
		// and the complete frame behind it only comes on the next call.
		var warnings []string
		f := mustBlock(t, filter.BlockOptions{Warn: func(m string) { warnings = append(warnings, m) }})
		if got := mustGet(t, f, chunks("zz3\x00abc")); len(got) != 0 {
			t.Errorf("get = %q", got)
		}
		if diff := cmp.Diff([]string{"2 strange bytes removed from stream"}, warnings); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(strs("abc"), mustGet(t, f, nil)); diff != "" {
			t.Error(diff)
		}
	})
}

// TestBlockPendingKeepsHeader is the fixed half of A10 (port variant): POE's
// get_pending after "5\0ab" returns "ab"; the header is kept here so that
// the pending data means the same to another Block filter.
func TestBlockPendingKeepsHeader(t *testing.T) {
	f := mustBlock(t, filter.BlockOptions{})
	f.GetOneStart(chunks("5\x00ab"))
	if r, err := f.GetOne(); len(r) != 0 || err != nil {
		t.Fatal(r, err)
	}
	p := f.GetPending()
	if diff := cmp.Diff(strs("5\x00ab"), normList(p)); diff != "" {
		t.Error(diff)
	}
	g := mustBlock(t, filter.BlockOptions{})
	if diff := cmp.Diff(strs("abcde"), mustGet(t, g, append(p, []byte("cde")))); diff != "" {
		t.Error(diff)
	}
}

func TestBlockE20(t *testing.T) {
	if diff := cmp.Diff(strs("abcde"), mustPut(t, mustBlock(t, filter.BlockOptions{BlockSize: 4}), strs("ab", "cde"))); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff(strs("abcd", "efgh"), mustGet(t, mustBlock(t, filter.BlockOptions{BlockSize: 4}), chunks("abcdefghij"))); diff != "" {
		t.Error(diff)
	}
}

func TestBlockGarbage(t *testing.T) {
	f := mustBlock(t, filter.BlockOptions{MaxLength: 100})
	// Absurd lengths fail at once, before the NUL.
	if _, err := filter.Get(f, chunks("99999999999999999999999999999")); !errors.Is(err, filter.ErrBlockExceeds) {
		t.Errorf("absurd length: %v", err)
	}
	// Digits followed by neither digit nor NUL are dropped as garbage.
	f = mustBlock(t, filter.BlockOptions{})
	got := mustGet(t, f, chunks("12x3\x00abc"))
	got = append(got, mustGet(t, f, nil)...)
	got = append(got, mustGet(t, f, nil)...)
	if diff := cmp.Diff(strs("abc"), got); diff != "" {
		t.Error(diff)
	}
	// A codec returning a negative length is an error, not a panic.
	neg := &filter.LengthCodec{Encode: be32.Encode, Decode: func(b []byte) (int, int, bool) { return -5, 1, true }}
	f = mustBlock(t, filter.BlockOptions{LengthCodec: neg})
	if _, err := filter.Get(f, chunks("xyz")); !errors.Is(err, filter.ErrBadHeader) {
		t.Errorf("negative length: %v", err)
	}
}
