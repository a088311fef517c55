package freezer

import (
	"errors"
	"fmt"
	"math"
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

// ---- reader ----

// yline is one line of the document: its indentation, its text without
// indentation and trailing CR, its 1-based number.
type yline struct {
	indent int
	text   string
	num    int
}

// yrow is a line as the parser stores it (a third of a yline's size, since
// a document of short lines has many): the text is y.s[start:end].
type yrow struct {
	indent, start, end int32
}

const yrowSize = 12

type yamlParser struct {
	s       string
	rows    []yrow
	pos     int
	anchors map[string]storable.Value
	depth   int
	budget  storable.Budget
	// Elements and entries of the collections being read: each collection
	// copies its own out at its end, so it takes exactly its size.
	elems   []storable.Value
	entries []storable.Entry
}

// ParseYAML parses one YAML.pm document into the Perl value model, within
// the default budget of its length.
func ParseYAML(p []byte) (storable.Value, error) { return parseYAML(p, Limits{}) }

func parseYAML(p []byte, lim Limits) (storable.Value, error) {
	if len(p) > math.MaxInt32 {
		return nil, fmt.Errorf("%w: document of 2 GiB or more", ErrYAML)
	}
	y := &yamlParser{s: strings.TrimSuffix(string(p), "\n"), anchors: map[string]storable.Value{}, budget: lim.Budget(len(p))}
	n := strings.Count(y.s, "\n") + 1
	if err := y.budget.Spend(1, min(n, math.MaxInt/yrowSize)*yrowSize); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrYAML, err)
	}
	y.rows = make([]yrow, 0, n)
	for off := 0; off <= len(y.s); {
		e := strings.IndexByte(y.s[off:], '\n')
		if e < 0 {
			e = len(y.s)
		} else {
			e += off
		}
		l := strings.TrimSuffix(y.s[off:e], "\r")
		t := strings.TrimLeft(l, " ")
		start := off + len(l) - len(t)
		y.rows = append(y.rows, yrow{indent: int32(len(l) - len(t)), start: int32(start), end: int32(start + len(t))})
		off = e + 1
	}
	y.skipBlank()
	if y.pos >= len(y.rows) {
		return nil, fmt.Errorf("%w: empty document", ErrYAML)
	}
	first := y.at(y.pos)
	var v storable.Value
	var err error
	if first.indent == 0 && (first.text == "---" || strings.HasPrefix(first.text, "--- ")) {
		y.pos++
		v, err = y.inline(strings.TrimSpace(first.text[3:]), -1, true)
	} else {
		v, err = y.block(-1)
	}
	if err != nil {
		return nil, err
	}
	y.skipBlank()
	if y.pos < len(y.rows) {
		l := y.at(y.pos)
		if l.text == "..." {
			y.pos++
			y.skipBlank()
		}
		if y.pos < len(y.rows) {
			return nil, y.errf(y.at(y.pos), "unexpected content after the document")
		}
	}
	return v, nil
}

// at returns line i.
func (y *yamlParser) at(i int) yline {
	r := y.rows[i]
	return yline{indent: int(r.indent), text: y.s[r.start:r.end], num: i + 1}
}

// reindent makes the current line's text its suffix rest, at column col
// (for the content after "- ").
func (y *yamlParser) reindent(col int, rest string) {
	r := &y.rows[y.pos]
	r.indent, r.start = int32(col), r.end-int32(len(rest))
}

func (y *yamlParser) errf(l yline, format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", ErrYAML, l.num, fmt.Sprintf(format, args...))
}

// spent wraps a budget error with the line it happened on.
func (y *yamlParser) spent(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: line %d: %w", ErrYAML, y.lineNum(), err)
}

func (y *yamlParser) skipBlank() {
	for y.pos < len(y.rows) {
		t := y.at(y.pos).text
		if t != "" && !strings.HasPrefix(t, "#") {
			return
		}
		y.pos++
	}
}

func isSeqItem(t string) bool { return t == "-" || strings.HasPrefix(t, "- ") }

// block parses the block node that starts at the next non-blank line,
// whose indentation must exceed parent.
func (y *yamlParser) block(parent int) (storable.Value, error) {
	return y.blockWith(parent, false, "", "")
}

func (y *yamlParser) blockWith(parent int, mapValue bool, anchor, tag string) (storable.Value, error) {
	y.skipBlank()
	if y.pos >= len(y.rows) {
		return nil, fmt.Errorf("%w: missing block content", ErrYAML)
	}
	l := y.at(y.pos)
	if l.indent <= parent && !(mapValue && l.indent == parent && isSeqItem(l.text)) {
		// An empty value.
		if tag != "" || anchor != "" {
			return nil, y.errf(l, "missing content for %s %s", anchor, tag)
		}
		return storable.Undef{}, nil
	}
	y.depth++
	defer func() { y.depth-- }()
	if y.depth > storable.DefaultMaxDepth {
		return nil, y.errf(l, "nesting too deep")
	}
	if isSeqItem(l.text) {
		return y.seq(l.indent, anchor, tag)
	}
	return y.mapping(l.indent, anchor, tag)
}

