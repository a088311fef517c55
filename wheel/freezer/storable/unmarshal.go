package storable

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Unmarshal thaws an nfreeze image into the Go value v points to, in the
// manner of encoding/json:
//
//   - references are followed transparently (a hash reference fills a
//     struct or map, an array reference a slice or array, a scalar
//     reference whatever its scalar fits);
//   - hashes fill structs (keys matched to the `perl` tag or the field
//     name, exactly first, then case-insensitively; unknown keys ignored)
//     and maps with string or integer keys;
//   - numbers and numeric strings fill integer and float fields the way
//     Perl converts them ("42", "1.5", "1e+300", "" as 0); integers and
//     strings fill string fields; byte strings keep their raw bytes;
//   - Perl truth fills bool: undef, "", "0" and 0 are false;
//   - undef sets the zero value (nil for pointers, maps, slices);
//   - a field of type Value (or *Hash, *Array, *Ref) receives the decoded
//     model unchanged; Object receives a blessed reference with its class;
//     Unmarshaler is honoured;
//   - into an any: undef is nil, integers int64, strings string, Perl
//     booleans bool, arrays []any, hashes map[string]any, references to
//     scalars their scalar, blessed references Object;
//   - shared and cyclic data (see the package documentation) convert each
//     referent once: into a slice, map or pointer (and []any,
//     map[string]any) every reference to one Perl array or hash gives the
//     same Go slice, map or pointer, so sharing is kept and a cycle points
//     back to its start; into a struct or Go array, which Go copies, a
//     further reference gets a copy and a cycle is an error wrapping
//     ErrCycle, as is a scalar reference that refers to itself.
func Unmarshal(data []byte, v any) error { return DecodeOptions{}.Unmarshal(data, v) }

// Unmarshal is like the package-level Unmarshal with these options.
func (o DecodeOptions) Unmarshal(data []byte, v any) error {
	val, err := o.Decode(data)
	if err != nil {
		return err
	}
	return UnmarshalValue(val, v)
}

// UnmarshalValue stores a decoded Value into the Go value v points to, as
// Unmarshal does.
func UnmarshalValue(val Value, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("storable: Unmarshal needs a non-nil pointer")
	}
	var u unmarshaler
	return u.assign(val, rv.Elem(), "")
}

// unmarshaler converts one Value. seen remembers every referent it
// converted, per destination type, so a referent reached twice converts
// once (shared data stays shared and costs nothing more) and a cycle ends
// at its own start instead of recursing. Referents Decode saw referenced
// once are not remembered: nothing else reaches them.
type unmarshaler struct {
	depth int
	// fresh marks the next destination as the target of a new Go pointer
	// (filled once, through the pointer's own seen entry).
	fresh bool
	seen  []seenEntry
	index map[seenKey]int // over seen, once it is more than a few
}

// seenKey is one conversion: a referent (*Array, *Hash, blessed *Ref) into
// a Go type, or into plain Go values (t nil).
type seenKey struct {
	p Value
	t reflect.Type
}

type seenEntry struct {
	key  seenKey
	a    any           // plain Go conversion
	rv   reflect.Value // typed conversion: the slice, map or pointer; a filled struct or array
	busy bool          // being filled and not yet usable: a value type or a blessed scalar
}

// maxConvertDepth bounds conversion recursion (a Value built in Go can
// nest deeper than Decode allows).
const maxConvertDepth = 2*DefaultMaxDepth + 8

// find is lookup when memo is set (the referent may be reached twice).
func (u *unmarshaler) find(memo bool, k seenKey) int {
	if !memo {
		return -1
	}
	return u.lookup(k)
}

func (u *unmarshaler) lookup(k seenKey) int {
	if u.index != nil {
		if i, ok := u.index[k]; ok {
			return i
		}
		return -1
	}
	for i := range u.seen {
		if u.seen[i].key == k {
			return i
		}
	}
	return -1
}

