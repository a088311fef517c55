package freezer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// ErrYAML wraps every YAML parse error.
var ErrYAML = errors.New("freezer: bad YAML")

// YAML is the YAML freezer: the dialect of Perl's YAML.pm (Dump/Load), as
// POE::Filter::Reference->new('YAML') uses it.
//
// Supported: block mappings and sequences (YAML.pm's layout and ordinary
// indentation), plain, single- and double-quoted scalars, literal block
// scalars, ~ for undef, empty {} and [], anchors and aliases (&1 / *1) for
// shared and cyclic data, and the Perl tags !!perl/hash:Class,
// !!perl/array:Class, !!perl/ref and !!perl/scalar:Class (also with a
// single "!"). Flow collections with content, complex keys ("? "),
// multiple documents and folded scalars are rejected.
//
// YAML does not tell numbers from strings: Thaw gives byte strings for ASCII
// scalars (Unmarshal converts "2" to an int). Freeze writes Perl's string
// forms.
//
// Nor does it carry Perl's UTF-8 flag: as YAML.pm's text goes through
// POE::Filter::Reference, a byte string travels as its raw bytes and a
// character string as UTF-8, and the receiver gets bytes. Freeze does the
// same (Bytes raw, String as UTF-8), and Thaw gives a character string for
// non-ASCII text that is valid UTF-8 and a byte string for anything else,
// so every string round-trips byte for byte between Go peers and through a
// Perl peer, which sees a Go character string as its UTF-8 bytes.
type YAML struct {
	// Limits is the budget of one payload (zero: the default).
	Limits Limits
}

// Name returns "YAML".
func (YAML) Name() string { return NameYAML }

// Thaw parses one YAML.pm document and returns the value Perl's Load gives
// (for IKC, a *storable.Hash).
func (y YAML) Thaw(p []byte) (storable.Value, error) { return parseYAML(p, y.Limits) }

// Freeze dumps v as YAML.pm would (hash keys in sorted order when v is a
// Go map, in entry order for a *storable.Hash).
func (YAML) Freeze(v any) ([]byte, error) {
	pv, err := toValue(v)
	if err != nil {
		return nil, err
	}
	return DumpYAML(pv)
}

// ---- writer ----

// DumpYAML renders a Perl value as a YAML.pm document.
func DumpYAML(v storable.Value) ([]byte, error) {
	w := yamlWriter{counts: map[storable.Value]int{}, anchors: map[storable.Value]int{}}
	if err := w.count(v, 0); err != nil {
		return nil, err
	}
	w.b = append(w.b, "---"...)
	if err := w.node(v, 0, false); err != nil {
		return nil, err
	}
	w.b = append(w.b, '\n')
	return w.b, nil
}

type yamlWriter struct {
	b       []byte
	counts  map[storable.Value]int
	anchors map[storable.Value]int
	next    int
}

func (w *yamlWriter) count(v storable.Value, depth int) error {
	if depth > storable.DefaultMaxDepth {
		return fmt.Errorf("%w: nesting too deep", storable.ErrUnsupportedValue)
	}
	if wk, ok := v.(storable.Weak); ok {
		v = wk.To
	}
	switch x := v.(type) {
	case *storable.Array, *storable.Hash, *storable.Ref:
		w.counts[v]++
		if w.counts[v] > 1 {
			return nil
		}
		switch x := x.(type) {
		case *storable.Array:
			for _, e := range x.Elems {
				if err := w.count(e, depth+1); err != nil {
					return err
				}
			}
		case *storable.Hash:
			for _, e := range x.Entries {
				if err := w.count(e.Value, depth+1); err != nil {
					return err
				}
			}
		case *storable.Ref:
			return w.count(x.Target, depth+1)
		}
	}
	return nil
}

func (w *yamlWriter) indent(n int) {
	w.b = append(w.b, '\n')
	for i := 0; i < n; i++ {
		w.b = append(w.b, ' ')
	}
}

