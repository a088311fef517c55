package storable

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// Storable opcodes (network order subset plus the rarer ones we accept).
const (
	sxObject        = 0x00
	sxLScalar       = 0x01
	sxArray         = 0x02
	sxHash          = 0x03
	sxRef           = 0x04
	sxUndef         = 0x05
	sxInteger       = 0x06
	sxDouble        = 0x07
	sxByte          = 0x08
	sxNetint        = 0x09
	sxScalar        = 0x0a
	sxSvUndef       = 0x0e
	sxSvYes         = 0x0f
	sxSvNo          = 0x10
	sxBless         = 0x11
	sxIxBless       = 0x12
	sxOverload      = 0x14
	sxUTF8Str       = 0x17
	sxLUTF8Str      = 0x18
	sxFlagHash      = 0x19
	sxWeakRef       = 0x1b
	sxWeakOverload  = 0x1c
	sxSvUndefElem   = 0x1f
	sxBooleanTrue   = 0x22
	sxBooleanFalse  = 0x23
	storableMajor   = 2
	storableMinor   = 11 // what we write
	maxReadMinor    = 12 // newest we read (Storable 3.32)
	netorderHeader0 = storableMajor<<1 | 1
)

// DefaultMaxDepth is the nesting limit Decode applies when
// DecodeOptions.MaxDepth is 0. Each array, hash and reference level counts
// one. Perl's own limits are in the thousands; IKC messages nest a few
// levels.
const DefaultMaxDepth = 1000

// DecodeOptions configures decoding. The zero value is ready to use.
type DecodeOptions struct {
	// MaxDepth limits nesting (0 means DefaultMaxDepth).
	MaxDepth int
	// Limits is the budget of one image (zero fields: DefaultLimits of
	// its length). Decoding stops with ErrBudget as soon as it is spent.
	Limits Limits
}

// Decode thaws an nfreeze image into a Value: the reference Perl's thaw
// would return. A hash or array root gives *Hash or *Array; a scalar root
// gives a *Ref to it. Strings in the result share one copy of data, so the
// caller may reuse data afterwards. The default budget of len(data) bounds
// what it builds (see Limits).
func Decode(data []byte) (Value, error) { return DecodeOptions{}.Decode(data) }

// DecodeLimits is Decode with the budget l instead of the default one.
func DecodeLimits(data []byte, l Limits) (Value, error) {
	return DecodeOptions{Limits: l}.Decode(data)
}

// Decode is like the package-level Decode with these options.
func (o DecodeOptions) Decode(data []byte) (Value, error) { return o.decode(data, nil) }

// decode thaws data with a pooled decoder, allocating from a if not nil.
func (o DecodeOptions) decode(data []byte, a *arena) (Value, error) {
	if len(data) > math.MaxInt32 {
		return nil, &SyntaxError{Err: ErrTooLarge, Detail: "images of 2 GiB and more are not supported"}
	}
	d := decoderPool.Get().(*decoder)
	d.s, d.maxDepth, d.arena = string(data), o.MaxDepth, a
	if d.maxDepth <= 0 {
		d.maxDepth = DefaultMaxDepth
	}
	d.budget = o.Limits.Budget(len(data))
	v, err := d.decode()
	d.release()
	return v, err
}

// Decoder decodes a stream of images one at a time, reusing the memory of
// small ones: the containers and boxed scalars of a Value returned by
// Decode are overwritten by the next Decode call on the same Decoder, so
// the caller must be done with the Value (or have converted it, e.g. with
// UnmarshalValue) by then. Strings taken out of a Value stay valid. For
// IKC frames, which a connection handles one after the other, this saves
// the allocation (and the garbage collection) of every frame's objects.
// A Decoder is not safe for concurrent use; its zero value is ready.
type Decoder struct {
	Options DecodeOptions
	a       arena
}

// Decode thaws data like DecodeOptions.Decode; see Decoder for how long
// the result is valid.
func (x *Decoder) Decode(data []byte) (Value, error) {
	x.a.reset()
	return x.Options.decode(data, &x.a)
}

type decoder struct {
	s   string
	pos int
	// pos4 maps each tag to the offset of its scalar opcode (>= 0) or to
	// -(i+1) for ptrs[i], the containers, scalar boxes and references.
	// Scalars are re-read on the rare back-reference instead of being kept,
	// which keeps the table free of pointers (cheap for the GC).
	pos4     []int32
	ptrs     []Value
	classes  []string
	depth    int
	maxDepth int
	box      *Ref // scalar container to register for the next tag
	budget   Budget
	strSlab  []string
	intSlab  []int64
	strUsed  int
	intUsed  int
	arena    *arena
}

