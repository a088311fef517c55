package freezer

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// ErrFreezeThaw wraps every FreezeThaw parse error.
var ErrFreezeThaw = errors.New("freezer: bad FreezeThaw data")

// FreezeThaw is the freezer of Perl's FreezeThaw module: a text format,
// e.g. FrT;@1|%6|$5|event$6|params$4|rsvp$21|poe://...
//
// Supported: strings ($len|text), undef (_), arrays (@n|), hashes (%2n|,
// all keys then all values), scalar references (\), blessed data (>),
// and shared or cyclic references (the ! table with { } and <n|). Code and
// glob references (&, *) and "safe" stamps (?) are rejected. FreezeThaw has
// no numbers: Thaw gives strings; lengths count bytes.
//
// Nor has it Perl's UTF-8 flag. Strings travel as bytes, and the Perl
// receiver gets byte strings: Freeze writes a byte string's bytes and a
// character string as UTF-8, and Thaw gives a character string for
// non-ASCII text that is valid UTF-8 and a byte string otherwise (a Perl
// peer's Latin-1 text arrives as its Latin-1 bytes, as from Storable), so
// strings and hash keys round-trip byte for byte between Go peers and
// through a Perl peer, which sees a Go character string as its UTF-8
// bytes. (Perl's own freeze of a string with wide characters counts
// characters but writes UTF-8 bytes; no Perl peer can read that back.)
type FreezeThaw struct {
	// Limits is the budget of one payload (zero: the default).
	Limits Limits
}

// Name returns "FreezeThaw".
func (FreezeThaw) Name() string { return NameFreezeThaw }

// Thaw parses a FreezeThaw payload as POE::Filter::Reference does: the
// frozen list's first element.
func (f FreezeThaw) Thaw(p []byte) (storable.Value, error) {
	list, err := parseFreezeThaw(p, f.Limits)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return storable.Undef{}, nil
	}
	return list[0], nil
}

// Freeze writes freeze($v) as FreezeThaw does (keys sorted).
func (FreezeThaw) Freeze(v any) ([]byte, error) {
	pv, err := toValue(v)
	if err != nil {
		return nil, err
	}
	return DumpFreezeThaw(pv)
}

// ---- writer ----

type ftWriter struct {
	b        []byte
	count    map[storable.Value]int
	address  map[storable.Value]int
	multiple []storable.Value
	second   bool
	packages map[string]int
}

// DumpFreezeThaw returns FreezeThaw::freeze(v) (a list of one value).
func DumpFreezeThaw(values ...storable.Value) ([]byte, error) {
	w := &ftWriter{count: map[storable.Value]int{}, address: map[storable.Value]int{}, packages: map[string]int{}}
	root := &storable.Array{Elems: values} // freeze(\@_)
	if err := w.scalar(root, false, 0); err != nil {
		return nil, err
	}
	if len(w.multiple) == 0 {
		return append([]byte("FrT;"), w.b...), nil
	}
	w.b = append(w.b[:0], "FrT;!"...)
	w.b = strconv.AppendInt(w.b, int64(len(w.multiple)-1), 10)
	w.b = append(w.b, '|')
	w.packages = map[string]int{}
	for _, m := range w.multiple {
		class := className(m)
		if class != "" {
			w.b = append(w.b, '{')
			w.pkg(class)
		}
		switch m.(type) {
		case *storable.Array:
			w.b = append(w.b, "@0|"...)
		case *storable.Hash:
			w.b = append(w.b, "%0|"...)
		case *storable.Ref:
			w.b = append(w.b, `\_`...)
		}
	}
	w.second = true
	for _, m := range w.multiple {
		if class := className(m); class != "" {
			w.b = append(w.b, '}')
			w.pkg(class)
		}
		if err := w.contents(m, 0); err != nil {
			return nil, err
		}
	}
	if err := w.scalar(root, false, 0); err != nil {
		return nil, err
	}
	return w.b, nil
}

func className(v storable.Value) string {
	switch x := v.(type) {
	case *storable.Array:
		return x.Class
	case *storable.Hash:
		return x.Class
	case *storable.Ref:
		return x.Class
	}
	return ""
}

func (w *ftWriter) str(s string) {
	w.b = append(w.b, '$')
	w.b = strconv.AppendInt(w.b, int64(len(s)), 10)
	w.b = append(w.b, '|')
	w.b = append(w.b, s...)
}

