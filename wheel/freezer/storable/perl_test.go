package storable

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/poe-go/poe/internal/perltest"
)

// perlHelper reads hex nfreeze images, one per line, thaws each and prints
// "G<TAB>canonical dump<TAB>hex of nfreeze of the thawed value"; given
// "GEN <seed> <n>" it builds n random Perl values itself and prints
// "P<TAB>dump of thaw(nfreeze(v))<TAB>hex of nfreeze(v)".
const perlHelper = `
use strict; use warnings;
use Storable qw(nfreeze thaw);
use B ();
use Scalar::Util qw(blessed refaddr reftype weaken);
binmode STDOUT;
my (%id, $next);
sub hx { unpack("H*", $_[0]) }
sub sc {
  my $x = shift;
  return "U" unless defined $x;
  my $f = B::svref_2object(\$x)->FLAGS;
  return "i$x" if ($f & B::SVf_IOK) && !($f & B::SVf_POK);
  if (utf8::is_utf8($x)) { my $b = $x; utf8::encode($b); return "u" . hx($b) }
  return "s" . hx($x);
}
sub ktok {
  my $k = shift;
  if (utf8::is_utf8($k)) { my $b = $k; utf8::encode($b); return "K" . hx($b) }
  return "k" . hx($k);
}
sub d {
  my $v = shift;
  return sc($v) unless ref $v;
  my $a = refaddr($v);
  return "S$id{$a}" if exists $id{$a};
  my $n = $id{$a} = $next++;
  my $c = blessed($v);
  my $p = defined $c ? "B" . hx($c) . ":" : "";
  my $t = reftype $v;
  return "${p}A$n\[" . join(",", map { d($_) } @$v) . "]" if $t eq 'ARRAY';
  if ($t eq 'HASH') {
    my %tok = map { (ktok($_) => $_) } keys %$v;
    return "${p}H$n\{" . join(",", map { "$_=>" . d($v->{$tok{$_}}) } sort keys %tok) . "}";
  }
  return "${p}R$n(" . d($$v) . ")" if $t eq 'SCALAR' || $t eq 'REF';
  die "unexpected reftype $t";
}
sub dump1 { %id = (); $next = 0; d($_[0]) }

my @pool;
our @anc;
sub rstr {
  my $k = int rand 6;
  my $len = int rand(rand() < 0.1 ? 400 : 12);
  return join "", map { chr(32 + int rand 95) } 1 .. $len if $k <= 2;
  return join "", map { chr(int rand 256) } 1 .. $len if $k == 3;
  if ($k == 4) { my $s = join "", map { chr(160 + int rand 96) } 1 .. $len; utf8::upgrade($s); return $s }
  return join "", map { chr(0x100 + int rand 0x2000) } 1 .. $len;
}
sub rnum {
  my $k = int rand 8;
  return int(rand 256) - 128 if $k == 0;
  return int(rand 2**32) - 2**31 if $k == 1;
  return int(rand 2**50) * (rand() < .5 ? -1 : 1) if $k == 2;
  return 18446744073709551615 if $k == 3;
  return rand() * 10**(int(rand 40) - 20) if $k == 4;
  return 0.1 + 0.2 if $k == 5;
  return 4 / 2 if $k == 6;
  return -(2**31);
}
sub gen {
  my $depth = shift;
  my $k = int rand($depth > 4 ? 5 : 12);
  return undef if $k == 0;
  return rnum() if $k <= 2;
  return rstr() if $k <= 4;
  if ($k == 5) { my $s = $depth > 4 ? rstr() : gen($depth + 1); return \$s }
  if ($k == 6 && @pool) { return $pool[int rand @pool] }
  if ($k == 7) { my @a; $a[int rand 4] = gen($depth + 1); push @pool, \@a; return \@a }
  if ($k <= 9) {
    my @a;
    my $r = \@a; push @pool, $r;
    local @anc = (@anc, $r);
    push @a, gen($depth + 1) for 1 .. int rand 5;
    # A weak link back to an ancestor (which the structure holds strongly).
    if (rand() < 0.2) { push @a, $anc[int rand @anc]; weaken($a[-1]) }
    return rand() < 0.2 ? bless($r, "Gen::A" . int rand 3) : $r;
  }
  my %h; $h{rstr()} = gen($depth + 1) for 1 .. int rand 5;
  my $r = \%h; push @pool, $r;
  return rand() < 0.2 ? bless($r, "Gen::H" . int rand 3) : $r;
}

while (my $line = <STDIN>) {
  chomp $line;
  if ($line =~ /^GEN (\d+) (\d+)$/) {
    srand($1);
    for (1 .. $2) {
      @pool = ();
      my $v = gen(0);
      $v = [$v] unless ref $v;
      push @$v, $v if reftype($v) eq 'ARRAY' && rand() < 0.1;
      my $b = nfreeze($v);
      print "P\t", dump1(thaw($b)), "\t", hx($b), "\n";
    }
    next;
  }
  my $v = thaw(pack("H*", $line));
  die "thaw failed" unless defined $v;
  print "G\t", dump1($v), "\t", hx(nfreeze($v)), "\n";
}
`