// Decoders are pooled for their tag tables; nothing decoded stays
// reachable from a pooled decoder.
var decoderPool = sync.Pool{New: func() any {
	return &decoder{pos4: make([]int32, 0, 64), ptrs: make([]Value, 0, 16)}
}}

func (d *decoder) release() {
	clear(d.ptrs)
	clear(d.classes)
	pos4, ptrs, classes := d.pos4[:0], d.ptrs[:0], d.classes[:0]
	if cap(pos4) > 1<<14 {
		pos4 = make([]int32, 0, 64)
	}
	if cap(ptrs) > 1<<12 {
		ptrs = make([]Value, 0, 16)
	}
	*d = decoder{pos4: pos4, ptrs: ptrs, classes: classes}
	decoderPool.Put(d)
}

func (d *decoder) fail(err error, format string, args ...any) error {
	return &SyntaxError{Offset: d.pos, Err: err, Detail: fmt.Sprintf(format, args...)}
}

// charge turns a budget overdraft (a non-empty description) into a
// *SyntaxError wrapping ErrBudget.
func (d *decoder) charge(detail string) error {
	if detail == "" {
		return nil
	}
	return d.fail(ErrBudget, "%s", detail)
}

func (d *decoder) decode() (Value, error) {
	if len(d.s) < 2 {
		if len(d.s) == 1 && d.s[0] != netorderHeader0 {
			return nil, d.fail(ErrBadMagic, "first byte 0x%02x", d.s[0])
		}
		return nil, d.fail(ErrTruncated, "header needs 2 bytes")
	}
	major, minor := d.s[0], d.s[1]
	switch {
	case major == netorderHeader0:
	case major == storableMajor<<1:
		return nil, d.fail(ErrNativeOrder, "header 0x%02x", major)
	case major&1 == 1 && major>>1 > storableMajor && major>>1 < 8:
		return nil, d.fail(ErrVersion, "binary major %d", major>>1)
	default:
		return nil, d.fail(ErrBadMagic, "first byte 0x%02x", major)
	}
	if minor > maxReadMinor {
		return nil, d.fail(ErrVersion, "Storable binary image v%d.%d more recent than supported v%d.%d", storableMajor, minor, storableMajor, maxReadMinor)
	}
	d.pos = 2
	if err := d.charge(d.budget.take(1, 0)); err != nil {
		return nil, err
	}
	v, err := d.referent()
	if err != nil {
		return nil, err
	}
	if d.pos != len(d.s) {
		return nil, d.fail(ErrTrailingData, "%d bytes", len(d.s)-d.pos)
	}
	return v, nil
}

func (d *decoder) byte() (byte, error) {
	if d.pos >= len(d.s) {
		return 0, d.fail(ErrTruncated, "")
	}
	b := d.s[d.pos]
	d.pos++
	return b, nil
}

func (d *decoder) u32() (uint32, error) {
	if len(d.s)-d.pos < 4 {
		return 0, d.fail(ErrTruncated, "need 4-byte length")
	}
	p := d.pos
	v := uint32(d.s[p])<<24 | uint32(d.s[p+1])<<16 | uint32(d.s[p+2])<<8 | uint32(d.s[p+3])
	d.pos += 4
	return v, nil
}

