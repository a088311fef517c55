package storable

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

type captureUnit struct {
	Type          string `json:"type"`
	Freezer       string `json:"freezer"`
	PayloadOffset int    `json:"payload_offset"`
	PayloadLength int    `json:"payload_length"`
	Storable      *tree  `json:"storable"`
}

type captureConn struct {
	Connection int           `json:"connection"`
	C2S        []captureUnit `json:"c2s"`
	S2C        []captureUnit `json:"s2c"`
}

type captureFrames struct {
	Connections []captureConn `json:"connections"`
}

// TestCaptureFrames decodes every Storable frame recorded in the captures,
// compares it with the opcode tree in frames.json and re-encodes it to the
// identical bytes (hash order is kept as decoded).
func TestCaptureFrames(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(goldenDir(t), "captures", "*"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(dirs)
	total := 0
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			js, err := os.ReadFile(filepath.Join(dir, "frames.json"))
			if err != nil {
				t.Fatal(err)
			}
			var fr captureFrames
			if err := json.Unmarshal(js, &fr); err != nil {
				t.Fatal(err)
			}
			for _, conn := range fr.Connections {
				for dirn, units := range map[string][]captureUnit{"c2s": conn.C2S, "s2c": conn.S2C} {
					if len(units) == 0 {
						continue
					}
					raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("conn%d.%s.bin", conn.Connection, dirn)))
					if err != nil {
						t.Fatal(err)
					}
					for ui, u := range units {
						if u.Type != "frame" || u.Freezer != "Storable" || u.Storable == nil {
							continue
						}
						total++
						payload := raw[u.PayloadOffset : u.PayloadOffset+u.PayloadLength]
						where := fmt.Sprintf("conn%d.%s unit %d", conn.Connection, dirn, ui)
						got, err := Decode(payload)
						if err != nil {
							t.Errorf("%s: Decode: %v", where, err)
							continue
						}
						if err := equal(got, fromTree(t, u.Storable)); err != nil {
							t.Errorf("%s: decoded value differs from frames.json: %v", where, err)
						}
						re, err := Encode(got)
						if err != nil || !bytes.Equal(re, payload) {
							t.Errorf("%s: re-encode: %v\n got % x\nwant % x", where, err, re, payload)
						}
					}
				}
			}
		})
	}
	if total < 50 {
		t.Errorf("only %d Storable frames found in the captures", total)
	}
	t.Logf("%d Storable frames decoded and re-encoded", total)
}