// perlDump renders a Value the way perlHelper's d() renders what Perl's
// thaw made of it.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(0, i-60)
	return fmt.Sprintf("at %d: %q vs %q", i, a[lo:min(len(a), i+60)], b[lo:min(len(b), i+60)])
}

var (
	immortalUndef Ref
	immortalBool  = map[Bool]*Ref{true: {}, false: {}}
)

func perlDump(v Value) string {
	var b strings.Builder
	ids := map[Value]int{}
	var d func(v Value)
	scalar := func(v Value) {
		switch x := v.(type) {
		case nil, Undef:
			b.WriteString("U")
		case Int:
			if x >= math.MinInt32 && x <= math.MaxInt32 {
				b.WriteString("i" + strconv.FormatInt(int64(x), 10))
			} else {
				b.WriteString("s" + hex.EncodeToString([]byte(strconv.FormatInt(int64(x), 10))))
			}
		case Float:
			f := float64(x)
			if perlIntegral(f) {
				if f >= math.MinInt32 && f <= math.MaxInt32 {
					b.WriteString("i" + strconv.FormatInt(int64(f), 10))
					return
				}
			}
			b.WriteString("s" + hex.EncodeToString([]byte(formatFloat(f))))
		case Bytes:
			b.WriteString("s" + hex.EncodeToString([]byte(x)))
		case String:
			if x == "" {
				// Perl cannot tell an empty character string from an
				// empty byte string (thaw leaves the flag off).
				b.WriteString("s")
				return
			}
			b.WriteString("u" + hex.EncodeToString([]byte(x)))
		default:
			panic(fmt.Sprintf("perlDump: %T", v))
		}
	}
	d = func(v Value) {
		if w, ok := v.(Weak); ok {
			v = w.To
		}
		switch v.(type) {
		case *Array, *Hash, *Ref:
		default:
			scalar(v)
			return
		}
		key := v
		if r, ok := v.(*Ref); ok && r.Class == "" {
			// References to Perl's immortals (\undef, \!!1) all point at
			// the same SV in Perl.
			switch t := r.Target.(type) {
			case Undef:
				if t.Immortal {
					key = &immortalUndef
				}
			case Bool:
				key = immortalBool[t]
			}
		}
		if n, ok := ids[key]; ok {
			fmt.Fprintf(&b, "S%d", n)
			return
		}
		n := len(ids)
		ids[key] = n
		class := ""
		switch x := v.(type) {
		case *Array:
			class = x.Class
		case *Hash:
			class = x.Class
		case *Ref:
			class = x.Class
		}
		if class != "" {
			b.WriteString("B" + hex.EncodeToString([]byte(class)) + ":")
		}
		switch x := v.(type) {
		case *Array:
			fmt.Fprintf(&b, "A%d[", n)
			for i, e := range x.Elems {
				if i > 0 {
					b.WriteByte(',')
				}
				d(e)
			}
			b.WriteByte(']')
		case *Hash:
			fmt.Fprintf(&b, "H%d{", n)
			type kv struct {
				tok string
				v   Value
			}
			kvs := make([]kv, len(x.Entries))
			for i, e := range x.Entries {
				if e.UTF8 {
					kvs[i] = kv{"K" + hex.EncodeToString([]byte(e.Key)), e.Value}
				} else {
					kvs[i] = kv{"k" + hex.EncodeToString([]byte(e.Key)), e.Value}
				}
			}
			sort.Slice(kvs, func(i, j int) bool { return kvs[i].tok < kvs[j].tok })
			for i, p := range kvs {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(p.tok + "=>")
				d(p.v)
			}
			b.WriteByte('}')
		case *Ref:
			fmt.Fprintf(&b, "R%d(", n)
			d(x.Target)
			b.WriteByte(')')
		}
	}
	d(v)
	return b.String()
}

// randomValue builds a random Perl value: every scalar kind, holes,
// byte/character keys, scalar references, blessed data, shared referents
// and cycles.
type valueGen struct {
	r    *rand.Rand
	pool []Value
}

func (g *valueGen) str() Value {
	n := g.r.Intn(12)
	if g.r.Intn(10) == 0 {
		n = 250 + g.r.Intn(100)
	}
	switch g.r.Intn(4) {
	case 0:
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(32 + g.r.Intn(95))
		}
		return Bytes(b)
	case 1:
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(g.r.Intn(256))
		}
		return Bytes(b)
	case 2:
		var b []byte
		for i := 0; i < n; i++ {
			b = utf8.AppendRune(b, rune(0xa0+g.r.Intn(0x60)))
		}
		return String(b)
	}
	var b []byte
	for i := 0; i < n; i++ {
		b = utf8.AppendRune(b, rune(0x100+g.r.Intn(0x2000)))
	}
	return String(b)
}