func (d *decoder) str(n uint64) (string, error) {
	if n > uint64(len(d.s)-d.pos) {
		return "", d.fail(ErrTruncated, "string of %d bytes, %d left", n, len(d.s)-d.pos)
	}
	s := d.s[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return s, nil
}

// tagPtr registers a pointer value (container, scalar box, or nil for a
// reference whose referent is still being read) under the next tag and
// returns its index in ptrs. A pending scalar box takes the tag instead.
func (d *decoder) tagPtr(v Value) int {
	if d.box != nil {
		v = d.box
		d.box = nil
	}
	d.ptrs = append(d.ptrs, v)
	d.pos4 = append(d.pos4, -int32(len(d.ptrs)))
	return len(d.ptrs) - 1
}

// tagScalar registers the scalar whose opcode is at off.
func (d *decoder) tagScalar(off int) {
	if d.box != nil {
		d.tagPtr(nil)
		return
	}
	d.pos4 = append(d.pos4, int32(off))
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > d.maxDepth {
		return d.fail(ErrTooDeep, "limit %d", d.maxDepth)
	}
	return nil
}

// referent reads the thing a reference points to and returns the Value that
// stands for a reference to it (*Array, *Hash or *Ref).
func (d *decoder) referent() (Value, error) {
	if d.pos >= len(d.s) {
		return nil, d.fail(ErrTruncated, "")
	}
	op := d.s[d.pos]
	switch op {
	case sxArray, sxHash, sxFlagHash:
		d.pos++
		return d.container(op, "")
	case sxBless, sxIxBless:
		d.pos++
		class, err := d.class(op)
		if err != nil {
			return nil, err
		}
		if err := d.enter(); err != nil {
			return nil, err
		}
		if d.pos < len(d.s) {
			if n := d.s[d.pos]; n == sxArray || n == sxHash || n == sxFlagHash {
				d.pos++
				v, err := d.container(n, class)
				d.depth--
				return v, err
			}
		}
		v, err := d.referent()
		d.depth--
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case *Array:
			x.Class = class
		case *Hash:
			x.Class = class
		case *Ref:
			x.Class = class
		}
		return v, nil
	case sxObject:
		d.pos++
		v, err := d.backref()
		if err != nil {
			return nil, err
		}
		switch v.(type) {
		case *Array, *Hash, *Ref:
			return v, nil
		}
		// A reference to a scalar that was stored in a container slot:
		// Perl shares the slot; the model gives a fresh scalar box holding
		// the same value.
		if err := d.charge(d.budget.take(1, refPrice)); err != nil {
			return nil, err
		}
		return &Ref{Target: v, refs: refsOne}, nil
	}
	// A scalar (or a reference, which is a scalar) as referent: box it.
	if err := d.charge(d.budget.take(1, refPrice)); err != nil {
		return nil, err
	}
	box := &Ref{refs: refsOne}
	d.box = box
	v, err := d.item()
	if err != nil {
		return nil, err
	}
	d.box = nil
	box.Target = v
	return box, nil
}

func (d *decoder) class(op byte) (string, error) {
	n, err := d.byte()
	if err != nil {
		return "", err
	}
	ln := uint64(n)
	if n&0x80 != 0 {
		l, err := d.u32()
		if err != nil {
			return "", err
		}
		ln = uint64(l)
	}
	if op == sxIxBless {
		if ln >= uint64(len(d.classes)) {
			return "", d.fail(ErrBadClassIndex, "index %d of %d classes", ln, len(d.classes))
		}
		return d.classes[ln], nil
	}
	c, err := d.str(ln)
	if err != nil {
		return "", err
	}
	if err := d.charge(d.budget.take(0, classPrice)); err != nil {
		return "", err
	}
	d.classes = append(d.classes, c)
	return c, nil
}

func (d *decoder) backref() (Value, error) {
	t, err := d.u32()
	if err != nil {
		return nil, err
	}
	if int32(t) < 0 || int64(t) >= int64(len(d.pos4)) {
		return nil, d.fail(ErrBadBackref, "tag %d, %d objects seen", int32(t), len(d.pos4))
	}
	if off := d.pos4[t]; off >= 0 {
		return d.scalarAt(int(off))
	}
	v := d.ptrs[-d.pos4[t]-1]
	switch x := v.(type) {
	case nil:
		// A reference slot still being read (only reachable through
		// aliasing a container slot in a cycle): undef is the best view.
		return Undef{}, nil
	case *Array:
		x.refs = refsMany
	case *Hash:
		x.refs = refsMany
	case *Ref:
		x.refs = refsMany
	}
	return v, nil
}

func (d *decoder) container(op byte, class string) (Value, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	v, err := d.containerBody(op, class)
	d.depth--
	return v, err
}

