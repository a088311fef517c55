package storable

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Value is one Perl value: what a Perl array element, hash value or scalar
// variable can hold. The concrete types are:
//
//	Undef            undef
//	Int              an integer (Storable sends integers in int32 range as
//	                 integers; larger ones arrive as decimal strings)
//	Float            a floating point number (encoding only: Storable's
//	                 network order sends non-integral numbers as strings)
//	Bytes            a byte string (no UTF-8 flag)
//	String           a character string (UTF-8 flag on)
//	Bool             Perl's immortal true/false (and 5.36+ booleans)
//	*Array           a reference to an array
//	*Hash            a reference to a hash
//	*Ref             a reference to a scalar (\$x, \\$y, \undef)
//	Weak             a weakened reference
//
// Pointers carry identity: two elements holding the same *Array are two
// references to one Perl array, and Encode writes the second as a
// back-reference, exactly as Storable does. Cycles are allowed (see the
// package documentation for how conversions treat them).
//
// A blessed object is a reference whose referent has a class: the Class
// field of Array, Hash or Ref.
type Value interface {
	perlValue()
}

// Undef is Perl's undef. Immortal marks PL_sv_undef (what Storable writes for
// array holes and \undef); an ordinary undefined scalar has Immortal false.
// Perl code cannot tell them apart; the flag only keeps re-encoding exact.
type Undef struct {
	Immortal bool
}

// Int is a Perl integer. Encode writes values in -128..127 as SX_BYTE, other
// int32 values as SX_NETINT and anything larger as its decimal string, as
// Perl's nfreeze does.
type Int int64

// Float is a Perl floating point number. Storable's network order has no
// float opcode: Encode writes an integral value below 2**53 as an integer
// and anything else as Perl's "%.15g" string ("1.5", "1e+300", "Inf",
// "NaN"), byte for byte what Perl writes. Decode never returns Float.
type Float float64

// Bytes is a Perl string without the UTF-8 flag: a sequence of octets (Perl
// sees each byte as one character, so high bytes read as Latin-1). Perl
// programs send ASCII text and undecoded UTF-8 this way.
type Bytes string

// String is a Perl character string (UTF-8 flag on), held as UTF-8.
type String string

// Bool is one of Perl's immortal booleans (PL_sv_yes / PL_sv_no), or a
// boolean of Perl 5.36+ with Storable 3.32+. Encode writes SX_SV_YES /
// SX_SV_NO, which every Storable reads.
type Bool bool

// Array is a Perl array. As a Value it stands for a reference to the array.
type Array struct {
	// Class, when not empty, is the package the array is blessed into.
	Class string
	// Elems are the elements. A hole (non-existent element) is
	// Undef{Immortal: true}.
	Elems    []Value
	overload bool
	refs     refs
}

// Hash is a Perl hash. As a Value it stands for a reference to the hash.
// Entries keep the order they were decoded in (Perl's per-process random
// order) or built in; Encode writes them in that order.
type Hash struct {
	// Class, when not empty, is the package the hash is blessed into.
	Class   string
	Entries []Entry
	// flagged records an SX_FLAG_HASH with no UTF-8 key, and hashFlags
	// the hash flags byte, so re-encoding is exact.
	flagged   bool
	hashFlags byte
	overload  bool
	refs      refs
}

// Entry is one key/value pair of a Hash.
type Entry struct {
	// Key is the key. For a byte key (UTF8 false) it holds the raw bytes;
	// for a character key (UTF8 true) it holds UTF-8 text.
	Key string
	// UTF8 marks a character key (Perl's UTF-8 flag on the key). Encode
	// writes it as Latin-1 with key flag 0x02 when every character fits,
	// else as UTF-8 with key flag 0x01, as Perl does.
	UTF8  bool
	Value Value
}

// Ref is a Perl scalar container that a reference points to: &Ref{Target: v}
// is Perl's \$x where $x holds v. Two pointers to the same Ref are two
// references to one scalar. \\1 is &Ref{Target: &Ref{Target: Int(1)}}.
type Ref struct {
	// Class, when not empty, is the package the scalar is blessed into.
	Class    string
	Target   Value
	overload bool
	refs     refs
}

// Weak is a weakened reference (Scalar::Util::weaken). To must be *Array,
// *Hash or *Ref.
type Weak struct {
	To Value
}

// refs is what Decode saw of the references to a referent. Conversions
// need no identity map for a referent the image references once: nothing
// else can reach it, so it can neither be shared nor on a cycle.
type refs uint8

