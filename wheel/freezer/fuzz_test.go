package freezer

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzFrameReader feeds arbitrary streams, split at an arbitrary point, to
// the push Framer and to the pull Reader: both must agree, never panic, and
// every payload must go through each thaw without panicking.
func FuzzFrameReader(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(goldenDir(f), "freezers", "*.frame"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(3))
	}
	caps, _ := filepath.Glob(filepath.Join(goldenDir(f), "captures", "[cdh]*", "conn1.s2c.bin"))
	for _, file := range caps {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			f.Add(b[i+1:], uint16(i))
		}
	}
	f.Add([]byte("3\x00abc0\x00"), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		const max = 1 << 16
		fr := Framer{MaxFrame: max}
		cut := int(split) % (len(data) + 1)
		var pushed [][]byte
		var pushErr error
		for _, part := range [][]byte{data[:cut], data[cut:]} {
			fr.Feed(part)
			for {
				p, ok, err := fr.Next()
				if err != nil {
					pushErr = err
					break
				}
				if !ok {
					break
				}
				pushed = append(pushed, append([]byte(nil), p...))
			}
		}
		r := NewReader(bytes.NewReader(data), max)
		var pulled [][]byte
		var pullErr error
		for {
			p, err := r.ReadFrame()
			if err != nil {
				pullErr = err
				break
			}
			pulled = append(pulled, append([]byte(nil), p...))
		}
		if len(pushed) != len(pulled) {
			t.Fatalf("Framer gave %d frames (%v), Reader %d (%v)", len(pushed), pushErr, len(pulled), pullErr)
		}
		for i := range pushed {
			if !bytes.Equal(pushed[i], pulled[i]) {
				t.Fatalf("frame %d differs", i)
			}
		}
		for _, sentinel := range []error{ErrBadHeader, ErrFrameTooLarge} {
			if errors.Is(pushErr, sentinel) != errors.Is(pullErr, sentinel) {
				t.Fatalf("errors disagree: %v vs %v", pushErr, pullErr)
			}
		}
		if pushErr == nil && pullErr != io.EOF && pullErr != io.ErrUnexpectedEOF {
			t.Fatalf("Reader error %v without Framer error", pullErr)
		}
		for _, p := range pushed {
			for _, fz := range []Freezer{Storable{}, YAML{}, FreezeThaw{}} {
				v, err := fz.Thaw(p)
				if err != nil {
					continue
				}
				if _, err := fz.Freeze(v); err != nil && fz.Name() != NameStorable {
					// Thawed data must be writable again.
					t.Fatalf("%s: Freeze(Thaw(p)) failed: %v", fz.Name(), err)
				}
			}
		}
		var out []byte
		for _, p := range pushed {
			out = AppendFrame(out, p)
		}
		var again Framer
		again.Feed(out)
		for i := range pushed {
			p, ok, err := again.Next()
			if !ok || err != nil || !bytes.Equal(p, pushed[i]) {
				t.Fatalf("AppendFrame round trip failed at %d", i)
			}
		}
	})
}

// FuzzThaw feeds arbitrary payloads to the YAML and FreezeThaw readers:
// no panics, and whatever they accept must be written and read back to the
// same structure.
func FuzzThaw(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(goldenDir(f), "freezers", "*.frame"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			f.Add(b[i+1:])
		}
	}
	f.Add([]byte("---\na: |+2\n    x\n  y\n\n"))
	f.Add([]byte("FrT;!0|{>0|$1|A@0|}>0|$1|A@1|<0|@1|<0|"))
	f.Fuzz(func(t *testing.T, p []byte) {
		for _, fz := range []Freezer{YAML{}, FreezeThaw{}} {
			v, err := fz.Thaw(p)
			if err != nil {
				continue
			}
			out, err := fz.Freeze(v)
			if err != nil {
				t.Fatalf("%s: Freeze(Thaw(p)): %v", fz.Name(), err)
			}
			v2, err := fz.Thaw(out)
			if err != nil {
				t.Fatalf("%s: Thaw(Freeze(Thaw(p))): %v\n%q", fz.Name(), err, out)
			}
			if a, b := textDump(v), textDump(v2); a != b {
				t.Fatalf("%s: round trip changed the value\n%q\n%s\n%s", fz.Name(), out, a, b)
			}
		}
	})
}
