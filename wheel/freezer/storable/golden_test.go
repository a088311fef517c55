package storable

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// goldenDir returns the repository's recorded Perl data (testdata/ikc at
// the module root).
func goldenDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "testdata", "ikc")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("recorded Perl data missing: %v", err)
	}
	return dir
}

// treeNode is the opcode tree of the golden JSON files.
type treeNode struct {
	Op        string      `json:"op"`
	Tag       *int        `json:"tag"`
	Hex       string      `json:"hex"`
	Text      string      `json:"text"`
	V         int64       `json:"v"`
	Items     []*treeNode `json:"items"`
	Entries   []treeEntry `json:"entries"`
	To        *treeNode   `json:"to"`
	Class     string      `json:"class"`
	Index     int         `json:"index"`
	HashFlags int         `json:"hash_flags"`
}

type treeEntry struct {
	Key      string    `json:"key"`
	KeyHex   string    `json:"key_hex"`
	KeyFlags int       `json:"key_flags"`
	Value    *treeNode `json:"value"`
}

type tree struct {
	Major int       `json:"major"`
	Minor int       `json:"minor"`
	Root  *treeNode `json:"root"`
}

// treeBuilder turns an opcode tree into the Value model, independently of
// the decoder, following the rules in the spec (section 7.1).
type treeBuilder struct {
	tags map[int]Value
	t    testing.TB
}

func (b *treeBuilder) reg(n *treeNode, v Value) {
	if n.Tag == nil {
		b.t.Fatalf("node %s without tag", n.Op)
	}
	if _, ok := b.tags[*n.Tag]; !ok {
		b.tags[*n.Tag] = v
	}
}

func (b *treeBuilder) referent(n *treeNode) Value {
	switch n.Op {
	case "array", "hash", "flag_hash":
		return b.container(n, "")
	case "bless", "ix_bless":
		v := b.referent(n.To)
		switch x := v.(type) {
		case *Array:
			x.Class = n.Class
		case *Hash:
			x.Class = n.Class
		case *Ref:
			x.Class = n.Class
		}
		return v
	case "object":
		v := b.tags[*n.Tag]
		switch v.(type) {
		case *Array, *Hash, *Ref:
			return v
		}
		return &Ref{Target: v}
	}
	box := &Ref{}
	b.reg(n, box)
	box.Target = b.item(n)
	return box
}

func (b *treeBuilder) container(n *treeNode, class string) Value {
	if n.Op == "array" {
		a := &Array{Class: class, Elems: make([]Value, len(n.Items))}
		b.reg(n, a)
		for i, c := range n.Items {
			a.Elems[i] = b.item(c)
		}
		return a
	}
	h := &Hash{Class: class, flagged: n.Op == "flag_hash", hashFlags: byte(n.HashFlags)}
	b.reg(n, h)
	for _, e := range n.Entries {
		kb, err := hex.DecodeString(e.KeyHex)
		if err != nil {
			b.t.Fatal(err)
		}
		en := Entry{Key: string(kb), Value: b.item(e.Value)}
		switch e.KeyFlags {
		case 1:
			en.UTF8 = true
		case 2:
			en.UTF8, en.Key = true, fromLatin1(string(kb))
		}
		h.Entries = append(h.Entries, en)
	}
	return h
}

func (b *treeBuilder) item(n *treeNode) Value {
	var v Value
	switch n.Op {
	case "undef":
		v = Undef{}
	case "sv_undef", "svundef_elem":
		v = Undef{Immortal: true}
	case "sv_yes":
		v = Bool(true)
	case "sv_no":
		v = Bool(false)
	case "byte", "netint":
		v = Int(n.V)
	case "scalar", "lscalar", "utf8", "lutf8":
		raw, err := hex.DecodeString(n.Hex)
		if err != nil {
			b.t.Fatal(err)
		}
		if strings.Contains(n.Op, "utf8") {
			v = String(raw)
		} else {
			v = Bytes(raw)
		}
	case "ref", "weakref", "overload", "weakoverload":
		b.reg(n, nil)
		r := b.referent(n.To)
		if b.tags[*n.Tag] == nil {
			b.tags[*n.Tag] = r
		}
		if strings.Contains(n.Op, "overload") {
			switch x := r.(type) {
			case *Array:
				x.overload = true
			case *Hash:
				x.overload = true
			case *Ref:
				x.overload = true
			}
		}
		if strings.HasPrefix(n.Op, "weak") {
			return Weak{To: r}
		}
		return r
	case "object":
		return b.tags[*n.Tag]
	case "bless", "ix_bless", "array", "hash", "flag_hash":
		return b.referent(n)
	default:
		b.t.Fatalf("unknown op %q in tree", n.Op)
	}
	b.reg(n, v)
	return v
}

func fromTree(t testing.TB, tr *tree) Value {
	b := &treeBuilder{tags: map[int]Value{}, t: t}
	return b.referent(tr.Root)
}

// equal compares two Values structurally, following identity: a shared
// referent on one side must be shared the same way on the other.
func equal(a, b Value) error {
	return (&eqState{ab: map[Value]Value{}}).eq(a, b, "$")
}

type eqState struct{ ab map[Value]Value }