// node writes v after a "---", "key:" or "-" already written; a block
// child starts at indent ind. inlineHash allows "- k: v" for a hash.
func (w *yamlWriter) node(v storable.Value, ind int, inlineHash bool) error {
	if wk, ok := v.(storable.Weak); ok {
		v = wk.To
	}
	props := ""
	switch v.(type) {
	case *storable.Array, *storable.Hash, *storable.Ref:
		if n, ok := w.anchors[v]; ok {
			w.b = append(w.b, " *"...)
			w.b = strconv.AppendInt(w.b, int64(n), 10)
			return nil
		}
		if w.counts[v] > 1 {
			w.next++
			w.anchors[v] = w.next
			props = "&" + strconv.Itoa(w.next)
		}
	}
	addProp := func(p string) {
		if props != "" {
			props += " "
		}
		props += p
	}
	switch x := v.(type) {
	case *storable.Hash:
		if x.Class != "" {
			addProp("!!perl/hash:" + x.Class)
		}
		if len(x.Entries) == 0 {
			addProp("{}")
			w.b = append(append(w.b, ' '), props...)
			return nil
		}
		if props != "" {
			w.b = append(append(w.b, ' '), props...)
			inlineHash = false
		}
		for i, e := range x.Entries {
			if i == 0 && inlineHash {
				w.b = append(w.b, ' ')
			} else {
				w.indent(ind)
			}
			w.b = append(w.b, yamlScalar(e.Key, true, ind+2, !e.UTF8)...)
			w.b = append(w.b, ':')
			if err := w.node(e.Value, ind+2, false); err != nil {
				return err
			}
		}
	case *storable.Array:
		if x.Class != "" {
			addProp("!!perl/array:" + x.Class)
		}
		if len(x.Elems) == 0 {
			addProp("[]")
			w.b = append(append(w.b, ' '), props...)
			return nil
		}
		if props != "" {
			w.b = append(append(w.b, ' '), props...)
		}
		for _, e := range x.Elems {
			w.indent(ind)
			w.b = append(w.b, '-')
			if err := w.node(e, ind+2, true); err != nil {
				return err
			}
		}
	case *storable.Ref:
		if x.Class != "" && isScalar(x.Target) {
			addProp("!!perl/scalar:" + x.Class)
			w.b = append(append(w.b, ' '), props...)
			return w.node(x.Target, ind+2, false)
		}
		if x.Class != "" {
			addProp("!!perl/ref:" + x.Class)
		} else {
			addProp("!!perl/ref")
		}
		w.b = append(append(w.b, ' '), props...)
		w.indent(ind)
		w.b = append(w.b, "=:"...)
		return w.node(x.Target, ind+2, false)
	default:
		s, undef, err := scalarText(v)
		if err != nil {
			return err
		}
		w.b = append(w.b, ' ')
		switch v.(type) {
		case storable.Int, storable.Float:
			w.b = append(w.b, s...) // numbers are written plain
		default:
			if undef {
				w.b = append(w.b, '~')
			} else {
				_, raw := v.(storable.Bytes)
				w.b = append(w.b, yamlScalar(s, false, ind, raw)...)
			}
		}
	}
	return nil
}

func isScalar(v storable.Value) bool {
	switch v.(type) {
	case *storable.Array, *storable.Hash, *storable.Ref, storable.Weak:
		return false
	}
	return true
}

// scalarText returns the Perl string form of a scalar as it travels: a
// byte string's bytes, anything else as UTF-8 text.
func scalarText(v storable.Value) (s string, undef bool, err error) {
	switch x := v.(type) {
	case nil, storable.Undef:
		return "", true, nil
	case storable.Bytes:
		return string(x), false, nil
	}
	s, ok := storable.Text(v)
	if !ok {
		return "", false, fmt.Errorf("%w: %T", storable.ErrUnsupportedValue, v)
	}
	return s, false, nil
}