func (u *unmarshaler) remember(e seenEntry) int {
	if u.seen == nil {
		u.seen = make([]seenEntry, 0, 8)
	}
	u.seen = append(u.seen, e)
	i := len(u.seen) - 1
	switch {
	case u.index != nil:
		u.index[e.key] = i
	case len(u.seen) > 8:
		u.index = make(map[seenKey]int, 16)
		for j := range u.seen {
			u.index[u.seen[j].key] = j
		}
	}
	return i
}

func (u *unmarshaler) cycle(what string, path string) error {
	if path == "" {
		return fmt.Errorf("%w: %s", ErrCycle, what)
	}
	return fmt.Errorf("%w: %s at %s", ErrCycle, what, path)
}

func describe(v Value) string {
	switch x := v.(type) {
	case nil, Undef:
		return "undef"
	case Int:
		return "integer " + strconv.FormatInt(int64(x), 10)
	case Float:
		return "number " + formatFloat(float64(x))
	case Bytes:
		return fmt.Sprintf("string %q", truncate(string(x)))
	case String:
		return fmt.Sprintf("string %q", truncate(string(x)))
	case Bool:
		return fmt.Sprintf("boolean %v", bool(x))
	case *Array:
		return "array reference"
	case *Hash:
		return "hash reference"
	case *Ref:
		return "scalar reference"
	case Weak:
		return "weak reference"
	}
	return fmt.Sprintf("%T", v)
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// follow returns what a chain of unblessed scalar references and weak
// references leads to: a scalar, a container or a blessed reference. A
// chain that comes back to itself ($x = \$x) leads nowhere: ErrCycle.
func follow(v Value) (Value, error) {
	v, _, err := followShared(v)
	return v, err
}

// followShared is follow that also reports whether the chain went through
// a scalar reference reached more than once: what it leads to is then
// reached more than once too, however often the image refers to it
// directly ($r = \@a; $a[0] = $r), and must be converted once.
func followShared(v Value) (end Value, shared bool, err error) {
	slow := v
	for i := 0; ; i++ {
		next, ok := step(v)
		if !ok {
			return v, shared, nil
		}
		if r, isRef := v.(*Ref); isRef && !once(r) {
			shared = true
		}
		v = next
		if i%2 == 1 {
			slow, _ = step(slow)
			if v == slow {
				return nil, false, fmt.Errorf("%w: a scalar reference that refers to itself", ErrCycle)
			}
		}
	}
}

// step follows one weak or unblessed scalar reference.
func step(v Value) (Value, bool) {
	switch x := v.(type) {
	case Weak:
		return x.To, true
	case *Ref:
		if x != nil && x.Class == "" {
			return x.Target, true
		}
	}
	return v, false
}

func (u *unmarshaler) assign(src Value, dst reflect.Value, path string) error {
	// No defer: with assignValue's many returns it would not be
	// open-coded, and it cost a tenth of an Unmarshal. A panic ends the
	// whole Unmarshal, so depth need not survive one.
	u.depth++
	if u.depth > maxConvertDepth {
		u.depth--
		return fmt.Errorf("%w: at %s", ErrTooDeep, path)
	}
	err := u.assignValue(src, dst, path)
	u.depth--
	return err
}

func (u *unmarshaler) assignValue(src Value, dst reflect.Value, path string) error {
	t := dst.Type()
	fresh := u.fresh
	u.fresh = false
	// Model destinations receive the value unchanged.
	if t == valueType {
		if src == nil {
			dst.SetZero()
		} else {
			dst.Set(reflect.ValueOf(src))
		}
		return nil
	}
	ti := typeFlags(t)
	if ti.plain {
		goto plain
	}
	if dst.CanAddr() && reflect.PointerTo(t).Implements(unmarshalerType) {
		if t.Kind() == reflect.Pointer && dst.IsNil() {
			dst.Set(reflect.New(t.Elem()))
		}
		return dst.Addr().Interface().(Unmarshaler).UnmarshalPerl(src)
	}
	if t.Implements(unmarshalerType) && t.Kind() == reflect.Pointer {
		if dst.IsNil() {
			dst.Set(reflect.New(t.Elem()))
		}
		return dst.Interface().(Unmarshaler).UnmarshalPerl(src)
	}
	switch t {
	case reflect.TypeFor[*Array](), reflect.TypeFor[*Hash](), reflect.TypeFor[*Ref]():
		s, err := follow(src)
		if err != nil {
			if reflect.TypeOf(src) == t {
				dst.Set(reflect.ValueOf(src))
				return nil
			}
			return u.cycle("a scalar reference that refers to itself", path)
		}
		if reflect.TypeOf(s) == t {
			dst.Set(reflect.ValueOf(s))
			return nil
		}
		if reflect.TypeOf(src) == t {
			dst.Set(reflect.ValueOf(src))
			return nil
		}
		if isUndef(s) {
			dst.SetZero()
			return nil
		}
		return u.typeErr(src, t, path)
	case objectType:
		return u.object(src, dst, path)
	}
plain:
	s, shared, err := followShared(src)
	if r, ok := s.(*Ref); ok && err == nil && r.Class != "" {
		// A blessed scalar reference into a plain Go type: use the scalar.
		var again bool
		s, again, err = followShared(r.Target)
		shared = shared || again || !once(r)
	}
	if err != nil {
		return u.cycle("a scalar reference that refers to itself", path)
	}
	if isUndef(s) || isNilRef(s) {
		dst.SetZero()
		return nil
	}
	if plainContainer(s, t) {
		// The same conversion as inside an any: one memo entry for both,
		// so a referent reached as []any and as any converts once.
		a, err := u.toAny(src)
		if err != nil {
			return err
		}
		dst.Set(reflect.ValueOf(a))
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		if !isContainer(s) {
			if dst.IsNil() {
				dst.Set(reflect.New(t.Elem()))
			}
			return u.assign(src, dst.Elem(), path)
		}
		// One Go pointer per referent: shared stays shared, a cycle
		// points back.
		k := seenKey{s, t}
		memo := shared || !once(s)
		if i := u.find(memo, k); i >= 0 {
			dst.Set(u.seen[i].rv)
			return nil
		}
		if dst.IsNil() {
			dst.Set(reflect.New(t.Elem()))
		}
		if memo {
			u.remember(seenEntry{key: k, rv: reflect.NewAt(t.Elem(), dst.UnsafePointer())})
		}
		u.fresh = true
		return u.assign(src, dst.Elem(), path)
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return u.typeErr(src, t, path)
		}
		a, err := u.toAny(src)
		if err != nil {
			return err
		}
		if a == nil {
			dst.SetZero()
		} else {
			dst.Set(reflect.ValueOf(a))
		}
		return nil
	case reflect.Bool:
		dst.SetBool(truth(s))
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := toInt(s)
		if !ok || dst.OverflowInt(i) {
			return u.typeErr(src, t, path)
		}
		dst.SetInt(i)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, ok := toUint(s)
		if !ok || dst.OverflowUint(n) {
			return u.typeErr(src, t, path)
		}
		dst.SetUint(n)
		return nil
	case reflect.Float32, reflect.Float64:
		f, ok := toFloat(s)
		if !ok {
			return u.typeErr(src, t, path)
		}
		dst.SetFloat(f)
		return nil
	case reflect.String:
		str, ok := rawString(s)
		if !ok {
			return u.typeErr(src, t, path)
		}
		dst.SetString(str)
		return nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			if str, ok := rawString(s); ok {
				dst.SetBytes([]byte(str))
				return nil
			}
		}
		a, ok := s.(*Array)
		if !ok {
			return u.typeErr(src, t, path)
		}
		k := seenKey{s, t}
		memo := shared || !once(s)
		if i := u.find(memo, k); i >= 0 {
			dst.Set(u.seen[i].rv)
			return nil
		}
		sl := reflect.MakeSlice(t, len(a.Elems), len(a.Elems))
		if memo {
			u.remember(seenEntry{key: k, rv: sl})
		}
		for i, el := range a.Elems {
			if err := u.assign(el, sl.Index(i), ""); err != nil {
				return prefixPath(err, "["+strconv.Itoa(i)+"]")
			}
		}
		dst.Set(sl)
		return nil
	case reflect.Array:
		a, ok := s.(*Array)
		if !ok {
			return u.typeErr(src, t, path)
		}
		if fresh || once(s) {
			return u.fillArray(a, dst)
		}
		k := seenKey{s, t}
		if i := u.lookup(k); i >= 0 {
			if u.seen[i].busy {
				return u.cycle("an array that contains itself into Go array "+t.String(), path)
			}
			dst.Set(u.seen[i].rv)
			return nil
		}
		done := u.remember(seenEntry{key: k, busy: true})
		if err := u.fillArray(a, dst); err != nil {
			return err
		}
		u.filled(done, dst)
		return nil
	case reflect.Map:
		h, ok := s.(*Hash)
		if !ok {
			return u.typeErr(src, t, path)
		}
		k := seenKey{s, t}
		memo := shared || !once(s)
		if i := u.find(memo, k); i >= 0 {
			dst.Set(u.seen[i].rv)
			return nil
		}
		m := reflect.MakeMapWithSize(t, len(h.Entries))
		if memo {
			u.remember(seenEntry{key: k, rv: m})
		}
		kt := t.Key()
		for _, e := range h.Entries {
			k := reflect.New(kt).Elem()
			switch kt.Kind() {
			case reflect.String:
				k.SetString(e.Key)
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				i, err := strconv.ParseInt(e.Key, 10, 64)
				if err != nil || k.OverflowInt(i) {
					return &UnmarshalTypeError{Perl: fmt.Sprintf("hash key %q", e.Key), Type: kt.String(), Path: path}
				}
				k.SetInt(i)
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
				n, err := strconv.ParseUint(e.Key, 10, 64)
				if err != nil || k.OverflowUint(n) {
					return &UnmarshalTypeError{Perl: fmt.Sprintf("hash key %q", e.Key), Type: kt.String(), Path: path}
				}
				k.SetUint(n)
			default:
				return &UnmarshalTypeError{Perl: "hash", Type: t.String(), Path: path}
			}
			val := reflect.New(t.Elem()).Elem()
			if err := u.assign(e.Value, val, ""); err != nil {
				return prefixPath(err, "{"+e.Key+"}")
			}
			m.SetMapIndex(k, val)
		}
		dst.Set(m)
		return nil
	case reflect.Struct:
		h, ok := s.(*Hash)
		if !ok {
			return u.typeErr(src, t, path)
		}
		if fresh || once(s) {
			return u.fillStruct(h, dst)
		}
		k := seenKey{s, t}
		if i := u.lookup(k); i >= 0 {
			if u.seen[i].busy {
				return u.cycle("a hash that contains itself into struct "+t.String(), path)
			}
			dst.Set(u.seen[i].rv)
			return nil
		}
		done := u.remember(seenEntry{key: k, busy: true})
		if err := u.fillStruct(h, dst); err != nil {
			return err
		}
		u.filled(done, dst)
		return nil
	}
	return u.typeErr(src, t, path)
}