func (g *valueGen) key(seen map[string]bool) (string, bool) {
	for {
		var k string
		var u bool
		switch s := g.str().(type) {
		case Bytes:
			k = string(s)
		case String:
			k, u = string(s), true
		}
		if len(k) > 40 {
			k = k[:40]
			if u && !utf8.ValidString(k) {
				continue
			}
		}
		pk, _ := perlKey(k, u)
		if !seen[pk] {
			seen[pk] = true
			return k, u
		}
	}
}

func (g *valueGen) item(depth int) Value {
	k := g.r.Intn(12)
	if depth > 4 {
		k = g.r.Intn(5)
	}
	switch k {
	case 0:
		return Undef{Immortal: g.r.Intn(2) == 0}
	case 1:
		switch g.r.Intn(4) {
		case 0:
			return Int(g.r.Intn(256) - 128)
		case 1:
			return Int(int64(g.r.Uint32()) - 1<<31)
		case 2:
			return Int(g.r.Int63() - 1<<62)
		}
		return Float(g.r.NormFloat64() * math.Pow(10, float64(g.r.Intn(40)-20)))
	case 2, 3:
		return g.str()
	case 4:
		if depth > 4 {
			return g.str()
		}
		return &Ref{Target: g.item(depth + 1)}
	case 5:
		if len(g.pool) > 0 {
			return g.pool[g.r.Intn(len(g.pool))]
		}
		return Undef{}
	case 6, 7, 8:
		a := &Array{}
		if g.r.Intn(5) == 0 {
			a.Class = fmt.Sprintf("Go::A%d", g.r.Intn(3))
		}
		g.pool = append(g.pool, a)
		for i := g.r.Intn(5); i > 0; i-- {
			a.Elems = append(a.Elems, g.item(depth+1))
		}
		return a
	default:
		h := &Hash{}
		if g.r.Intn(5) == 0 {
			h.Class = fmt.Sprintf("Go::H%d", g.r.Intn(3))
		}
		g.pool = append(g.pool, h)
		seen := map[string]bool{}
		for i := g.r.Intn(5); i > 0; i-- {
			k, u := g.key(seen)
			h.Entries = append(h.Entries, Entry{Key: k, UTF8: u, Value: g.item(depth + 1)})
		}
		return h
	}
}

func (g *valueGen) root() Value {
	g.pool = nil
	v := g.item(0)
	switch v.(type) {
	case *Array, *Hash, *Ref:
		return v
	}
	return &Ref{Target: v}
}

// TestPerlDifferential: Go freezes random values and Perl thaws them (the
// canonical dumps must agree); Perl re-freezes what it thawed and random
// values of its own, and Go thaws those (dumps agree, and re-encoding gives
// Perl's bytes exactly, hash order included).
func TestPerlDifferential(t *testing.T) {
	perltest.Need(t, "", "Storable")
	script := filepath.Join(t.TempDir(), "helper.pl")
	if err := os.WriteFile(script, []byte(perlHelper), 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	g := &valueGen{r: rand.New(rand.NewSource(42))}
	var in bytes.Buffer
	var want []string
	for i := 0; i < n; i++ {
		v := g.root()
		b, err := Encode(v)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		in.WriteString(hex.EncodeToString(b) + "\n")
		want = append(want, perlDump(v))
	}
	in.WriteString("GEN 7 1000\n")
	cmd := exec.Command("perl", script)
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
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			t.Fatalf("bad helper line %q", sc.Text())
		}
		raw, err := hex.DecodeString(f[2])
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(raw)
		if err != nil {
			t.Errorf("Decode of Perl's nfreeze: %v\n%s", err, f[2])
			continue
		}
		if d := perlDump(got); d != f[1] {
			t.Errorf("%s record %d: Go thaw of Perl's nfreeze differs %s", f[0], i, firstDiff(f[1], d))
		}
		if re, err := Encode(got); err != nil || !bytes.Equal(re, raw) {
			t.Errorf("%s record %d: re-encoding Perl's bytes: %v\n got %x\nwant %x", f[0], i, err, re, raw)
		}
		switch f[0] {
		case "G":
			if i >= len(want) {
				t.Fatal("too many G records")
			}
			if f[1] != want[i] {
				t.Errorf("record %d: Perl thawed Go's bytes differently: %s", i, firstDiff(f[1], want[i]))
			}
			i++
		case "P":
			perlMade++
		}
	}
	if i != n || perlMade != 1000 {
		t.Fatalf("got %d Go-made and %d Perl-made records", i, perlMade)
	}
}
