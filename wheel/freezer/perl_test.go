package freezer

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/poe-go/poe/internal/perltest"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// textHelper loads (or dumps) YAML or FreezeThaw and prints a canonical
// dump in which every scalar is its UTF-8 text ("U" for undef). The texts
// go as POE::Filter::Reference sends them: YAML.pm's output as its
// internal bytes (UTF-8 when it holds a character string, raw bytes when
// not), FreezeThaw's as bytes; and they are loaded as received, bytes.
const textHelper = `
use strict; use warnings;
use Scalar::Util qw(blessed refaddr reftype);
my $mode = shift;
if ($mode eq 'yaml') { require YAML; $YAML::LoadBlessed = 1 } else { require FreezeThaw }
binmode STDOUT;
my (%id, $next);
sub hx { unpack("H*", $_[0]) }
sub txt { my $x = shift; utf8::upgrade($x); utf8::encode($x); hx($x) }
sub d {
  my $v = shift;
  return defined $v ? "s" . txt($v) : "U" unless ref $v;
  my $a = refaddr($v);
  return "S$id{$a}" if exists $id{$a};
  my $n = $id{$a} = $next++;
  my $c = blessed($v);
  my $p = defined $c ? "B" . hx($c) . ":" : "";
  my $t = reftype $v;
  return "${p}A$n\[" . join(",", map { d($_) } @$v) . "]" if $t eq 'ARRAY';
  if ($t eq 'HASH') {
    my %tok = map { ("k" . txt($_) => $_) } keys %$v;
    return "${p}H$n\{" . join(",", map { "$_=>" . d($v->{$tok{$_}}) } sort keys %tok) . "}";
  }
  return "${p}R$n(" . d($$v) . ")" if $t eq 'SCALAR' || $t eq 'REF';
  die "unexpected reftype $t";
}
sub dump1 { %id = (); $next = 0; d($_[0]) }
my @special = ("~", "null", "-", "---", "...", " lead", "trail ", "- a", "a: b", "#c", "", "0", "'", "\"", "a'b", "x\ny", "1e5", "=", "?", "a,b", ":", "a:", "[x", "{y}", "&a", "*a", "!t", "|", ">", "%", "\@x", "\x{e9}t\x{e9}", "\x{263a}", "line one is long enough\nline two is also long\n", "  indented first line xxxxxxxx\nsecond\n\n", "no trailing newline at all here\nsecond line", "long text that ends with blank lines\n\n\n");
my @chars = (split(//, "abc xyz:#-?'\"\\[]{},&*!|>%\@\x60~=.01\t\n"), "\x{e9}", "\x{263a}", "\x01");
my @pool;
sub rstr {
  my $s = rand() < 0.3 ? $special[int rand @special] : join "", map { $chars[int rand @chars] } 1 .. int rand 8;
  # FreezeThaw counts characters and cannot carry wide ones over a socket.
  $s =~ s/[^\x00-\xff]//g if $mode ne 'yaml';
  return $s;
}
sub rkey { my $k = rstr(); return length($k) > 30 && $k =~ /\n/ ? "k" : $k }
sub gen {
  my $depth = shift;
  my $k = int rand($depth > 3 ? 4 : 10);
  return undef if $k == 0;
  return int(rand 2000) - 1000 if $k == 1;
  return rstr() if $k <= 3;
  if ($k == 4) { my $s = rstr(); return \$s }
  if ($k == 5 && @pool) { return $pool[int rand @pool] }
  if ($k <= 7) {
    my @a = map { gen($depth + 1) } 1 .. int rand 4;
    my $r = \@a; push @pool, $r;
    return rand() < 0.2 ? bless($r, "Gen::A") : $r;
  }
  # (YAML.pm writes long multi-line keys as "? |" complex keys, which the
  # Go reader does not support; IKC never has such keys.)
  my %h; $h{rkey()} = gen($depth + 1) for 1 .. int rand 4;
  my $r = \%h; push @pool, $r;
  return rand() < 0.2 ? bless($r, "Gen::H") : $r;
}
while (my $line = <STDIN>) {
  chomp $line;
  if ($line =~ /^GEN (\d+) (\d+)$/) {
    srand($1);
    for (1 .. $2) {
      @pool = ();
      my $v = { v => gen(0) };
      my $text;
      if ($mode eq 'yaml') { $text = YAML::Dump($v); utf8::encode($text) if utf8::is_utf8($text) }
      else { $text = FreezeThaw::freeze($v); utf8::downgrade($text) }
      print "P\t", dump1($v), "\t", hx($text), "\n";
    }
    next;
  }
  my $text = pack("H*", $line);
  my $v;
  if ($mode eq 'yaml') { $v = YAML::Load($text) }
  else { ($v) = FreezeThaw::thaw($text) }
  print "G\t", dump1($v), "\n";
}
`