func (w *ftWriter) pkg(class string) {
	if id, ok := w.packages[class]; ok {
		w.b = append(w.b, ')')
		w.b = strconv.AppendInt(w.b, int64(id), 10)
		w.b = append(w.b, '|')
		return
	}
	id := len(w.packages)
	w.packages[class] = id
	w.b = append(w.b, '>')
	w.b = strconv.AppendInt(w.b, int64(id), 10)
	w.b = append(w.b, '|')
	w.str(class)
}

// scalar mirrors FreezeThaw's freezeScalar (noDup: the third argument).
func (w *ftWriter) scalar(v storable.Value, noDup bool, depth int) error {
	if depth > storable.DefaultMaxDepth {
		return fmt.Errorf("%w: nesting too deep", storable.ErrUnsupportedValue)
	}
	if wk, ok := v.(storable.Weak); ok {
		v = wk.To
	}
	switch v.(type) {
	case *storable.Array, *storable.Hash, *storable.Ref:
	default:
		s, undef, err := scalarText(v)
		if err != nil {
			return err
		}
		if undef {
			w.b = append(w.b, '_')
		} else {
			w.str(s)
		}
		return nil
	}
	if !noDup {
		if w.second {
			if w.count[v] > 1 {
				w.b = append(w.b, '<')
				w.b = strconv.AppendInt(w.b, int64(w.address[v]), 10)
				w.b = append(w.b, '|')
				return nil
			}
		} else {
			if _, seen := w.count[v]; seen {
				if _, ok := w.address[v]; !ok {
					w.address[v] = len(w.multiple)
					w.multiple = append(w.multiple, v)
				}
				w.b = append(w.b, '<')
				w.b = strconv.AppendInt(w.b, int64(w.address[v]), 10)
				w.b = append(w.b, '|')
				w.count[v]++
				return nil
			}
			w.count[v]++
		}
	}
	if class := className(v); class != "" {
		w.b = append(w.b, '>')
		w.pkg(class)
	}
	return w.contents(v, depth)
}