func perlTag(tag string) (kind, class string, err error) {
	t := strings.TrimPrefix(strings.TrimPrefix(tag, "!"), "!")
	if !strings.HasPrefix(t, "perl/") {
		return "", "", nil // ordinary YAML tags (!!str, !!int...) are ignored
	}
	t = t[len("perl/"):]
	kind, class, _ = strings.Cut(t, ":")
	switch kind {
	case "hash", "array", "ref", "scalar":
		return kind, class, nil
	}
	return "", "", fmt.Errorf("unsupported tag %s", tag)
}

// anchor registers a node under an anchor name (an alias may then refer
// to it, even from inside it).
func (y *yamlParser) anchor(name string, v storable.Value) error {
	if name == "" {
		return nil
	}
	if _, ok := y.anchors[name]; !ok {
		if err := y.spent(y.budget.Spend(0, anchorPrice+len(name))); err != nil {
			return err
		}
	}
	y.anchors[name] = v
	return nil
}

// anchorPrice is what an anchor costs in the parser's map.
const anchorPrice = 48

func (y *yamlParser) seq(ind int, anchor, tag string) (storable.Value, error) {
	kind, class, err := perlTag(tag)
	if err != nil {
		return nil, y.errf(y.at(y.pos), "%v", err)
	}
	if kind != "" && kind != "array" {
		return nil, y.errf(y.at(y.pos), "tag %s on a sequence", tag)
	}
	if err := y.spent(y.budget.Array(0)); err != nil {
		return nil, err
	}
	a := &storable.Array{Class: class}
	if err := y.anchor(anchor, a); err != nil {
		return nil, err
	}
	base := len(y.elems)
	defer y.popElems(base)
	for {
		y.skipBlank()
		if y.pos >= len(y.rows) {
			break
		}
		l := y.at(y.pos)
		if l.indent < ind {
			break
		}
		if l.indent > ind || !isSeqItem(l.text) {
			if l.indent == ind {
				break
			}
			return nil, y.errf(l, "bad indentation in sequence")
		}
		if err := y.spent(y.budget.Elems(1)); err != nil {
			return nil, err
		}
		rest := strings.TrimLeft(l.text[1:], " ")
		v, err := y.compound(l, rest, ind)
		if err != nil {
			return nil, err
		}
		y.elems = append(y.elems, v)
	}
	a.Elems = append([]storable.Value(nil), y.elems[base:]...)
	return a, nil
}

func (y *yamlParser) popElems(base int) {
	clear(y.elems[base:])
	y.elems = y.elems[:base]
}

func (y *yamlParser) popEntries(base int) {
	clear(y.entries[base:])
	y.entries = y.entries[:base]
}

// compound handles the content after "- ": an inline mapping or sequence
// continues as a block whose indentation is the content's column.
func (y *yamlParser) compound(l yline, rest string, ind int) (storable.Value, error) {
	col := l.indent + (len(l.text) - len(rest))
	if isSeqItem(rest) || isMapEntry(rest) {
		y.reindent(col, rest)
		return y.block(ind)
	}
	y.pos++
	return y.inline(rest, ind, false)
}

// isMapEntry reports whether t starts with "key:" followed by a space or
// the end of the line.
func isMapEntry(t string) bool {
	_, _, ok := splitKey(t)
	return ok
}

func splitKey(t string) (key, rest string, ok bool) {
	if t == "" {
		return "", "", false
	}
	if t[0] == '\'' || t[0] == '"' {
		s, n, err := quoted(t)
		if err != nil {
			return "", "", false
		}
		r := strings.TrimLeft(t[n:], " ")
		if r == ":" || strings.HasPrefix(r, ": ") {
			return s, strings.TrimLeft(r[1:], " "), true
		}
		return "", "", false
	}
	switch t[0] {
	case '&', '*', '!', '[', '{', '|', '>', '#':
		return "", "", false
	}
	for i := 0; i < len(t); i++ {
		if t[i] == ':' && (i+1 == len(t) || t[i+1] == ' ') {
			if i == 0 {
				return "", "", false
			}
			return strings.TrimRight(t[:i], " "), strings.TrimLeft(t[i+1:], " "), true
		}
		if t[i] == ' ' && i+1 < len(t) && t[i+1] == '#' {
			return "", "", false
		}
	}
	return "", "", false
}

