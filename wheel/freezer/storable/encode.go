package storable

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// Encode freezes v the way Perl's nfreeze does. v is the reference nfreeze
// is given: *Hash, *Array or *Ref (the referent is what gets written); any
// other scalar is written as if given a reference to it. Hash entries are
// written in their order.
func Encode(v Value) ([]byte, error) {
	return AppendEncode(make([]byte, 0, 64), v)
}

// AppendEncode is Encode appending to dst.
func AppendEncode(dst []byte, v Value) ([]byte, error) {
	e := encoder{buf: append(dst, netorderHeader0, storableMinor), maxDepth: 2*DefaultMaxDepth + 8}
	var err error
	switch x := v.(type) {
	case *Array:
		err = e.referent(x)
	case *Hash:
		err = e.referent(x)
	case *Ref:
		err = e.referent(x)
	case Weak:
		err = e.item(x.To)
	default:
		err = e.item(v)
	}
	if err != nil {
		return nil, err
	}
	return e.buf, nil
}

type encoder struct {
	buf  []byte
	tags int
	seen map[Value]int
	// few holds the first referents (an IKC message has a handful), so
	// small images need no map.
	few      [8]seenRef
	nfew     int
	classes  map[string]int
	depth    int
	maxDepth int
	// Go containers written (Marshal), and the pointers followed since the
	// last container (chain[base:]).
	gofew  [8]goSeen
	ngo    int
	goseen map[goKey]int
	chain  []unsafe.Pointer
	base   int
}

func (e *encoder) enter() error {
	e.depth++
	if e.depth > e.maxDepth {
		return fmt.Errorf("%w: nesting deeper than %d (a cycle through Go values?)", ErrUnsupportedValue, e.maxDepth)
	}
	return nil
}

func (e *encoder) u32(n int) {
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(n))
}

func (e *encoder) int(i int64) {
	e.tags++
	switch {
	case i >= -128 && i <= 127:
		e.buf = append(e.buf, sxByte, byte(i+128))
	case i >= math.MinInt32 && i <= math.MaxInt32:
		e.buf = append(e.buf, sxNetint)
		e.u32(int(uint32(int32(i))))
	default:
		var tmp [24]byte
		e.rawString(sxScalar, sxLScalar, strconv.AppendInt(tmp[:0], i, 10))
		e.tags-- // rawString counted it
	}
}

func (e *encoder) uint(u uint64) {
	if u <= math.MaxInt64 {
		e.int(int64(u))
		return
	}
	var tmp [24]byte
	e.rawString(sxScalar, sxLScalar, strconv.AppendUint(tmp[:0], u, 10))
}

// perlIntegral reports whether Perl treats f as an integer when storing it
// (an integral double that converts to IV without loss: |f| < 2**53).
func perlIntegral(f float64) bool {
	return f == math.Trunc(f) && math.Abs(f) < 1<<53
}

func (e *encoder) float(f float64) {
	if perlIntegral(f) {
		e.int(int64(f))
		return
	}
	var tmp [32]byte
	e.rawString(sxScalar, sxLScalar, appendFloat(tmp[:0], f))
}

// formatFloat formats f as Perl prints a double: "%.15g", with Inf, -Inf
// and NaN spelled as modern Perl does.
func formatFloat(f float64) string { return string(appendFloat(nil, f)) }

func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case perlIntegral(f):
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', 15, 64)
}

func (e *encoder) rawString(small, large byte, s []byte) {
	e.tags++
	if len(s) <= 255 {
		e.buf = append(e.buf, small, byte(len(s)))
	} else {
		e.buf = append(e.buf, large)
		e.u32(len(s))
	}
	e.buf = append(e.buf, s...)
}

func (e *encoder) string(small, large byte, s string) error {
	if uint64(len(s)) > math.MaxUint32 {
		return fmt.Errorf("%w: string of %d bytes (Storable large objects not supported)", ErrUnsupportedValue, len(s))
	}
	e.tags++
	if len(s) <= 255 {
		e.buf = append(e.buf, small, byte(len(s)))
	} else {
		e.buf = append(e.buf, large)
		e.u32(len(s))
	}
	e.buf = append(e.buf, s...)
	return nil
}

// goString writes a Go string: ASCII or invalid UTF-8 as a byte string,
// other valid UTF-8 as a character string.
func (e *encoder) goString(s string) error {
	if isASCII(s) || !utf8.ValidString(s) {
		return e.string(sxScalar, sxLScalar, s)
	}
	return e.string(sxUTF8Str, sxLUTF8Str, s)
}