// fillStruct stores a hash's entries in the fields of struct dst.
func (u *unmarshaler) fillStruct(h *Hash, dst reflect.Value) error {
	info := structInfo(dst.Type())
	for _, e := range h.Entries {
		i, ok := info.byName[e.Key]
		if !ok {
			i = -1
			for j := range info.fields {
				if strings.EqualFold(info.fields[j].name, e.Key) {
					i = j
					break
				}
			}
			if i < 0 {
				continue
			}
		}
		fv := fieldForSet(dst, info.fields[i].index)
		if err := u.assign(e.Value, fv, ""); err != nil {
			return prefixPath(err, "."+info.fields[i].name)
		}
	}
	return nil
}

// fillArray stores an array's elements in Go array dst.
func (u *unmarshaler) fillArray(a *Array, dst reflect.Value) error {
	for i := 0; i < dst.Len(); i++ {
		if i < len(a.Elems) {
			if err := u.assign(a.Elems[i], dst.Index(i), ""); err != nil {
				return prefixPath(err, "["+strconv.Itoa(i)+"]")
			}
		} else {
			dst.Index(i).SetZero()
		}
	}
	return nil
}

// filled records the finished value of seen entry i: a further reference
// to the same referent gets a copy of it.
func (u *unmarshaler) filled(i int, dst reflect.Value) {
	u.seen[i].rv, u.seen[i].busy = dst, false
}