func (d *decoder) containerBody(op byte, class string) (Value, error) {
	switch op {
	case sxArray:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		if uint64(n) > uint64(len(d.s)-d.pos) {
			return nil, d.fail(ErrTooLarge, "array of %d items, %d bytes left", n, len(d.s)-d.pos)
		}
		if err := d.charge(d.budget.array(int(n))); err != nil {
			return nil, err
		}
		// Each element takes at least one tag: grow the table once.
		d.pos4 = slices.Grow(d.pos4, int(n)+1)
		a := d.newArray(int(n))
		a.Class, a.refs = class, refsOne
		d.tagPtr(a)
		for i := range a.Elems {
			v, err := d.item()
			if err != nil {
				return nil, err
			}
			a.Elems[i] = v
		}
		return a, nil
	default:
		var flagged bool
		var hashFlags byte
		if op == sxFlagHash {
			f, err := d.byte()
			if err != nil {
				return nil, err
			}
			flagged, hashFlags = true, f
		}
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		min := uint64(5) // value op + 4-byte key length
		if op == sxFlagHash {
			min = 6
		}
		if uint64(n)*min > uint64(len(d.s)-d.pos) {
			return nil, d.fail(ErrTooLarge, "hash of %d pairs, %d bytes left", n, len(d.s)-d.pos)
		}
		if err := d.charge(d.budget.hash(int(n))); err != nil {
			return nil, err
		}
		d.pos4 = slices.Grow(d.pos4, int(n)+1)
		h := d.newHash(int(n))
		h.Class, h.flagged, h.hashFlags, h.refs = class, flagged, hashFlags, refsOne
		d.tagPtr(h)
		for i := range h.Entries {
			v, err := d.item()
			if err != nil {
				return nil, err
			}
			e := &h.Entries[i]
			e.Value = v
			var kf byte
			if op == sxFlagHash {
				if kf, err = d.byte(); err != nil {
					return nil, err
				}
				if kf&^0x03 != 0 || kf == 0x03 {
					return nil, d.fail(ErrBadFlags, "key flags 0x%02x", kf)
				}
			}
			kl, err := d.u32()
			if err != nil {
				return nil, err
			}
			k, err := d.str(uint64(kl))
			if err != nil {
				return nil, err
			}
			switch kf {
			case 0:
				e.Key = k
			case 1:
				e.Key, e.UTF8 = k, true
			case 2:
				e.Key, e.UTF8 = fromLatin1(k), true
				if err := d.charge(d.budget.take(0, len(e.Key))); err != nil {
					return nil, err
				}
			}
		}
		return h, nil
	}
}

// item reads one value in a scalar slot (array element, hash value, root
// scalar, referent of a reference to a scalar).
func (d *decoder) item() (Value, error) {
	start := d.pos
	op, err := d.byte()
	if err != nil {
		return nil, err
	}
	switch op {
	case sxUndef:
		d.tagScalar(start)
		return Undef{}, nil
	case sxSvUndef, sxSvUndefElem:
		d.tagScalar(start)
		return Undef{Immortal: true}, nil
	case sxSvYes, sxBooleanTrue:
		d.tagScalar(start)
		return Bool(true), nil
	case sxSvNo, sxBooleanFalse:
		d.tagScalar(start)
		return Bool(false), nil
	case sxByte:
		b, err := d.byte()
		if err != nil {
			return nil, err
		}
		d.tagScalar(start)
		return d.intValue(int64(b) - 128)
	case sxNetint:
		u, err := d.u32()
		if err != nil {
			return nil, err
		}
		d.tagScalar(start)
		return d.intValue(int64(int32(u)))
	case sxScalar, sxUTF8Str:
		n, err := d.byte()
		if err != nil {
			return nil, err
		}
		s, err := d.str(uint64(n))
		if err != nil {
			return nil, err
		}
		d.tagScalar(start)
		return d.stringValue(s, op == sxUTF8Str)
	case sxLScalar, sxLUTF8Str:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		s, err := d.str(uint64(n))
		if err != nil {
			return nil, err
		}
		d.tagScalar(start)
		return d.stringValue(s, op == sxLUTF8Str)
	case sxRef, sxWeakRef, sxOverload, sxWeakOverload:
		t := d.tagPtr(nil)
		box := d.ptrs[t]
		if err := d.enter(); err != nil {
			return nil, err
		}
		v, err := d.referent()
		d.depth--
		if err != nil {
			return nil, err
		}
		if box == nil {
			d.ptrs[t] = v
		}
		if op == sxOverload || op == sxWeakOverload {
			switch x := v.(type) {
			case *Array:
				x.overload = true
			case *Hash:
				x.overload = true
			case *Ref:
				x.overload = true
			}
		}
		if op == sxWeakRef || op == sxWeakOverload {
			return Weak{To: v}, nil
		}
		return v, nil
	case sxObject:
		v, err := d.backref()
		if err != nil {
			return nil, err
		}
		if d.box != nil {
			// Root-level back-reference cannot happen; keep the box rule.
			d.box = nil
		}
		return v, nil
	case sxArray, sxHash, sxFlagHash:
		// A container directly in a slot: only XS code builds that. Treat
		// it as a reference to the container.
		d.box = nil
		return d.container(op, "")
	case sxBless, sxIxBless:
		d.pos--
		d.box = nil
		return d.referent()
	}
	d.pos--
	return nil, d.fail(ErrUnknownOpcode, "opcode 0x%02x", op)
}

