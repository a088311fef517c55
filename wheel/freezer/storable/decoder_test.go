package storable

import (
	"bytes"
	"os"
	"testing"
)

// TestDecoderReuse: one Decoder through every golden vector, twice, gives
// what Decode gives, and zeroes what the last image used.
func TestDecoderReuse(t *testing.T) {
	var dec Decoder
	for round := 0; round < 2; round++ {
		for _, bin := range goldenVectors(t) {
			data, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			want, werr := Decode(data)
			got, gerr := dec.Decode(data)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("%s: Decode error %v, Decoder error %v", bin, werr, gerr)
			}
			if werr != nil {
				continue
			}
			wb, err1 := Encode(want)
			gb, err2 := Encode(got)
			if err1 != nil || err2 != nil || !bytes.Equal(wb, gb) {
				t.Fatalf("%s: Decoder gives\n% x\nDecode gives\n% x (%v, %v)", bin, gb, wb, err1, err2)
			}
		}
	}
	h, err := dec.Decode([]byte{0x05, 0x0b, 0x03, 0, 0, 0, 1, 0x0a, 1, 'v', 0, 0, 0, 1, 'k'})
	if err != nil || len(h.(*Hash).Entries) != 1 {
		t.Fatalf("%#v, %v", h, err)
	}
	dec.a.reset()
	if dec.a.entries[0] != (Entry{}) || dec.a.strs[0] != "" {
		t.Fatal("reset left the last image's values in the arena")
	}
}