func isContainer(v Value) bool {
	switch x := v.(type) {
	case *Array:
		return x != nil
	case *Hash:
		return x != nil
	}
	return false
}

// isNilRef reports a nil *Array, *Hash or *Ref, which converts as undef.
func isNilRef(v Value) bool {
	switch x := v.(type) {
	case *Array:
		return x == nil
	case *Hash:
		return x == nil
	case *Ref:
		return x == nil
	}
	return false
}

// fieldForSet follows an index path, allocating nil embedded pointers.
func fieldForSet(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

func (u *unmarshaler) object(src Value, dst reflect.Value, path string) error {
	s := src
	if w, ok := s.(Weak); ok {
		s = w.To
	}
	var class string
	switch x := s.(type) {
	case *Array:
		class = x.Class
	case *Hash:
		class = x.Class
	case *Ref:
		class = x.Class
	}
	o := dst.Addr().Interface().(*Object)
	o.Class = class
	if o.Value != nil {
		rv := reflect.ValueOf(o.Value)
		if rv.Kind() == reflect.Pointer && !rv.IsNil() {
			return u.assign(unbless(s), rv.Elem(), path)
		}
	}
	a, err := u.toAny(s)
	if err != nil {
		return err
	}
	if obj, ok := a.(Object); ok && class != "" {
		a = obj.Value
	}
	o.Value = a
	return nil
}

// unbless returns an unblessed view of a blessed reference: a shallow copy
// of a container, the target of a scalar reference.
func unbless(v Value) Value {
	switch x := v.(type) {
	case *Array:
		if x != nil && x.Class != "" {
			c := *x
			c.Class = ""
			return &c
		}
	case *Hash:
		if x != nil && x.Class != "" {
			c := *x
			c.Class = ""
			return &c
		}
	case *Ref:
		if x != nil && x.Class != "" {
			return x.Target
		}
	}
	return v
}

type typeInfo struct {
	// plain: not Value, Object, a model pointer, nor an Unmarshaler.
	plain bool
}

var typeCache sync.Map // reflect.Type -> typeInfo

func typeFlags(t reflect.Type) typeInfo {
	// Predeclared types and unnamed composites (other than pointers and
	// interfaces) have no methods: no cache lookup needed. PkgPath is ""
	// for both (and cheaper than Name).
	if k := t.Kind(); k != reflect.Pointer && k != reflect.Interface && t.PkgPath() == "" {
		return typeInfo{plain: true}
	}
	if c, ok := typeCache.Load(t); ok {
		return c.(typeInfo)
	}
	special := t == valueType || t == objectType || t.Implements(unmarshalerType) ||
		reflect.PointerTo(t).Implements(unmarshalerType) ||
		t == reflect.TypeFor[*Array]() || t == reflect.TypeFor[*Hash]() || t == reflect.TypeFor[*Ref]()
	ti := typeInfo{plain: !special}
	typeCache.Store(t, ti)
	return ti
}