// stringValue boxes a string scalar, charging the budget.
func (d *decoder) stringValue(s string, utf bool) (Value, error) {
	if err := d.charge(d.budget.take(0, scalarPrice)); err != nil {
		return nil, err
	}
	return d.boxString(s, utf), nil
}

// intValue boxes an integer, charging the budget for those that take
// memory.
func (d *decoder) intValue(i int64) (Value, error) {
	if i < 0 || i >= 256 {
		if err := d.charge(d.budget.take(0, intPrice)); err != nil {
			return nil, err
		}
	}
	return d.boxInt(i), nil
}

// scalarAt re-reads the scalar whose opcode is at off (for a
// back-reference to it), without registering tags.
func (d *decoder) scalarAt(off int) (Value, error) {
	saved, savedPos4, savedBox := d.pos, len(d.pos4), d.box
	d.pos, d.box = off, nil
	v, err := d.item()
	d.pos, d.pos4, d.box = saved, d.pos4[:savedPos4], savedBox
	return v, err
}

// arena holds the objects of a small message (an IKC request has a few
// hashes, arrays and strings) in one allocation instead of one each.
type arena struct {
	hashes  [3]Hash
	arrays  [2]Array
	entries [8]Entry
	elems   [4]Value
	strs    [6]string
	ints    [2]int64
	nh, na  uint8
	ne, nv  uint8
	ns, ni  uint8
}

// reset makes a used arena ready for the next image (Decoder): the used
// slots are zeroed, so nothing of the last image stays reachable.
func (a *arena) reset() {
	clear(a.hashes[:a.nh])
	clear(a.arrays[:a.na])
	clear(a.entries[:a.ne])
	clear(a.elems[:a.nv])
	clear(a.strs[:a.ns])
	a.nh, a.na, a.ne, a.nv, a.ns, a.ni = 0, 0, 0, 0, 0, 0
}

// arenaLimit is the largest image decoded with an arena.
const arenaLimit = 512

func (d *decoder) getArena() *arena {
	if d.arena == nil && len(d.s) <= arenaLimit {
		d.arena = &arena{}
	}
	return d.arena
}

func (d *decoder) newHash(n int) *Hash {
	if a := d.getArena(); a != nil && int(a.nh) < len(a.hashes) && int(a.ne)+n <= len(a.entries) {
		h := &a.hashes[a.nh]
		a.nh++
		e := int(a.ne)
		h.Entries = a.entries[e : e+n : e+n]
		a.ne += uint8(n)
		return h
	}
	return newHash(n)
}

func (d *decoder) newArray(n int) *Array {
	if a := d.getArena(); a != nil && int(a.na) < len(a.arrays) && int(a.nv)+n <= len(a.elems) {
		x := &a.arrays[a.na]
		a.na++
		v := int(a.nv)
		x.Elems = a.elems[v : v+n : v+n]
		a.nv += uint8(n)
		return x
	}
	return newArray(n)
}

// Small arrays and hashes are allocated together with their element
// storage: one allocation instead of two for the common IKC shapes.
type array2 struct {
	a Array
	e [2]Value
}

type array4 struct {
	a Array
	e [4]Value
}

type hash1 struct {
	h Hash
	e [1]Entry
}

type hash2 struct {
	h Hash
	e [2]Entry
}

type hash4 struct {
	h Hash
	e [4]Entry
}

type hash8 struct {
	h Hash
	e [8]Entry
}

func newArray(n int) *Array {
	switch {
	case n <= 2:
		x := &array2{}
		x.a.Elems = x.e[:n:n]
		return &x.a
	case n <= 4:
		x := &array4{}
		x.a.Elems = x.e[:n:n]
		return &x.a
	}
	return &Array{Elems: make([]Value, n)}
}

func newHash(n int) *Hash {
	switch {
	case n == 0:
		return &Hash{Entries: []Entry{}}
	case n == 1:
		x := &hash1{}
		x.h.Entries = x.e[:]
		return &x.h
	case n == 2:
		x := &hash2{}
		x.h.Entries = x.e[:]
		return &x.h
	case n <= 4:
		x := &hash4{}
		x.h.Entries = x.e[:n:n]
		return &x.h
	case n <= 8:
		x := &hash8{}
		x.h.Entries = x.e[:n:n]
		return &x.h
	}
	return &Hash{Entries: make([]Entry, n)}
}