const (
	refsUnknown refs = iota // not decoded (built in Go): assume shared
	refsOne                 // decoded, referenced once
	refsMany                // decoded, reached again by a back-reference
)

// once reports whether v is a referent Decode saw referenced only once.
func once(v Value) bool {
	switch x := v.(type) {
	case *Array:
		return x.refs == refsOne
	case *Hash:
		return x.refs == refsOne
	case *Ref:
		return x.refs == refsOne
	}
	return false
}

func (Undef) perlValue()  {}
func (Int) perlValue()    {}
func (Float) perlValue()  {}
func (Bytes) perlValue()  {}
func (String) perlValue() {}
func (Bool) perlValue()   {}
func (*Array) perlValue() {}
func (*Hash) perlValue()  {}
func (*Ref) perlValue()   {}
func (Weak) perlValue()   {}

// NewHash returns a hash with the given key/value pairs (keys must be
// strings, values Values), in that order. Keys that are not ASCII become
// character keys. It panics on a malformed argument list, like a literal.
func NewHash(kv ...any) *Hash {
	if len(kv)%2 != 0 {
		panic("storable.NewHash: odd argument count")
	}
	h := &Hash{Entries: make([]Entry, 0, len(kv)/2)}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i].(string), kv[i+1].(Value))
	}
	return h
}

// NewArray returns an array of the given elements.
func NewArray(elems ...Value) *Array { return &Array{Elems: elems} }

// Get returns the value stored under key, matching byte keys and character
// keys the way Perl does (a character key whose characters all fit Latin-1
// equals the byte key of those Latin-1 bytes).
func (h *Hash) Get(key string) (Value, bool) {
	if i := h.index(key, !isASCII(key) && utf8.ValidString(key)); i >= 0 {
		return h.Entries[i].Value, true
	}
	return nil, false
}

// Set stores v under key, replacing an existing entry (order kept) or
// appending a new one. A non-ASCII key that is valid UTF-8 is stored as a
// character key, any other as a byte key.
func (h *Hash) Set(key string, v Value) {
	u := !isASCII(key) && utf8.ValidString(key)
	if i := h.index(key, u); i >= 0 {
		h.Entries[i].Value = v
		return
	}
	h.Entries = append(h.Entries, Entry{Key: key, UTF8: u, Value: v})
}

// Len returns the number of entries.
func (h *Hash) Len() int { return len(h.Entries) }

func (h *Hash) index(key string, utf bool) int {
	for i := range h.Entries {
		e := &h.Entries[i]
		if e.Key == key && (e.UTF8 == utf || isASCII(key)) {
			return i
		}
	}
	// Perl equality across representations: compare as Latin-1.
	if k, ok := perlKey(key, utf); ok {
		for i := range h.Entries {
			if k2, ok2 := perlKey(h.Entries[i].Key, h.Entries[i].UTF8); ok2 && k2 == k {
				return i
			}
		}
	}
	return -1
}

// perlKey returns the byte form Perl would store a key in when it can be
// downgraded to Latin-1.
func perlKey(key string, utf bool) (string, bool) {
	if !utf {
		return key, true
	}
	l, ok := latin1(key)
	return l, ok
}

// latin1 converts UTF-8 text whose runes are all <= 0xFF to Latin-1 bytes.
func latin1(s string) (string, bool) {
	if isASCII(s) {
		return s, true
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r > 0xFF || r == utf8.RuneError && n <= 1 {
			return "", false
		}
		b.WriteByte(byte(r))
		i += n
	}
	return b.String(), true
}

// fromLatin1 converts Latin-1 bytes to UTF-8 text.
func fromLatin1(s string) string {
	if isASCII(s) {
		return s
	}
	b := make([]byte, 0, len(s)*2)
	for i := 0; i < len(s); i++ {
		b = utf8.AppendRune(b, rune(s[i]))
	}
	return string(b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Text returns the Perl string value of a scalar as Go UTF-8 text: String
// as is, Bytes read as Latin-1 (Perl's view of a byte string), Int and Float
// in Perl's number formatting, undef as "" (ok false for non-scalars).
func Text(v Value) (string, bool) {
	switch x := v.(type) {
	case nil, Undef:
		return "", true
	case String:
		return string(x), true
	case Bytes:
		return fromLatin1(string(x)), true
	case Int:
		return strconv.FormatInt(int64(x), 10), true
	case Float:
		return formatFloat(float64(x)), true
	case Bool:
		if x {
			return "1", true
		}
		return "", true
	}
	return "", false
}