func (y *yamlParser) mapping(ind int, anchor, tag string) (storable.Value, error) {
	kind, class, err := perlTag(tag)
	if err != nil {
		return nil, y.errf(y.at(y.pos), "%v", err)
	}
	var box *storable.Ref
	h := &storable.Hash{}
	switch kind {
	case "", "hash":
		if err := y.spent(y.budget.Hash(0)); err != nil {
			return nil, err
		}
		h.Class = class
		if err := y.anchor(anchor, h); err != nil {
			return nil, err
		}
	case "ref":
		if err := y.spent(y.budget.Ref()); err != nil {
			return nil, err
		}
		box = &storable.Ref{Class: class}
		if err := y.anchor(anchor, box); err != nil {
			return nil, err
		}
	default:
		return nil, y.errf(y.at(y.pos), "tag %s on a mapping", tag)
	}
	base := len(y.entries)
	defer y.popEntries(base)
	for {
		y.skipBlank()
		if y.pos >= len(y.rows) {
			break
		}
		l := y.at(y.pos)
		if l.indent < ind || l.indent == ind && isSeqItem(l.text) {
			break
		}
		if l.indent > ind {
			return nil, y.errf(l, "bad indentation in mapping")
		}
		key, rest, ok := splitKey(l.text)
		if !ok {
			return nil, y.errf(l, "expected \"key: value\"")
		}
		y.pos++
		if box == nil {
			if err := y.spent(y.budget.Entries(1)); err != nil {
				return nil, err
			}
		}
		v, err := y.inline(rest, ind, true)
		if err != nil {
			return nil, err
		}
		if box != nil {
			if key != "=" {
				return nil, y.errf(l, "!!perl/ref mapping needs the key \"=\"")
			}
			box.Target = v
			continue
		}
		y.entries = append(y.entries, storable.Entry{Key: key, UTF8: isText(key), Value: v})
	}
	if box != nil {
		if box.Target == nil {
			box.Target = storable.Undef{}
		}
		return box, nil
	}
	h.Entries = append([]storable.Entry(nil), y.entries[base:]...)
	return h, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// isText reports a string read as Perl character text: not ASCII, valid
// UTF-8 (see YAML).
func isText(s string) bool { return !isASCII(s) && utf8.ValidString(s) }

// inline parses a node given on the current line (content, possibly
// empty, after "---", "key:" or "-"); the next line is already current.
func (y *yamlParser) inline(content string, parent int, mapValue bool) (storable.Value, error) {
	l := yline{num: y.lineNum()}
	anchor, tag := "", ""
	for content != "" && (content[0] == '&' || content[0] == '!') {
		word, rest, _ := strings.Cut(content, " ")
		if word[0] == '&' {
			anchor = word[1:]
		} else {
			tag = word
		}
		content = strings.TrimLeft(rest, " ")
	}
	if content == "" || strings.HasPrefix(content, "#") {
		return y.blockWith(parent, mapValue, anchor, tag)
	}
	kind, class, err := perlTag(tag)
	if err != nil {
		return nil, y.errf(l, "%v", err)
	}
	var v storable.Value
	switch {
	case content[0] == '*':
		name := strings.TrimSpace(content[1:])
		a, ok := y.anchors[name]
		if !ok {
			return nil, y.errf(l, "unknown alias *%s", name)
		}
		return a, nil
	case content == "[]":
		if kind != "" && kind != "array" {
			return nil, y.errf(l, "tag %s on []", tag)
		}
		if err := y.spent(y.budget.Array(0)); err != nil {
			return nil, err
		}
		v = &storable.Array{Class: class, Elems: []storable.Value{}}
	case content == "{}":
		if kind != "" && kind != "hash" {
			return nil, y.errf(l, "tag %s on {}", tag)
		}
		if err := y.spent(y.budget.Hash(0)); err != nil {
			return nil, err
		}
		v = &storable.Hash{Class: class}
	case content[0] == '[' || content[0] == '{':
		return nil, y.errf(l, "flow collections are not supported")
	case content[0] == '|':
		s, err := y.literal(content, parent)
		if err != nil {
			return nil, err
		}
		if v, err = y.str(s, len(s)); err != nil {
			return nil, err
		}
	case content[0] == '>':
		return nil, y.errf(l, "folded scalars are not supported")
	case content[0] == '\'' || content[0] == '"':
		s, n, err := quoted(content)
		if err != nil {
			return nil, y.errf(l, "%v", err)
		}
		if r := strings.TrimSpace(content[n:]); r != "" && !strings.HasPrefix(r, "#") {
			return nil, y.errf(l, "text after quoted scalar")
		}
		if v, err = y.str(s, len(s)); err != nil {
			return nil, err
		}
	default:
		if i := strings.Index(content, " #"); i >= 0 {
			content = content[:i]
		}
		content = strings.TrimRight(content, " \t")
		if content == "~" {
			v = storable.Undef{}
		} else if v, err = y.str(content, 0); err != nil {
			return nil, err
		}
	}
	switch kind {
	case "scalar", "ref":
		if err := y.spent(y.budget.Ref()); err != nil {
			return nil, err
		}
		v = &storable.Ref{Class: class, Target: v}
	case "hash", "array":
		switch v.(type) {
		case *storable.Hash, *storable.Array:
		default:
			return nil, y.errf(l, "tag %s on a scalar", tag)
		}
	}
	if err := y.anchor(anchor, v); err != nil {
		return nil, err
	}
	return v, nil
}

func (y *yamlParser) lineNum() int {
	if y.pos > 0 && y.pos <= len(y.rows) {
		return y.pos
	}
	return 0
}

// str charges and returns a string scalar; copied is how many of its
// bytes are not shared with the payload.
func (y *yamlParser) str(s string, copied int) (storable.Value, error) {
	if err := y.spent(y.budget.String(copied)); err != nil {
		return nil, err
	}
	return strValue(s), nil
}

func strValue(s string) storable.Value {
	if isText(s) {
		return storable.String(s)
	}
	return storable.Bytes(s)
}

// literal reads a "|" block scalar from the following lines. The header
// may carry a chomping indicator (- or +) and an indentation indicator
// (a digit, relative to the parent's indentation).
func (y *yamlParser) literal(header string, parent int) (string, error) {
	chomp, ind := byte(0), -1
	for _, c := range []byte(strings.TrimSpace(header[1:])) {
		switch {
		case c == '-' || c == '+':
			chomp = c
		case c >= '1' && c <= '9':
			ind = max(parent, 0) + int(c-'0')
		default:
			return "", fmt.Errorf("%w: bad block scalar header %q", ErrYAML, header)
		}
	}
	var lines []string
	for y.pos < len(y.rows) {
		l := y.at(y.pos)
		if l.text == "" {
			lines = append(lines, "")
			y.pos++
			continue
		}
		if l.indent <= parent {
			break
		}
		if ind < 0 {
			ind = l.indent
		}
		if l.indent < ind {
			break
		}
		lines = append(lines, strings.Repeat(" ", l.indent-ind)+l.text)
		y.pos++
	}
	// Trailing empty lines belong to the block only for chomping.
	n := len(lines)
	for n > 0 && lines[n-1] == "" {
		n--
	}
	trailing := len(lines) - n
	s := strings.Join(lines[:n], "\n")
	switch chomp {
	case '-':
	case '+':
		s += strings.Repeat("\n", trailing+1)
	default:
		if n > 0 {
			s += "\n"
		}
	}
	return s, nil
}

// quoted parses a single- or double-quoted scalar at the start of t and
// returns it with the number of bytes consumed.
func quoted(t string) (string, int, error) {
	q := t[0]
	var b strings.Builder
	for i := 1; i < len(t); i++ {
		c := t[i]
		if q == '\'' {
			if c == '\'' {
				if i+1 < len(t) && t[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				return b.String(), i + 1, nil
			}
			b.WriteByte(c)
			continue
		}
		switch c {
		case '"':
			return b.String(), i + 1, nil
		case '\\':
			i++
			if i >= len(t) {
				return "", 0, errors.New("unterminated escape")
			}
			switch e := t[i]; e {
			case '0':
				b.WriteByte(0)
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 't', '\t':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'v':
				b.WriteByte('\v')
			case 'f':
				b.WriteByte('\f')
			case 'r':
				b.WriteByte('\r')
			case 'e':
				b.WriteByte(0x1b)
			case ' ', '"', '/', '\\':
				b.WriteByte(e)
			case 'N':
				b.WriteString("\u0085")
			case '_':
				b.WriteString("\u00a0")
			case 'L':
				b.WriteString("\u2028")
			case 'P':
				b.WriteString("\u2029")
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if i+1+n > len(t) {
					return "", 0, errors.New("short escape")
				}
				r, err := strconv.ParseUint(t[i+1:i+1+n], 16, 32)
				if err != nil || r > utf8.MaxRune {
					return "", 0, fmt.Errorf("bad escape \\%c%s", e, t[i+1:i+1+n])
				}
				b.WriteRune(rune(r))
				i += n
			default:
				return "", 0, fmt.Errorf("unknown escape \\%c", e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, errors.New("unterminated quoted scalar")
}