// item writes a model value in a scalar slot.
func (e *encoder) item(v Value) error {
	switch x := v.(type) {
	case nil:
		e.tags++
		e.buf = append(e.buf, sxUndef)
	case Undef:
		e.tags++
		if x.Immortal {
			e.buf = append(e.buf, sxSvUndef)
		} else {
			e.buf = append(e.buf, sxUndef)
		}
	case Int:
		e.int(int64(x))
	case Float:
		e.float(float64(x))
	case Bytes:
		return e.string(sxScalar, sxLScalar, string(x))
	case String:
		return e.string(sxUTF8Str, sxLUTF8Str, string(x))
	case Bool:
		e.tags++
		if x {
			e.buf = append(e.buf, sxSvYes)
		} else {
			e.buf = append(e.buf, sxSvNo)
		}
	case *Array:
		return e.ref(x, x.overload, false)
	case *Hash:
		return e.ref(x, x.overload, false)
	case *Ref:
		return e.ref(x, x.overload, false)
	case Weak:
		switch y := x.To.(type) {
		case *Array:
			return e.ref(y, y.overload, true)
		case *Hash:
			return e.ref(y, y.overload, true)
		case *Ref:
			return e.ref(y, y.overload, true)
		default:
			return fmt.Errorf("%w: Weak to %T", ErrUnsupportedValue, x.To)
		}
	default:
		return fmt.Errorf("%w: %T", ErrUnsupportedValue, v)
	}
	return nil
}

func (e *encoder) ref(p Value, overload, weak bool) error {
	e.tags++
	op := byte(sxRef)
	switch {
	case weak && overload:
		op = sxWeakOverload
	case weak:
		op = sxWeakRef
	case overload:
		op = sxOverload
	}
	e.buf = append(e.buf, op)
	if err := e.enter(); err != nil {
		return err
	}
	err := e.referent(p)
	e.depth--
	return err
}

func (e *encoder) bless(class string) {
	if class == "" {
		return
	}
	if i, ok := e.classes[class]; ok {
		e.buf = append(e.buf, sxIxBless)
		e.classLen(i)
		return
	}
	if e.classes == nil {
		e.classes = make(map[string]int)
	}
	e.classes[class] = len(e.classes)
	e.buf = append(e.buf, sxBless)
	e.classLen(len(class))
	e.buf = append(e.buf, class...)
}

func (e *encoder) classLen(n int) {
	if n <= 127 {
		e.buf = append(e.buf, byte(n))
		return
	}
	e.buf = append(e.buf, 0x80)
	e.u32(n)
}

// remember records the tag of a referent; it reports true (after writing
// SX_OBJECT) when p was written before.
func (e *encoder) remember(p Value) bool {
	for i := 0; i < e.nfew; i++ {
		if e.few[i].p == p {
			e.buf = append(e.buf, sxObject)
			e.u32(e.few[i].tag)
			return true
		}
	}
	if t, ok := e.seen[p]; ok {
		e.buf = append(e.buf, sxObject)
		e.u32(t)
		return true
	}
	if e.nfew < len(e.few) {
		e.few[e.nfew] = seenRef{p: p, tag: e.tags}
		e.nfew++
		return false
	}
	if e.seen == nil {
		e.seen = make(map[Value]int)
	}
	e.seen[p] = e.tags
	return false
}

// seenRef is one remembered referent and its tag.
type seenRef struct {
	p   Value
	tag int
}

// referent writes what the reference p points to.
func (e *encoder) referent(p Value) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer func() { e.depth-- }()
	switch x := p.(type) {
	case *Array:
		if x == nil {
			return fmt.Errorf("%w: nil *Array", ErrUnsupportedValue)
		}
		if e.remember(x) {
			return nil
		}
		e.bless(x.Class)
		e.tags++
		e.buf = append(e.buf, sxArray)
		e.u32(len(x.Elems))
		for _, el := range x.Elems {
			if err := e.item(el); err != nil {
				return err
			}
		}
	case *Hash:
		if x == nil {
			return fmt.Errorf("%w: nil *Hash", ErrUnsupportedValue)
		}
		if e.remember(x) {
			return nil
		}
		e.bless(x.Class)
		return e.hash(x)
	case *Ref:
		if x == nil {
			return fmt.Errorf("%w: nil *Ref", ErrUnsupportedValue)
		}
		if e.remember(x) {
			return nil
		}
		e.bless(x.Class)
		return e.item(x.Target)
	default:
		return fmt.Errorf("%w: reference to %T", ErrUnsupportedValue, p)
	}
	return nil
}

func (e *encoder) hash(h *Hash) error {
	flagged := h.flagged
	if !flagged {
		for i := range h.Entries {
			if h.Entries[i].UTF8 {
				flagged = true
				break
			}
		}
	}
	e.tags++
	if flagged {
		e.buf = append(e.buf, sxFlagHash, h.hashFlags)
	} else {
		e.buf = append(e.buf, sxHash)
	}
	e.u32(len(h.Entries))
	for i := range h.Entries {
		en := &h.Entries[i]
		if err := e.item(en.Value); err != nil {
			return err
		}
		e.key(en.Key, en.UTF8, flagged)
	}
	return nil
}

// key writes a hash key; utf marks a character key.
func (e *encoder) key(k string, utf, flagged bool) {
	if flagged {
		switch {
		case !utf:
			e.buf = append(e.buf, 0)
		default:
			if l, ok := latin1(k); ok {
				e.buf = append(e.buf, 2)
				k = l
			} else {
				e.buf = append(e.buf, 1)
			}
		}
	}
	e.u32(len(k))
	e.buf = append(e.buf, k...)
}
