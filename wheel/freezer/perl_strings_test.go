package freezer

import (
	"bytes"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/poe-go/poe/internal/perltest"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// stringsHelper reads one payload from stdin (mode in: thaw it and print
// each key and value of the hash as its character codes) or writes one
// (mode out: a hash of a byte string and of text as UTF-8 bytes, as a Perl
// program puts text on the wire).
const stringsHelper = `
use strict; use warnings;
my ($freezer, $mode) = @ARGV;
my ($load, $dump);
if ($freezer eq 'YAML') { require YAML; $load = \&YAML::Load; $dump = \&YAML::Dump }
else { require FreezeThaw; $load = sub { (FreezeThaw::thaw($_[0]))[0] }; $dump = \&FreezeThaw::freeze }
binmode STDIN; binmode STDOUT;
sub codes { join '.', map { sprintf '%x', ord } split //, $_[0] }
if ($mode eq 'in') {
  local $/; my $v = $load->(scalar <STDIN>);
  for my $k (sort keys %$v) {
    my $t = $v->{$k}; utf8::decode(my $d = $t);
    print codes($k), '=', codes($t), ' ', codes($d), "\n";
  }
} else {
  my $t = "caf\x{e9}"; utf8::encode($t);
  print $dump->({ b => "\x80\xff", "k\xe9" => "\xe9", $t => $t });
}
`

func runStringsHelper(t *testing.T, f Freezer, mode string, in []byte) []byte {
	t.Helper()
	perltest.Need(t, "", "POE")
	perltest.Need(t, "", f.Name())
	cmd := exec.Command("perl", "-e", stringsHelper, f.Name(), mode)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("perl %s %s: %v: %s", f.Name(), mode, err, stderr.Bytes())
	}
	return out
}

// TestPerlReadsGoStrings: Perl's YAML.pm and FreezeThaw read a Go byte
// string as exactly its bytes (0x80 and 0xFF are two characters, not four
// bytes of UTF-8) and Go text as its UTF-8 bytes, which utf8::decode turns
// back into the text.
func TestPerlReadsGoStrings(t *testing.T) {
	for _, f := range textFreezers {
		t.Run(f.Name(), func(t *testing.T) {
			p, err := f.Freeze(storable.NewHash("b", storable.Bytes("\x80\xff"), "café", storable.String("café")))
			if err != nil {
				t.Fatal(err)
			}
			got := string(runStringsHelper(t, f, "in", p))
			want := "62=80.ff 80.ff\n" + "63.61.66.c3.a9=63.61.66.c3.a9 63.61.66.e9\n"
			if got != want {
				t.Fatalf("Perl read %q as\n%s\nwant\n%s", p, got, want)
			}
		})
	}
}

// TestGoReadsPerlStrings: what Perl writes comes to Go byte for byte: its
// byte strings as Bytes (a Latin-1 "\xe9" stays one byte), its UTF-8
// encoded text as the text, keys alike.
func TestGoReadsPerlStrings(t *testing.T) {
	for _, f := range textFreezers {
		t.Run(f.Name(), func(t *testing.T) {
			p := runStringsHelper(t, f, "out", nil)
			v, err := f.Thaw(p)
			if err != nil {
				t.Fatalf("Thaw(%q): %v", p, err)
			}
			h, ok := v.(*storable.Hash)
			if !ok {
				t.Fatalf("Thaw(%q) = %#v", p, v)
			}
			var parts []string
			for _, e := range h.Entries {
				k := "b:" + e.Key
				if e.UTF8 {
					k = "t:" + e.Key
				}
				var s string
				switch x := e.Value.(type) {
				case storable.Bytes:
					s = "b:" + string(x)
				case storable.String:
					s = "t:" + string(x)
				}
				parts = append(parts, k+"="+s)
			}
			sort.Strings(parts)
			got := strings.Join(parts, " ")
			if want := "b:b=b:\x80\xff b:k\xe9=b:\xe9 t:café=t:café"; got != want {
				t.Fatalf("Go read %q as %q, want %q", p, got, want)
			}
			var m map[string]string
			if err := storable.UnmarshalValue(v, &m); err != nil || m["café"] != "café" || m["b"] != "\x80\xff" {
				t.Fatalf("UnmarshalValue: %q, %v", m, err)
			}
		})
	}
}
