package storable

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// JSON view
//
// ToJSON and FromJSON convert between a Value and a JSON text that shows
// everything Perl can tell apart, using a few marker objects:
//
//	null                            undef
//	123                             an integer (Int)
//	1.5                             a non-integral number (Float; FromJSON only,
//	                                Storable sends such numbers as strings)
//	"text"                          a string (character string, or a byte
//	                                string read as Latin-1 unless MarkBytes)
//	{"$bytes": "<base64>"}          a byte string with bytes >= 0x80 (MarkBytes)
//	[ ... ]                         a reference to an array
//	{ "k": ... }                    a reference to a hash (order kept)
//	{"$ref": x}                     a reference to a scalar holding x
//	{"$bless": "Class", "$value": x} x (a reference) blessed into Class
//	{"$shared": n}                  a further reference to the referent that
//	                                Storable numbered n (the tag: values are
//	                                numbered from 0 in the order written, each
//	                                scalar, array, hash and reference counting
//	                                one), so shared and cyclic data survive
//	{"$bool": true}                 Perl's immortal true/false
//
// The top level is the referent of the reference that was frozen, as in
// the golden vectors' "plain" view: nfreeze(\"x") shows as "x",
// nfreeze([1]) as [1]. A real hash whose only keys are these marker names
// is ambiguous; FromJSON reads it as the marker.

// JSONOptions tunes ToJSON.
type JSONOptions struct {
	// MarkBytes writes byte strings holding bytes >= 0x80 as
	// {"$bytes": base64}, so FromJSON restores them exactly. Without it
	// they are shown as Latin-1 text.
	MarkBytes bool
	// Indent, if not empty, indents the output with this string.
	Indent string
}

// ToJSON renders v (as returned by Decode) in the JSON view.
func ToJSON(v Value, opts *JSONOptions) ([]byte, error) {
	if opts == nil {
		opts = &JSONOptions{}
	}
	j := jsonWriter{opts: opts, seen: map[Value]int{}}
	var err error
	switch x := v.(type) {
	case *Array, *Hash, *Ref:
		err = j.referent(x, 0)
	default:
		err = j.item(v, 0)
	}
	if err != nil {
		return nil, err
	}
	if opts.Indent == "" {
		return j.buf.Bytes(), nil
	}
	var out bytes.Buffer
	if err := json.Indent(&out, j.buf.Bytes(), "", opts.Indent); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

type jsonWriter struct {
	buf  bytes.Buffer
	opts *JSONOptions
	tags int
	seen map[Value]int
}

func (j *jsonWriter) str(s string) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	j.buf.Write(bytes.TrimRight(b.Bytes(), "\n"))
}

func (j *jsonWriter) item(v Value, depth int) error {
	if depth > DefaultMaxDepth {
		return fmt.Errorf("%w: nesting deeper than %d", ErrUnsupportedValue, DefaultMaxDepth)
	}
	switch x := v.(type) {
	case nil, Undef:
		j.tags++
		j.buf.WriteString("null")
	case Int:
		j.tags++
		j.buf.WriteString(strconv.FormatInt(int64(x), 10))
	case Float:
		j.tags++
		f := float64(x)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			j.str(formatFloat(f))
		} else {
			j.buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		}
	case String:
		j.tags++
		j.str(string(x))
	case Bytes:
		j.tags++
		if j.opts.MarkBytes && !isASCII(string(x)) {
			j.buf.WriteString(`{"$bytes":"`)
			j.buf.WriteString(base64.StdEncoding.EncodeToString([]byte(x)))
			j.buf.WriteString(`"}`)
		} else {
			j.str(fromLatin1(string(x)))
		}
	case Bool:
		j.tags++
		fmt.Fprintf(&j.buf, `{"$bool":%t}`, bool(x))
	case Weak:
		return j.item(x.To, depth)
	case *Array, *Hash:
		j.tags++
		return j.referent(x, depth+1)
	case *Ref:
		j.tags++
		if t, ok := j.seen[x]; ok {
			fmt.Fprintf(&j.buf, `{"$shared":%d}`, t)
			return nil
		}
		if x.Class == "" {
			j.buf.WriteString(`{"$ref":`)
			if err := j.referent(x, depth+1); err != nil {
				return err
			}
			j.buf.WriteByte('}')
			return nil
		}
		j.buf.WriteString(`{"$bless":`)
		j.str(x.Class)
		j.buf.WriteString(`,"$value":{"$ref":`)
		j.seen[x] = j.tags
		if err := j.item(x.Target, depth+1); err != nil {
			return err
		}
		j.buf.WriteString(`}}`)
	default:
		return fmt.Errorf("%w: %T", ErrUnsupportedValue, v)
	}
	return nil
}