func (s *eqState) eq(a, b Value, path string) error {
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return fmt.Errorf("%s: %T vs %T (%#v vs %#v)", path, a, b, a, b)
	}
	switch a.(type) {
	case *Array, *Hash, *Ref:
		if m, ok := s.ab[a]; ok {
			if m != b {
				return fmt.Errorf("%s: sharing differs", path)
			}
			return nil
		}
		s.ab[a] = b
	}
	switch x := a.(type) {
	case *Array:
		y := b.(*Array)
		if x.Class != y.Class || x.overload != y.overload || len(x.Elems) != len(y.Elems) {
			return fmt.Errorf("%s: array header %q/%v/%d vs %q/%v/%d", path, x.Class, x.overload, len(x.Elems), y.Class, y.overload, len(y.Elems))
		}
		for i := range x.Elems {
			if err := s.eq(x.Elems[i], y.Elems[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case *Hash:
		y := b.(*Hash)
		if x.Class != y.Class || x.overload != y.overload || len(x.Entries) != len(y.Entries) || x.flagged != y.flagged || x.hashFlags != y.hashFlags {
			return fmt.Errorf("%s: hash header differs", path)
		}
		for i := range x.Entries {
			ex, ey := x.Entries[i], y.Entries[i]
			if ex.Key != ey.Key || ex.UTF8 != ey.UTF8 {
				return fmt.Errorf("%s: key %d: %q/%v vs %q/%v", path, i, ex.Key, ex.UTF8, ey.Key, ey.UTF8)
			}
			if err := s.eq(ex.Value, ey.Value, path+"{"+ex.Key+"}"); err != nil {
				return err
			}
		}
	case *Ref:
		y := b.(*Ref)
		if x.Class != y.Class || x.overload != y.overload {
			return fmt.Errorf("%s: ref header differs", path)
		}
		return s.eq(x.Target, y.Target, path+"->$")
	case Weak:
		return s.eq(x.To, b.(Weak).To, path+"(weak)")
	default:
		if a != b {
			return fmt.Errorf("%s: %#v vs %#v", path, a, b)
		}
	}
	return nil
}

type goldenVector struct {
	Name   string          `json:"name"`
	Length int             `json:"length"`
	Tree   tree            `json:"tree"`
	Plain  json.RawMessage `json:"plain"`
}

func goldenVectors(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(goldenDir(t), "storable", "*.bin"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden vectors: %v", err)
	}
	sort.Strings(files)
	return files
}

func TestGoldenVectors(t *testing.T) {
	for _, bin := range goldenVectors(t) {
		name := strings.TrimSuffix(filepath.Base(bin), ".bin")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			js, err := os.ReadFile(strings.TrimSuffix(bin, ".bin") + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var g goldenVector
			if err := json.Unmarshal(js, &g); err != nil {
				t.Fatal(err)
			}
			want := fromTree(t, &g.Tree)

			// Decoding gives the value in the .json.
			got, err := Decode(data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if err := equal(got, want); err != nil {
				t.Errorf("decoded value differs from the opcode tree: %v", err)
			}

			// Encoding the golden value gives the .bin exactly.
			enc, err := Encode(want)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !bytes.Equal(enc, data) {
				t.Errorf("Encode(golden value):\n got % x\nwant % x", enc, data)
			}
			re, err := Encode(got)
			if err != nil || !bytes.Equal(re, data) {
				t.Errorf("re-encoding the decoded value: %v\n got % x\nwant % x", err, re, data)
			}

			// The JSON view matches the "plain" view of the .json.
			view, err := ToJSON(got, nil)
			if err != nil {
				t.Fatalf("ToJSON: %v", err)
			}
			var gotPlain, wantPlain any
			if err := json.Unmarshal(view, &gotPlain); err != nil {
				t.Fatalf("ToJSON output %s: %v", view, err)
			}
			if err := json.Unmarshal(g.Plain, &wantPlain); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotPlain, wantPlain) {
				t.Errorf("JSON view:\n got %s\nwant %s", view, g.Plain)
			}

			// The marked JSON view converts back to the same bytes.
			marked, err := ToJSON(got, &JSONOptions{MarkBytes: true})
			if err != nil {
				t.Fatal(err)
			}
			back, err := FromJSON(marked)
			if err != nil {
				t.Fatalf("FromJSON(%s): %v", marked, err)
			}
			if enc2, err := Encode(back); err != nil {
				t.Errorf("Encode(FromJSON): %v", err)
			} else if !bytes.Equal(enc2, data) && !jsonLossy(name) {
				t.Errorf("JSON round trip %s:\n got % x\nwant % x", marked, enc2, data)
			}

			// Every truncation fails cleanly with ErrTruncated (or
			// ErrTooLarge when a count is larger than what is left).
			for i := 0; i < len(data); i++ {
				if _, err := Decode(data[:i]); !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrTooLarge) {
					t.Errorf("Decode(first %d bytes) = %v, want ErrTruncated", i, err)
				}
			}
		})
	}
}

// jsonLossy lists vectors whose distinctions the JSON view does not keep:
// undef kinds, UTF-8 flag on Latin-1/ASCII text, weak and overload flags.
func jsonLossy(name string) bool {
	for _, s := range []string{"02-", "28-", "34-", "40-", "51-", "52-"} {
		if strings.HasPrefix(name, s) {
			return true
		}
	}
	return false
}