func latin1ToUTF8(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			b := make([]byte, 0, len(s)+8)
			for j := 0; j < len(s); j++ {
				b = utf8.AppendRune(b, rune(s[j]))
			}
			return string(b)
		}
	}
	return s
}

// yamlScalar formats a string as YAML.pm's Dump does: double quotes for
// control characters and short multi-line text, a literal block for long
// multi-line text (not for keys), plain when YAML.pm's plain-scalar test
// allows, double quotes when it holds a single quote, single quotes
// otherwise. ind is the indentation of a literal block's lines. raw marks
// a byte string, whose characters are its bytes (as Perl counts them).
func yamlScalar(s string, key bool, ind int, raw bool) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x08 || c >= 0x0b && c <= 0x1f {
			return doubleQuote(s)
		}
	}
	if strings.Contains(s, "\n") {
		n := len(s)
		if !raw {
			n = utf8.RuneCountInString(s)
		}
		if key || n <= 30 || !newlineThenText(s) {
			return doubleQuote(s)
		}
		return literalBlock(s, ind)
	}
	if validPlain(s, raw) {
		return s
	}
	if strings.Contains(s, "'") {
		return doubleQuote(s)
	}
	return "'" + s + "'"
}

func isSpace(r rune) bool { return unicode.IsSpace(r) }

// newlineThenText reports whether a newline is followed by optional
// whitespace and then a non-space character.
func newlineThenText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '\n' {
			continue
		}
		for _, r := range s[i+1:] {
			if !isSpace(r) {
				return true
			}
		}
		return false
	}
	return false
}

// validPlain is YAML.pm's test for a string that can be written unquoted.
// For a byte string (raw) Perl's characters are the bytes, and only ASCII
// whitespace is whitespace.
func validPlain(s string, raw bool) bool {
	if s == "" || s == "-" || s == "=" {
		return false
	}
	var runes []rune
	isSpace := isSpace
	if raw {
		runes = make([]rune, len(s))
		for i := 0; i < len(s); i++ {
			runes[i] = rune(s[i])
		}
		isSpace = func(r rune) bool { return r < 0x80 && unicode.IsSpace(r) }
	} else {
		runes = []rune(s)
	}
	first := runes[0]
	if isSpace(first) || strings.ContainsRune("{[~`'\"!@#>|%&?*^", first) {
		return false
	}
	if strings.ContainsAny(s, "{[]},") {
		return false
	}
	for i, r := range runes {
		next := rune(-1)
		if i+1 < len(runes) {
			next = runes[i+1]
		}
		switch {
		case (r == ':' || r == '-' || r == '?') && next >= 0 && isSpace(next):
			return false
		case r == ':' && next < 0:
			return false
		case isSpace(r) && next == '#':
			return false
		}
	}
	last := runes[len(runes)-1]
	return !isSpace(last) && last != '|' && last != '>'
}

// literalBlock writes a "|" block scalar as YAML.pm does: chomping
// indicator from the trailing newlines, an indentation indicator when the
// text starts with whitespace, every line indented by ind.
func literalBlock(s string, ind int) string {
	trail := len(s) - len(strings.TrimRight(s, "\n"))
	var b strings.Builder
	b.WriteByte('|')
	switch {
	case trail == 0:
		b.WriteByte('-')
	case trail > 1:
		b.WriteByte('+')
	}
	if r, _ := utf8.DecodeRuneInString(s); isSpace(r) {
		b.WriteByte('2')
	}
	text := strings.TrimSuffix(s, "\n")
	pad := strings.Repeat(" ", ind)
	b.WriteString("\n" + pad)
	for i := 0; i < len(text); i++ {
		b.WriteByte(text[i])
		if text[i] == '\n' && i+1 < len(text) {
			b.WriteString(pad)
		}
	}
	return b.String()
}

func doubleQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case 0:
			b.WriteString(`\0`)
		case '\a':
			b.WriteString(`\a`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\v':
			b.WriteString(`\v`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1b:
			b.WriteString(`\e`)
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\x%02x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