// referent writes what reference p points to (no "$ref" marker).
func (j *jsonWriter) referent(p Value, depth int) error {
	if t, ok := j.seen[p]; ok {
		fmt.Fprintf(&j.buf, `{"$shared":%d}`, t)
		return nil
	}
	j.seen[p] = j.tags
	class := ""
	switch x := p.(type) {
	case *Array:
		class = x.Class
	case *Hash:
		class = x.Class
	case *Ref:
		class = x.Class
	}
	if class != "" {
		j.buf.WriteString(`{"$bless":`)
		j.str(class)
		j.buf.WriteString(`,"$value":`)
	}
	switch x := p.(type) {
	case *Array:
		j.tags++
		j.buf.WriteByte('[')
		for i, el := range x.Elems {
			if i > 0 {
				j.buf.WriteByte(',')
			}
			if err := j.item(el, depth+1); err != nil {
				return err
			}
		}
		j.buf.WriteByte(']')
	case *Hash:
		j.tags++
		j.buf.WriteByte('{')
		for i, e := range x.Entries {
			if i > 0 {
				j.buf.WriteByte(',')
			}
			k := e.Key
			if !e.UTF8 {
				k = fromLatin1(k)
			}
			j.str(k)
			j.buf.WriteByte(':')
			if err := j.item(e.Value, depth+1); err != nil {
				return err
			}
		}
		j.buf.WriteByte('}')
	case *Ref:
		if class != "" {
			j.buf.WriteString(`{"$ref":`)
		}
		if err := j.item(x.Target, depth+1); err != nil {
			return err
		}
		if class != "" {
			j.buf.WriteByte('}')
		}
	}
	if class != "" {
		j.buf.WriteByte('}')
	}
	return nil
}