// textDump mirrors textHelper's d() for a Go value: every string as its
// characters (a byte string's bytes read as Latin-1) in UTF-8.
func textDump(v storable.Value) string { return dumpAs(v, false) }

// perlView is textDump of what a Perl peer gets: every string as the
// bytes it travelled as.
func perlView(v storable.Value) string { return dumpAs(v, true) }

func dumpAs(v storable.Value, asBytes bool) string {
	var b strings.Builder
	ids := map[storable.Value]int{}
	var d func(v storable.Value)
	d = func(v storable.Value) {
		switch x := v.(type) {
		case *storable.Array, *storable.Hash, *storable.Ref:
		case nil, storable.Undef:
			b.WriteString("U")
			return
		default:
			s, _, err := scalarText(x)
			if err != nil {
				panic(err)
			}
			if _, raw := x.(storable.Bytes); raw || asBytes {
				s = latin1ToUTF8(s)
			}
			b.WriteString("s" + hex.EncodeToString([]byte(s)))
			return
		}
		if n, ok := ids[v]; ok {
			fmt.Fprintf(&b, "S%d", n)
			return
		}
		n := len(ids)
		ids[v] = n
		if c := className(v); c != "" {
			b.WriteString("B" + hex.EncodeToString([]byte(c)) + ":")
		}
		switch x := v.(type) {
		case *storable.Array:
			fmt.Fprintf(&b, "A%d[", n)
			for i, e := range x.Elems {
				if i > 0 {
					b.WriteByte(',')
				}
				d(e)
			}
			b.WriteByte(']')
		case *storable.Hash:
			fmt.Fprintf(&b, "H%d{", n)
			idx := make([]int, len(x.Entries))
			tok := make([]string, len(x.Entries))
			for i, e := range x.Entries {
				idx[i] = i
				k := e.Key
				if !e.UTF8 || asBytes {
					k = latin1ToUTF8(k)
				}
				tok[i] = "k" + hex.EncodeToString([]byte(k))
			}
			sort.Slice(idx, func(a, c int) bool { return tok[idx[a]] < tok[idx[c]] })
			for j, i := range idx {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(tok[i] + "=>")
				d(x.Entries[i].Value)
			}
			b.WriteByte('}')
		case *storable.Ref:
			fmt.Fprintf(&b, "R%d(", n)
			d(x.Target)
			b.WriteByte(')')
		}
	}
	d(v)
	return b.String()
}

var nasty = []string{"~", "null", "-", "---", "...", " lead", "trail ", "- a", "a: b", "#c", "", "0", "'", `"`, "a'b", "x\ny",
	"1e5", "=", "?", "a,b", ":", "a:", "[x", "{y}", "&a", "*a", "!t", "|", ">", "%", "@x", "été", "☺", "tab\there", "\x01", `back\slash`,
	"line one is long enough\nline two is also long\n", "  indented first line xxxxxxxx\nsecond\n\n", "no trailing newline at all here\nsecond line", "long text that ends with blank lines\n\n\n"}

type textGen struct {
	r    *rand.Rand
	pool []storable.Value
}

func (g *textGen) str() string {
	if g.r.Intn(3) == 0 {
		return nasty[g.r.Intn(len(nasty))]
	}
	const chars = "abc xyz:#-?'\"\\[]{},&*!|>%@`~=.01\t\n"
	var b strings.Builder
	for i := g.r.Intn(8); i > 0; i-- {
		switch g.r.Intn(12) {
		case 0:
			b.WriteString("é")
		case 1:
			b.WriteString("☺")
		default:
			b.WriteByte(chars[g.r.Intn(len(chars))])
		}
	}
	return b.String()
}

func (g *textGen) scalar(s string) storable.Value {
	if isASCII(s) {
		return storable.Bytes(s)
	}
	return storable.String(s)
}

