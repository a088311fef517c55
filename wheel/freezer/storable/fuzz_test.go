package storable

import (
	"bytes"
	"os"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode. Whatever decodes must encode,
// and encoding must then be stable: Encode(Decode(Encode(v))) == Encode(v).
func FuzzDecode(f *testing.F) {
	for _, bin := range goldenVectors(f) {
		data, err := os.ReadFile(bin)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{0x05, 0x0b, 0x02, 0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00})
	f.Add([]byte{0x05, 0x0b, 0x04, 0x04, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00})
	// One Decoder across inputs, as a connection uses it: whatever the
	// previous input left in its arena, it must agree with Decode.
	reused := &Decoder{Options: DecodeOptions{MaxDepth: 200}}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeOptions{MaxDepth: 200}.Decode(data)
		rv, rerr := reused.Decode(data)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("Decode error %v, Decoder.Decode error %v", err, rerr)
		}
		if err != nil {
			return
		}
		b1, err := Encode(v)
		if err != nil {
			t.Fatalf("Encode of a decoded value failed: %v", err)
		}
		if rb, err := Encode(rv); err != nil || !bytes.Equal(rb, b1) {
			t.Fatalf("Decoder.Decode differs from Decode (%v):\n% x\n% x", err, rb, b1)
		}
		v2, err := Decode(b1)
		if err != nil {
			t.Fatalf("Decode(Encode(v)) failed: %v\n% x", err, b1)
		}
		b2, err := Encode(v2)
		if err != nil {
			t.Fatalf("second Encode failed: %v", err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("encoding not stable:\n% x\n% x", b1, b2)
		}
		if _, err := ToJSON(v, &JSONOptions{MarkBytes: true}); err != nil {
			t.Fatalf("ToJSON: %v", err)
		}
	})
}