// contents writes an array, hash or scalar reference without its class.
func (w *ftWriter) contents(v storable.Value, depth int) error {
	switch x := v.(type) {
	case *storable.Array:
		w.b = append(w.b, '@')
		w.b = strconv.AppendInt(w.b, int64(len(x.Elems)), 10)
		w.b = append(w.b, '|')
		for _, e := range x.Elems {
			if err := w.scalar(e, false, depth+1); err != nil {
				return err
			}
		}
	case *storable.Hash:
		idx := make([]int, len(x.Entries))
		keys := make([]string, len(x.Entries))
		for i, e := range x.Entries {
			idx[i] = i
			keys[i] = e.Key
			if !e.UTF8 {
				keys[i] = latin1ToUTF8IfNeeded(e.Key)
			}
		}
		sort.SliceStable(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
		w.b = append(w.b, '%')
		w.b = strconv.AppendInt(w.b, int64(2*len(idx)), 10)
		w.b = append(w.b, '|')
		for _, i := range idx {
			w.str(x.Entries[i].Key)
		}
		for _, i := range idx {
			if err := w.scalar(x.Entries[i].Value, false, depth+1); err != nil {
				return err
			}
		}
	case *storable.Ref:
		w.b = append(w.b, '\\')
		return w.scalar(x.Target, false, depth+1)
	}
	return nil
}

// latin1ToUTF8IfNeeded gives the sort key Perl would compare: byte keys
// sort by their bytes, which for ASCII is the same.
func latin1ToUTF8IfNeeded(s string) string { return latin1ToUTF8(s) }

// ---- reader ----

type ftParser struct {
	s        string
	pos      int
	uninit   []storable.Value
	packages map[int]string
	depth    int
	budget   storable.Budget
}

// ParseFreezeThaw parses a FreezeThaw string into the list of frozen
// values, within the default budget of its length.
func ParseFreezeThaw(p []byte) ([]storable.Value, error) { return parseFreezeThaw(p, Limits{}) }

func parseFreezeThaw(p []byte, lim Limits) ([]storable.Value, error) {
	// The root is counted as the element of the top-level list.
	t := &ftParser{s: string(p), packages: map[int]string{}, budget: lim.Budget(len(p))}
	if len(t.s) >= 4 && t.s[:4] == "FrT;" {
		t.pos = 4
	}
	if t.pos < len(t.s) && t.s[t.pos] == '?' {
		return nil, t.fail("safeFreeze stamps are process-local and not supported")
	}
	if t.pos < len(t.s) && t.s[t.pos] == '!' {
		t.pos++
		last, err := t.number()
		if err != nil {
			return nil, err
		}
		if last > len(t.s) {
			return nil, t.fail("repeated table of %d entries is larger than the data", last+1)
		}
		for i := 0; i <= last; i++ {
			v, err := t.empty()
			if err != nil {
				return nil, err
			}
			t.uninit = append(t.uninit, v)
		}
		for i := 0; i <= last; i++ {
			if err := t.instance(t.uninit[i]); err != nil {
				return nil, err
			}
		}
	}
	v, err := t.scalar()
	if err != nil {
		return nil, err
	}
	if t.pos != len(t.s) {
		return nil, t.fail("extra data after the frozen structure")
	}
	a, ok := v.(*storable.Array)
	if !ok {
		return nil, t.fail("top level is not a list")
	}
	return a.Elems, nil
}

func (t *ftParser) fail(format string, args ...any) error {
	return fmt.Errorf("%w: offset %d: %s", ErrFreezeThaw, t.pos, fmt.Sprintf(format, args...))
}

// spend wraps a budget error with the offset it happened at.
func (t *ftParser) spend(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: offset %d: %w", ErrFreezeThaw, t.pos, err)
}

// maxNumber bounds the lengths, counts and ids of a frozen string: none
// can be larger than the string, and the bound fits an int on 32-bit
// systems too, so reading a number never overflows there.
const maxNumber = math.MaxInt32

func (t *ftParser) number() (int, error) {
	start := t.pos
	n := 0
	for t.pos < len(t.s) && t.s[t.pos] >= '0' && t.s[t.pos] <= '9' {
		d := int(t.s[t.pos] - '0')
		if n > (maxNumber-d)/10 {
			return 0, t.fail("number too large")
		}
		n = n*10 + d
		t.pos++
	}
	if t.pos == start || t.pos >= len(t.s) || t.s[t.pos] != '|' {
		return 0, t.fail("expected <digits>|")
	}
	t.pos++
	return n, nil
}

func (t *ftParser) pkg() (string, error) {
	if t.pos >= len(t.s) {
		return "", t.fail("truncated package")
	}
	key := t.s[t.pos]
	t.pos++
	id, err := t.number()
	if err != nil {
		return "", err
	}
	switch key {
	case ')':
		c, ok := t.packages[id]
		if !ok {
			return "", t.fail("unknown package id %d", id)
		}
		return c, nil
	case '>':
		if t.pos >= len(t.s) || t.s[t.pos] != '$' {
			return "", t.fail("expected package name")
		}
		t.pos++
		c, err := t.str()
		if err != nil {
			return "", err
		}
		if err := t.spend(t.budget.Class(0)); err != nil {
			return "", err
		}
		t.packages[id] = c
		return c, nil
	}
	return "", t.fail("bad package marker %q", key)
}

func (t *ftParser) str() (string, error) {
	n, err := t.number()
	if err != nil {
		return "", err
	}
	if n > len(t.s)-t.pos {
		return "", t.fail("string of %d bytes, %d left", n, len(t.s)-t.pos)
	}
	s := t.s[t.pos : t.pos+n]
	t.pos += n
	return s, nil
}

// empty reads an allocation entry of the ! table.
func (t *ftParser) empty() (storable.Value, error) {
	if t.pos >= len(t.s) {
		return nil, t.fail("truncated")
	}
	class := ""
	if t.s[t.pos] == '{' {
		t.pos++
		c, err := t.pkg()
		if err != nil {
			return nil, err
		}
		class = c
	}
	v, err := t.scalar()
	if err != nil {
		return nil, err
	}
	if !bless(v, class) {
		return nil, t.fail("repeated entry is not a reference")
	}
	return v, nil
}

// bless sets the class of a reference value; false if v is not one.
func bless(v storable.Value, class string) bool {
	switch x := v.(type) {
	case *storable.Array:
		x.Class = class
	case *storable.Hash:
		x.Class = class
	case *storable.Ref:
		x.Class = class
	default:
		return false
	}
	return true
}

// instance reads the contents of a repeated entry and copies them into
// the allocated value (FreezeThaw's copyContents).
func (t *ftParser) instance(into storable.Value) error {
	if t.pos < len(t.s) && t.s[t.pos] == '}' {
		t.pos++
		c, err := t.pkg()
		if err != nil {
			return err
		}
		switch x := into.(type) {
		case *storable.Array:
			x.Class = c
		case *storable.Hash:
			x.Class = c
		case *storable.Ref:
			x.Class = c
		}
	}
	v, err := t.scalar()
	if err != nil {
		return err
	}
	switch x := into.(type) {
	case *storable.Array:
		if y, ok := v.(*storable.Array); ok {
			x.Elems = y.Elems
			return nil
		}
	case *storable.Hash:
		if y, ok := v.(*storable.Hash); ok {
			x.Entries = y.Entries
			return nil
		}
	case *storable.Ref:
		if y, ok := v.(*storable.Ref); ok {
			x.Target = y.Target
			return nil
		}
	}
	return t.fail("repeated entry contents of the wrong type")
}

func (t *ftParser) scalar() (storable.Value, error) {
	if t.pos >= len(t.s) {
		return nil, t.fail("truncated")
	}
	t.depth++
	defer func() { t.depth-- }()
	if t.depth > storable.DefaultMaxDepth {
		return nil, t.fail("nesting too deep")
	}
	key := t.s[t.pos]
	t.pos++
	switch key {
	case '$':
		s, err := t.str()
		if err != nil {
			return nil, err
		}
		if err := t.spend(t.budget.String(0)); err != nil {
			return nil, err
		}
		if isText(s) {
			return storable.String(s), nil
		}
		return storable.Bytes(s), nil
	case '_':
		return storable.Undef{}, nil
	case '@':
		n, err := t.number()
		if err != nil {
			return nil, err
		}
		// Every item takes a byte at least: never trust n beyond that.
		if n > len(t.s)-t.pos {
			return nil, t.fail("%d items announced, %d bytes left", n, len(t.s)-t.pos)
		}
		if err := t.spend(t.budget.Array(n)); err != nil {
			return nil, err
		}
		items := make([]storable.Value, n)
		for i := range items {
			if items[i], err = t.scalar(); err != nil {
				return nil, err
			}
		}
		return &storable.Array{Elems: items}, nil
	case '%':
		n, err := t.number()
		if err != nil {
			return nil, err
		}
		if n > len(t.s)-t.pos {
			return nil, t.fail("%d items announced, %d bytes left", n, len(t.s)-t.pos)
		}
		if n%2 != 0 {
			return nil, t.fail("odd hash item count %d", n)
		}
		if err := t.spend(t.budget.Hash(n / 2)); err != nil {
			return nil, err
		}
		// All keys, then all values.
		h := &storable.Hash{Entries: make([]storable.Entry, n/2)}
		for i := range h.Entries {
			kv, err := t.scalar()
			if err != nil {
				return nil, err
			}
			e := &h.Entries[i]
			switch x := kv.(type) {
			case storable.Bytes:
				e.Key = string(x)
			case storable.String:
				e.Key, e.UTF8 = string(x), true
			case storable.Undef:
			default:
				return nil, t.fail("hash key is a reference")
			}
		}
		for i := range h.Entries {
			if h.Entries[i].Value, err = t.scalar(); err != nil {
				return nil, err
			}
		}
		return h, nil
	case '\\':
		if err := t.spend(t.budget.Ref()); err != nil {
			return nil, err
		}
		v, err := t.scalar()
		if err != nil {
			return nil, err
		}
		return &storable.Ref{Target: v}, nil
	case '<':
		n, err := t.number()
		if err != nil {
			return nil, err
		}
		if n >= len(t.uninit) {
			return nil, t.fail("repeated reference <%d| out of range", n)
		}
		return t.uninit[n], nil
	case '>':
		c, err := t.pkg()
		if err != nil {
			return nil, err
		}
		v, err := t.scalar()
		if err != nil {
			return nil, err
		}
		if !bless(v, c) {
			return nil, t.fail("blessed value is not a reference")
		}
		return v, nil
	case '&', '*':
		return nil, t.fail("CODE and GLOB references are not supported")
	}
	t.pos--
	return nil, t.fail("unknown marker %q", key)
}