func (g *textGen) item(depth int) storable.Value {
	k := g.r.Intn(10)
	if depth > 3 {
		k = g.r.Intn(4)
	}
	switch k {
	case 0:
		return storable.Undef{}
	case 1:
		return storable.Int(g.r.Intn(2000) - 1000)
	case 2, 3:
		return g.scalar(g.str())
	case 4:
		return &storable.Ref{Target: g.scalar(g.str())}
	case 5:
		if len(g.pool) > 0 {
			return g.pool[g.r.Intn(len(g.pool))]
		}
		return storable.Undef{}
	case 6, 7:
		a := &storable.Array{}
		if g.r.Intn(5) == 0 {
			a.Class = "Go::A"
		}
		g.pool = append(g.pool, a)
		for i := g.r.Intn(4); i > 0; i-- {
			a.Elems = append(a.Elems, g.item(depth+1))
		}
		return a
	}
	h := &storable.Hash{}
	if g.r.Intn(5) == 0 {
		h.Class = "Go::H"
	}
	g.pool = append(g.pool, h)
	seen := map[string]bool{}
	for i := g.r.Intn(4); i > 0; i-- {
		k := g.str()
		if seen[k] {
			continue
		}
		seen[k] = true
		h.Entries = append(h.Entries, storable.Entry{Key: k, UTF8: !isASCII(k), Value: g.item(depth + 1)})
	}
	return h
}

// runTextDifferential: Go dumps random values and Perl loads them (the
// canonical dumps must agree); Perl dumps random values of its own and Go
// loads them. It returns how many of Perl's texts Go re-dumps byte for byte.
func runTextDifferential(t *testing.T, mode string, f Freezer) (exact, total int) {
	script := filepath.Join(t.TempDir(), "helper.pl")
	if err := os.WriteFile(script, []byte(textHelper), 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 500
	g := &textGen{r: rand.New(rand.NewSource(3))}
	var in bytes.Buffer
	var want []string
	for i := 0; i < n; i++ {
		g.pool = nil
		v := storable.NewHash("v", g.item(0))
		text, err := f.Freeze(v)
		if err != nil {
			t.Fatalf("Freeze: %v", err)
		}
		if back, err := f.Thaw(text); err != nil {
			t.Fatalf("Thaw(Freeze(v)): %v\n%s", err, text)
		} else if textDump(back) != textDump(v) {
			t.Fatalf("Go round trip differs:\n%s\n%s\n%s", text, textDump(back), textDump(v))
		}
		in.WriteString(hex.EncodeToString(text) + "\n")
		want = append(want, perlView(v))
	}
	in.WriteString("GEN 11 500\n")
	cmd := exec.Command("perl", script, mode)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("perl helper: %v\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	i, perlMade := 0, 0
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		switch fields[0] {
		case "G":
			if fields[1] != want[i] {
				t.Errorf("record %d: Perl loaded Go's text differently\nperl %s\n  go %s", i, fields[1], want[i])
			}
			i++
		case "P":
			raw, err := hex.DecodeString(fields[2])
			if err != nil {
				t.Fatal(err)
			}
			v, err := f.Thaw(raw)
			if err != nil {
				t.Errorf("Thaw of Perl's text: %v\n%s", err, raw)
				continue
			}
			if d := textDump(v); d != fields[1] {
				t.Errorf("Go loaded Perl's text differently:\n%s\nperl %s\n  go %s", raw, fields[1], d)
			}
			if again, err := f.Freeze(v); err == nil && bytes.Equal(again, raw) {
				exact++
			} else if os.Getenv("FREEZER_SHOW_DIFF") != "" {
				t.Logf("re-dump differs:\n%q\n%q", raw, again)
			}
			perlMade++
		}
	}
	if i != n || perlMade != 500 {
		t.Fatalf("%d Go-made and %d Perl-made records", i, perlMade)
	}
	return exact, perlMade
}

func TestYAMLPerlDifferential(t *testing.T) {
	perltest.Need(t, "", "POE")
	perltest.Need(t, "", "YAML")
	exact, total := runTextDifferential(t, "yaml", YAML{})
	t.Logf("Go re-dumps %d of %d YAML.pm documents byte for byte", exact, total)
	if exact != total {
		t.Errorf("YAML writer differs from YAML.pm on %d of %d documents (FREEZER_SHOW_DIFF=1 shows them)", total-exact, total)
	}
}

func TestFreezeThawPerlDifferential(t *testing.T) {
	perltest.Need(t, "", "POE")
	perltest.Need(t, "", "FreezeThaw")
	exact, total := runTextDifferential(t, "ft", FreezeThaw{})
	t.Logf("Go re-freezes %d of %d FreezeThaw strings byte for byte", exact, total)
	if exact != total {
		t.Errorf("FreezeThaw writer differs from Perl's on %d of %d", total-exact, total)
	}
}