// FromJSON parses the JSON view (see ToJSON) into a Value ready for Encode.
// Strings become byte strings when ASCII and character strings otherwise;
// integral numbers become Int, other numbers Float.
func FromJSON(data []byte) (Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := parseNode(dec, 0)
	if err != nil {
		return nil, wrapContext("JSON view", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("storable: JSON view: data after the top-level value")
	}
	b := jsonBuilder{tags: map[int]Value{}}
	switch n.kind {
	case nArray, nObject, nBless:
		return b.referent(n)
	case nShared:
		return nil, errors.New("storable: JSON view: $shared at top level")
	}
	box := &Ref{}
	b.tags[0] = box
	v, err := b.item(n)
	if err != nil {
		return nil, err
	}
	box.Target = v
	return box, nil
}

type nodeKind int

const (
	nNull nodeKind = iota
	nNumber
	nString
	nBytes
	nArray
	nObject
	nRef
	nBless
	nShared
	nBool
)

type jnode struct {
	kind  nodeKind
	s     string // number text, string, bytes, class
	b     bool
	n     int
	elems []*jnode
	keys  []string
}

func parseNode(dec *json.Decoder, depth int) (*jnode, error) {
	if depth > DefaultMaxDepth {
		return nil, ErrTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
		return &jnode{kind: nNull}, nil
	case json.Number:
		return &jnode{kind: nNumber, s: string(t)}, nil
	case string:
		return &jnode{kind: nString, s: t}, nil
	case bool:
		return nil, errors.New("bare JSON boolean (use {\"$bool\": true} or 1/\"\")")
	case json.Delim:
		if t == '[' {
			n := &jnode{kind: nArray}
			for dec.More() {
				c, err := parseNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, c)
			}
			_, err := dec.Token()
			return n, err
		}
		n := &jnode{kind: nObject}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			var c *jnode
			if k == "$bool" && len(n.keys) == 0 {
				vt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				if bv, ok := vt.(bool); ok {
					c = &jnode{kind: nBool, b: bv}
				} else {
					c = &jnode{kind: nNull}
				}
			} else if c, err = parseNode(dec, depth+1); err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k)
			n.elems = append(n.elems, c)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return markers(n)
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

func markers(n *jnode) (*jnode, error) {
	switch {
	case len(n.keys) == 1 && n.keys[0] == "$ref":
		return &jnode{kind: nRef, elems: n.elems}, nil
	case len(n.keys) == 1 && n.keys[0] == "$shared":
		c := n.elems[0]
		t, err := strconv.Atoi(c.s)
		if c.kind != nNumber || err != nil || t < 0 {
			return nil, errors.New("$shared needs a tag number")
		}
		return &jnode{kind: nShared, n: t}, nil
	case len(n.keys) == 1 && n.keys[0] == "$bool" && n.elems[0].kind == nBool:
		return n.elems[0], nil
	case len(n.keys) == 1 && n.keys[0] == "$bytes":
		if n.elems[0].kind != nString {
			return nil, errors.New("$bytes needs a base64 string")
		}
		b, err := base64.StdEncoding.DecodeString(n.elems[0].s)
		if err != nil {
			return nil, fmt.Errorf("$bytes: %w", err)
		}
		return &jnode{kind: nBytes, s: string(b)}, nil
	case len(n.keys) == 2 && n.keys[0] == "$bless" && n.keys[1] == "$value",
		len(n.keys) == 2 && n.keys[1] == "$bless" && n.keys[0] == "$value":
		ci, vi := 0, 1
		if n.keys[1] == "$bless" {
			ci, vi = 1, 0
		}
		if n.elems[ci].kind != nString {
			return nil, errors.New("$bless needs a class name string")
		}
		switch n.elems[vi].kind {
		case nArray, nObject, nRef:
		default:
			return nil, errors.New("$value of $bless must be an array, a hash or a {\"$ref\": x}")
		}
		return &jnode{kind: nBless, s: n.elems[ci].s, elems: []*jnode{n.elems[vi]}}, nil
	}
	return n, nil
}

type jsonBuilder struct {
	count int
	tags  map[int]Value
}

func (b *jsonBuilder) item(n *jnode) (Value, error) {
	switch n.kind {
	case nNull:
		b.count++
		return Undef{}, nil
	case nNumber:
		b.count++
		if i, err := strconv.ParseInt(n.s, 10, 64); err == nil {
			return Int(i), nil
		}
		f, err := strconv.ParseFloat(n.s, 64)
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", n.s, err)
		}
		return Float(f), nil
	case nString:
		b.count++
		if isASCII(n.s) {
			return Bytes(n.s), nil
		}
		return String(n.s), nil
	case nBytes:
		b.count++
		return Bytes(n.s), nil
	case nBool:
		b.count++
		return Bool(n.b), nil
	case nShared:
		b.count++
		v, ok := b.tags[n.n]
		if !ok {
			return nil, fmt.Errorf("$shared %d: no such referent before this point", n.n)
		}
		return v, nil
	}
	b.count++ // the reference
	return b.referent(n)
}

func (b *jsonBuilder) referent(n *jnode) (Value, error) {
	class := ""
	if n.kind == nBless {
		class, n = n.s, n.elems[0]
	}
	tag := b.count
	switch n.kind {
	case nArray:
		a := &Array{Class: class, Elems: make([]Value, len(n.elems))}
		b.tags[tag] = a
		b.count++
		for i, c := range n.elems {
			v, err := b.item(c)
			if err != nil {
				return nil, err
			}
			a.Elems[i] = v
		}
		return a, nil
	case nObject:
		h := &Hash{Class: class, Entries: make([]Entry, 0, len(n.elems))}
		b.tags[tag] = h
		b.count++
		for i, c := range n.elems {
			v, err := b.item(c)
			if err != nil {
				return nil, err
			}
			h.Entries = append(h.Entries, Entry{Key: n.keys[i], UTF8: !isASCII(n.keys[i]), Value: v})
		}
		return h, nil
	case nRef:
		r := &Ref{Class: class}
		b.tags[tag] = r
		v, err := b.item(n.elems[0])
		if err != nil {
			return nil, err
		}
		r.Target = v
		return r, nil
	}
	return nil, fmt.Errorf("cannot reference a %v here", n.kind)
}
