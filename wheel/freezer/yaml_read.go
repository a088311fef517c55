package freezer

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

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
		// An empty value at the end, as YAML.pm reads "-" or "a:".
		if tag != "" || anchor != "" {
			return nil, fmt.Errorf("%w: missing content for %s %s at the end", ErrYAML, anchor, tag)
		}
		return storable.Undef{}, nil
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
		y.elems = append(grow(y.elems), v)
	}
	a.Elems = append([]storable.Value(nil), y.elems[base:]...)
	return a, nil
}

// grow makes room for one more item, doubling: append grows large slices
// by a quarter, which would allocate four times the final size.
func grow[T any](s []T) []T {
	if len(s) < cap(s) {
		return s
	}
	n := make([]T, len(s), max(16, 2*cap(s)))
	copy(n, s)
	return n
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
		y.entries = append(grow(y.entries), storable.Entry{Key: key, UTF8: isText(key), Value: v})
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
