package freezer

import (
	"testing"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// TestStringsRoundTripExactly: byte strings keep every byte (0x80-0xFF
// too) and non-ASCII text its characters, as values and as hash keys,
// Go to Go through each text freezer.
func TestStringsRoundTripExactly(t *testing.T) {
	strs := []string{"\x80\xff", "caf\xe9", "café", "☺ é", "\xc3\xa9", "a\x00b\x7f\x80"}
	for _, f := range textFreezers {
		for _, s := range strs {
			for _, v := range []storable.Value{storable.Bytes(s), storable.String(s)} {
				if _, ok := v.(storable.String); ok && !isText(s) {
					continue
				}
				h := &storable.Hash{Entries: []storable.Entry{{Key: s, UTF8: isText(s), Value: v}}}
				out, err := f.Freeze(h)
				if err != nil {
					t.Fatalf("%s %q: %v", f.Name(), s, err)
				}
				back, err := f.Thaw(out)
				if err != nil {
					t.Fatalf("%s %q: Thaw(%q): %v", f.Name(), s, out, err)
				}
				var got map[string]string
				if err := storable.UnmarshalValue(back, &got); err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 || got[s] != s {
					t.Errorf("%s: %T %q came back as %q (frozen %q)", f.Name(), v, s, got, out)
				}
			}
		}
		// Plain Go values: a string is text, a []byte bytes.
		out, err := f.Freeze(map[string]any{"café": "café", "b": []byte("\x80\xff")})
		if err != nil {
			t.Fatal(err)
		}
		back, err := f.Thaw(out)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := storable.UnmarshalValue(back, &m); err != nil {
			t.Fatal(err)
		}
		if m["café"] != "café" || m["b"] != "\x80\xff" {
			t.Errorf("%s: Go values came back as %q (frozen %q)", f.Name(), m, out)
		}
	}
}

// TestYAMLHighBytesRaw: a byte string's high bytes go out as themselves
// (YAML.pm writes a byte string's characters, each one byte), not as the
// UTF-8 of U+0080..U+00FF.
func TestYAMLHighBytesRaw(t *testing.T) {
	out, err := YAML{}.Freeze(storable.Bytes("\x80\xff"))
	if err != nil || string(out) != "--- \x80\xff\n" {
		t.Fatalf("Freeze = %q, %v; want %q", out, err, "--- \x80\xff\n")
	}
	v, err := YAML{}.Thaw(out)
	if b, ok := v.(storable.Bytes); err != nil || !ok || string(b) != "\x80\xff" {
		t.Fatalf("Thaw = %#v, %v", v, err)
	}
}
