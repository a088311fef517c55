package main

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/examples/internal/clitest"
	"github.com/poe-go/poe/internal/perltest"
)

// goldenDir holds the Storable vectors Perl wrote (testdata/ikc/storable at
// the module root).
func goldenDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "ikc", "storable")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("recorded Perl data missing: %v", err)
	}
	return dir
}

// lossy lists the vectors whose distinctions the JSON view drops (immortal
// undef, array holes, weak and overloaded references).
var lossy = map[string]bool{"02": true, "34": true, "51": true, "52": true}

func vectors(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join(goldenDir(t), "*.bin"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden vectors: %v", err)
	}
	sort.Strings(files)
	return files
}

// TestRoundTrip runs the built command on every golden vector:
// tojson then fromjson gives the original bytes back.
func TestRoundTrip(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "storable")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, file := range vectors(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".bin")
		t.Run(name, func(t *testing.T) {
			blob, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "tojson")
			cmd.Stdin = bytes.NewReader(blob)
			js, err := cmd.Output()
			if err != nil {
				t.Fatalf("tojson: %v", err)
			}
			cmd = exec.Command(bin, "fromjson")
			cmd.Stdin = bytes.NewReader(js)
			back, err := cmd.Output()
			if err != nil {
				t.Fatalf("fromjson %s: %v", js, err)
			}
			if !bytes.Equal(back, blob) && !lossy[name[:2]] {
				t.Errorf("round trip through\n%s\n got % x\nwant % x", js, back, blob)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	var out bytes.Buffer
	for _, c := range []struct {
		args []string
		in   string
	}{
		{nil, ""},
		{[]string{"frobnicate"}, ""},
		{[]string{"tojson"}, "not storable"},
		{[]string{"fromjson"}, "{"},
		{[]string{"fromjson"}, `[{"$shared": 7}]`},
	} {
		if err := run(c.args, strings.NewReader(c.in), &out); err == nil {
			t.Errorf("run(%v, %q) succeeded", c.args, c.in)
		}
	}
}

func TestMarkers(t *testing.T) {
	in := `{"a": {"$bytes": "Y2Fm6Q=="}, "b": {"$ref": "x"}, "c": {"$bless": "Foo", "$value": [1, 2.5, null]}, "d": {"$bool": true}, "e": "☺"}`
	var blob bytes.Buffer
	if err := run([]string{"fromjson"}, strings.NewReader(in), &blob); err != nil {
		t.Fatal(err)
	}
	var js bytes.Buffer
	if err := run([]string{"tojson", "-compact"}, bytes.NewReader(blob.Bytes()), &js); err != nil {
		t.Fatal(err)
	}
	want := `{"a":{"$bytes":"Y2Fm6Q=="},"b":{"$ref":"x"},"c":{"$bless":"Foo","$value":[1,"2.5",null]},"d":{"$bool":true},"e":"☺"}` + "\n"
	if js.String() != want {
		t.Errorf("got  %s\nwant %s", js.String(), want)
	}
}

// TestPerlReadsFromJSON: Perl's thaw reads what fromjson writes, and
// Perl's canonical nfreeze of the result is the original golden image.
func TestPerlReadsFromJSON(t *testing.T) {
	perltest.Need(t, "", "Storable")
	var lines, names []string
	var want [][]byte
	for _, file := range vectors(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".bin")
		if lossy[name[:2]] {
			continue
		}
		blob, _ := os.ReadFile(file)
		var js, back bytes.Buffer
		if err := run([]string{"tojson"}, bytes.NewReader(blob), &js); err != nil {
			t.Fatal(err)
		}
		if err := run([]string{"fromjson"}, &js, &back); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, hex.EncodeToString(back.Bytes()))
		names = append(names, name)
		want = append(want, blob)
	}
	cmd := exec.Command("perl", "-MStorable=thaw,nfreeze", "-e",
		`$Storable::canonical = 1; while (<STDIN>) { chomp; my $v = thaw(pack "H*", $_) or die "thaw failed"; print unpack("H*", nfreeze($v)), "\n" }`)
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("perl: %v", err)
	}
	got := strings.Fields(string(out))
	if len(got) != len(want) {
		t.Fatalf("perl returned %d images, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != hex.EncodeToString(want[i]) {
			t.Errorf("%s: Perl re-froze fromjson's output as %s, want %x", names[i], got[i], want[i])
		}
	}
}

// TestMessages runs the built command: a bad image or bad JSON is one
// line on stderr saying "storable:" once, exit status 1; usage mistakes
// print the complaint and the usage once, exit status 2.
func TestMessages(t *testing.T) {
	bin := clitest.Build(t, ".")
	limit := 10 * time.Second
	for _, c := range []struct{ cmd, in, want string }{
		{"tojson", "garbage", "storable: not a Storable image at offset 0"},
		{"fromjson", "{", "storable: JSON view: "},
		{"fromjson", strings.Repeat("[", 5000), "storable: JSON view: nesting too deep"},
	} {
		r := clitest.FailsInput(t, limit, 1, []string{c.want}, c.in, bin, c.cmd)
		if n := strings.Count(r.Stderr, "storable:"); n != 1 {
			t.Errorf("%s: %q says storable: %d times", c.cmd, r.Stderr, n)
		}
	}
	for _, args := range [][]string{{"tojson", "-no-such-flag"}, {"frobnicate"}, {}} {
		r := clitest.Run(t, limit, bin, args...)
		if r.Code != 2 || strings.Count(r.Stderr, "usage:") != 1 || strings.Count(r.Stderr, "storable: ") != 1 {
			t.Errorf("storable %q: exit %d, stderr:\n%s", args, r.Code, r.Stderr)
		}
	}
}
