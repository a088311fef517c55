package storable

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// Marshaler is implemented by types that turn themselves into a Perl value.
type Marshaler interface {
	MarshalPerl() (Value, error)
}

// Unmarshaler is implemented by types that build themselves from a Perl
// value. UnmarshalPerl receives the value as decoded (references included).
type Unmarshaler interface {
	UnmarshalPerl(Value) error
}

// Object is a Go value blessed into a Perl class. Marshal writes Value (a
// struct, map or slice; anything else is blessed as a scalar reference) as
// an object of Class. Unmarshal into an Object sets Class and decodes the
// object's contents into Value: into what it points to if it is a non-nil
// pointer, else as into an any. Unmarshal into an any gives Object for
// every blessed reference.
type Object struct {
	Class string
	Value any
}

// Marshal returns nfreeze(\$v) for a Go value, the way a Perl programmer
// would expect the data to look after thaw:
//
//   - bool becomes "1" or "" (Perl's own true and false as copied values);
//   - integers become Perl integers (outside int32, decimal strings, as
//     Perl itself sends them); floats follow Perl's rules (see Float);
//   - a string becomes a byte string when ASCII or not valid UTF-8, a
//     character string otherwise; []byte a byte string;
//   - slices and arrays become array references (nil slices empty arrays),
//     maps hash references with keys in sorted order (nil maps empty hashes),
//     structs hash references in field order;
//   - pointers and interfaces are followed, nil becomes undef;
//   - Value types are written as they are (so a decoded Value round trips),
//     Object blesses, Marshaler is honoured.
//
// At the top level a struct, map, slice or array is the frozen referent
// itself, so Perl's thaw returns a hash or array reference; a scalar is
// frozen as a reference to it. Struct fields use the tag `perl:"name"`
// with options omitempty, and "-" to skip, like encoding/json.
//
// Shared Go containers are written once, as Storable shares referents:
// the same slice (same first element and length), the same map and the
// same struct pointer become one Perl array or hash, and every further
// occurrence a reference to it, so a cycle through them is a Perl cycle.
// A pointer that leads back to itself with no container on the way
// (x = &x in an any) fails with ErrCycle.
func Marshal(v any) ([]byte, error) {
	return AppendMarshal(make([]byte, 0, 128), v)
}

// AppendMarshal is Marshal appending to dst.
func AppendMarshal(dst []byte, v any) ([]byte, error) {
	if pv, ok := v.(Value); ok {
		return AppendEncode(dst, pv)
	}
	e := encoder{buf: append(dst, netorderHeader0, storableMinor), maxDepth: 2*DefaultMaxDepth + 8}
	if err := e.goRoot(reflect.ValueOf(v)); err != nil {
		return nil, err
	}
	return e.buf, nil
}

var (
	anySliceWord    = typeWordOf(reflect.TypeFor[[]any]())
	anyMapWord      = typeWordOf(reflect.TypeFor[map[string]any]())
	valueType       = reflect.TypeFor[Value]()
	marshalerType   = reflect.TypeFor[Marshaler]()
	unmarshalerType = reflect.TypeFor[Unmarshaler]()
	objectType      = reflect.TypeFor[Object]()
	bytesType       = reflect.TypeFor[[]byte]()
)

func (e *encoder) goRoot(rv reflect.Value) error {
	for rv.IsValid() && (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface) && !rv.IsNil() && !special(rv.Type()) {
		if rv.Kind() == reflect.Pointer {
			if el := rv.Elem(); el.Kind() == reflect.Struct && !special(el.Type()) {
				// The root struct is tag 0: a pointer back to it is a
				// back-reference.
				e.shareGo(goKey{t: typeWordOf(rv.Type()), p: rv.UnsafePointer()})
			} else if err := e.hop(rv); err != nil {
				return err
			}
		}
		rv = rv.Elem()
	}
	e.chain = e.chain[:0]
	if !rv.IsValid() {
		return e.item(nil)
	}
	if special(rv.Type()) {
		x := rv.Interface()
		switch y := x.(type) {
		case Value:
			switch y.(type) {
			case *Array, *Hash, *Ref:
				return e.referent(y)
			}
			return e.item(y)
		case Object:
			return e.object(y, true)
		case Marshaler:
			pv, err := y.MarshalPerl()
			if err != nil {
				return err
			}
			switch pv.(type) {
			case *Array, *Hash, *Ref:
				return e.referent(pv)
			}
			return e.item(pv)
		}
	}
	switch rv.Kind() {
	case reflect.Struct, reflect.Map, reflect.Array:
		return e.goContainer(rv, "")
	case reflect.Slice:
		if rv.Type().Elem().Kind() != reflect.Uint8 {
			return e.goContainer(rv, "")
		}
	}
	return e.goValue(rv)
}

func special(t reflect.Type) bool {
	return t == objectType || t.Implements(valueType) || t.Implements(marshalerType)
}

// object writes a blessed Go value; at the root there is no SX_REF.
func (e *encoder) object(o Object, root bool) error {
	if pv, ok := o.Value.(Value); ok {
		var r Value
		switch x := pv.(type) {
		case *Array:
			c := *x
			c.Class = o.Class
			r = &c
		case *Hash:
			c := *x
			c.Class = o.Class
			r = &c
		case *Ref:
			c := *x
			c.Class = o.Class
			r = &c
		default:
			r = &Ref{Class: o.Class, Target: pv}
		}
		if root {
			return e.referent(r)
		}
		return e.item(r)
	}
	rv := reflect.ValueOf(o.Value)
	for rv.IsValid() && (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface) && !rv.IsNil() {
		rv = rv.Elem()
	}
	if !root {
		e.tags++
		e.buf = append(e.buf, sxRef)
	}
	if rv.IsValid() {
		switch rv.Kind() {
		case reflect.Struct, reflect.Map, reflect.Array:
			return e.goContainer(rv, o.Class)
		case reflect.Slice:
			if rv.Type() != bytesType {
				return e.goContainer(rv, o.Class)
			}
		}
	}
	e.bless(o.Class)
	return e.goValue(rv)
}

// goItem writes a Go value in a scalar slot, with fast paths for the types
// that dominate messages.
func (e *encoder) goItem(v any) error {
	switch x := v.(type) {
	case nil:
		e.tags++
		e.buf = append(e.buf, sxUndef)
		return nil
	case string:
		return e.goString(x)
	case int:
		e.int(int64(x))
		return nil
	case int64:
		e.int(x)
		return nil
	case float64:
		e.float(x)
		return nil
	case bool:
		if x {
			return e.string(sxScalar, sxLScalar, "1")
		}
		return e.string(sxScalar, sxLScalar, "")
	case []byte:
		return e.string(sxScalar, sxLScalar, string(x))
	case Value:
		return e.item(x)
	case Object:
		return e.object(x, false)
	case []any:
		e.tags++
		e.buf = append(e.buf, sxRef)
		if len(x) > 0 && e.shareGo(goKey{t: anySliceWord, p: unsafe.Pointer(unsafe.SliceData(x)), n: len(x)}) {
			return nil
		}
		if err := e.enter(); err != nil {
			return err
		}
		base := e.container()
		e.tags++
		e.buf = append(e.buf, sxArray)
		e.u32(len(x))
		for _, el := range x {
			if err := e.goItem(el); err != nil {
				return err
			}
		}
		e.base = base
		e.depth--
		return nil
	case map[string]any:
		e.tags++
		e.buf = append(e.buf, sxRef)
		if len(x) > 0 && e.shareGo(goKey{t: anyMapWord, p: reflect.ValueOf(x).UnsafePointer()}) {
			return nil
		}
		if err := e.enter(); err != nil {
			return err
		}
		base := e.container()
		err := e.goStringMap(x)
		e.base = base
		e.depth--
		return err
	}
	return e.goValue(reflect.ValueOf(v))
}

func (e *encoder) goStringMap(m map[string]any) error {
	keys := make([]string, 0, len(m))
	flagged := false
	for k := range m {
		keys = append(keys, k)
		if !isASCII(k) && utf8.ValidString(k) {
			flagged = true
		}
	}
	sort.Strings(keys)
	e.tags++
	if flagged {
		e.buf = append(e.buf, sxFlagHash, 0)
	} else {
		e.buf = append(e.buf, sxHash)
	}
	e.u32(len(keys))
	for _, k := range keys {
		if err := e.goItem(m[k]); err != nil {
			return err
		}
		e.key(k, !isASCII(k) && utf8.ValidString(k), flagged)
	}
	return nil
}

func (e *encoder) goValue(rv reflect.Value) error {
	if !rv.IsValid() {
		return e.item(nil)
	}
	t := rv.Type()
	if special(t) && rv.CanInterface() {
		if (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface) && rv.IsNil() {
			return e.item(nil)
		}
		x := rv.Interface()
		if m, ok := x.(Marshaler); ok {
			if _, isValue := x.(Value); !isValue {
				pv, err := m.MarshalPerl()
				if err != nil {
					return err
				}
				return e.item(pv)
			}
		}
		return e.goItem(x)
	}
	switch rv.Kind() {
	case reflect.Bool:
		if rv.Bool() {
			return e.string(sxScalar, sxLScalar, "1")
		}
		return e.string(sxScalar, sxLScalar, "")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.int(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.uint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		e.float(rv.Float())
	case reflect.String:
		return e.goString(rv.String())
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return e.string(sxScalar, sxLScalar, string(rv.Bytes()))
		}
		fallthrough
	case reflect.Array, reflect.Map, reflect.Struct:
		e.tags++
		e.buf = append(e.buf, sxRef)
		if err := e.enter(); err != nil {
			return err
		}
		err := e.goContainer(rv, "")
		e.depth--
		return err
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return e.item(nil)
		}
		if err := e.enter(); err != nil {
			return err
		}
		defer func() { e.depth-- }()
		if rv.Kind() == reflect.Interface {
			return e.goValue(rv.Elem())
		}
		if el := rv.Elem(); el.Kind() == reflect.Struct && !special(el.Type()) {
			// One Perl hash per struct pointer: shared stays shared, a
			// cycle is a Perl cycle.
			e.tags++
			e.buf = append(e.buf, sxRef)
			if e.shareGo(goKey{t: typeWordOf(t), p: rv.UnsafePointer()}) {
				return nil
			}
			return e.goContainer(el, "")
		}
		// Other pointers are followed to the value: one that leads back
		// to itself without a container on the way has no Perl form.
		if err := e.hop(rv); err != nil {
			return err
		}
		err := e.goValue(rv.Elem())
		e.chain = e.chain[:len(e.chain)-1]
		return err
	default:
		return fmt.Errorf("%w: Go type %s", ErrUnsupportedValue, t)
	}
	return nil
}

// goContainer writes a struct, map, slice or array as the referent. A
// slice (same elements, same length) or map written before is written as
// a back-reference to it.
func (e *encoder) goContainer(rv reflect.Value, class string) error {
	switch rv.Kind() {
	case reflect.Slice:
		if rv.Len() > 0 && e.shareGo(goKey{t: typeWordOf(rv.Type()), p: rv.UnsafePointer(), n: rv.Len()}) {
			return nil
		}
	case reflect.Map:
		if rv.Len() > 0 && e.shareGo(goKey{t: typeWordOf(rv.Type()), p: rv.UnsafePointer()}) {
			return nil
		}
	}
	if err := e.enter(); err != nil {
		return err
	}
	base := e.container()
	defer func() { e.depth--; e.base = base }()
	e.bless(class)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		n := rv.Len()
		e.tags++
		e.buf = append(e.buf, sxArray)
		e.u32(n)
		for i := 0; i < n; i++ {
			if err := e.goValue(rv.Index(i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if m, ok := rv.Interface().(map[string]any); ok {
			return e.goStringMap(m)
		}
		type kv struct {
			k string
			v reflect.Value
		}
		kvs := make([]kv, 0, rv.Len())
		flagged := false
		it := rv.MapRange()
		for it.Next() {
			k, err := mapKey(it.Key())
			if err != nil {
				return err
			}
			if !isASCII(k) && utf8.ValidString(k) {
				flagged = true
			}
			kvs = append(kvs, kv{k, it.Value()})
		}
		sort.Slice(kvs, func(i, j int) bool { return kvs[i].k < kvs[j].k })
		e.tags++
		if flagged {
			e.buf = append(e.buf, sxFlagHash, 0)
		} else {
			e.buf = append(e.buf, sxHash)
		}
		e.u32(len(kvs))
		for _, p := range kvs {
			if err := e.goValue(p.v); err != nil {
				return err
			}
			e.key(p.k, !isASCII(p.k) && utf8.ValidString(p.k), flagged)
		}
		return nil
	case reflect.Struct:
		info := structInfo(rv.Type())
		fields := make([]reflect.Value, 0, len(info.fields))
		names := make([]*fieldInfo, 0, len(info.fields))
		for i := range info.fields {
			f := &info.fields[i]
			fv, ok := fieldByIndex(rv, f.index)
			if !ok || f.omitEmpty && fv.IsZero() {
				continue
			}
			fields = append(fields, fv)
			names = append(names, f)
		}
		e.tags++
		if info.flagged {
			e.buf = append(e.buf, sxFlagHash, 0)
		} else {
			e.buf = append(e.buf, sxHash)
		}
		e.u32(len(fields))
		for i, fv := range fields {
			if err := e.goValue(fv); err != nil {
				return err
			}
			e.key(names[i].name, names[i].utf8, info.flagged)
		}
		return nil
	}
	return fmt.Errorf("%w: Go type %s as container", ErrUnsupportedValue, rv.Type())
}

func mapKey(k reflect.Value) (string, error) {
	switch k.Kind() {
	case reflect.String:
		return k.String(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(k.Uint(), 10), nil
	}
	return "", fmt.Errorf("%w: map key type %s", ErrUnsupportedValue, k.Type())
}

type fieldInfo struct {
	name      string
	utf8      bool
	index     []int
	omitEmpty bool
}

type structFields struct {
	fields  []fieldInfo
	byName  map[string]int
	flagged bool
}

var structCache sync.Map // reflect.Type -> *structFields

// structInfo lists the hash keys of a struct type: exported fields, named
// by the `perl` tag or the field name; embedded structs without a tag are
// flattened (outer fields win), as encoding/json does.
func structInfo(t reflect.Type) *structFields {
	if c, ok := structCache.Load(t); ok {
		return c.(*structFields)
	}
	sf := &structFields{byName: map[string]int{}}
	var walk func(t reflect.Type, index []int, depth int)
	walk = func(t reflect.Type, index []int, depth int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("perl")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), index...), i)
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct && depth < 10 {
					walk(ft, idx, depth+1)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := sf.byName[name]; dup {
				continue
			}
			u := !isASCII(name) && utf8.ValidString(name)
			sf.flagged = sf.flagged || u
			sf.byName[name] = len(sf.fields)
			sf.fields = append(sf.fields, fieldInfo{name: name, utf8: u, index: idx, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
		}
	}
	walk(t, nil, 0)
	c, _ := structCache.LoadOrStore(t, sf)
	return c.(*structFields)
}

// fieldByIndex follows an index path, reporting false through a nil
// embedded pointer.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// goKey identifies a Go container for sharing: a slice by its element
// array and length, a map or a struct pointer by its pointer.
type goKey struct {
	t unsafe.Pointer // the type (see typeWordOf)
	p unsafe.Pointer
	n int
}

// typeWordOf is a reflect.Type as one word: its *rtype, unique per type.
func typeWordOf(t reflect.Type) unsafe.Pointer {
	return (*ifaceWords)(unsafe.Pointer(&t)).data
}

type goSeen struct {
	k   goKey
	tag int
}

// shareGo reports whether the container k was written before, and then
// writes the back-reference to it; otherwise it records k under the tag
// the container is about to take.
func (e *encoder) shareGo(k goKey) bool {
	tag, ok := -1, false
	for i := 0; i < e.ngo; i++ {
		if e.gofew[i].k == k {
			tag, ok = e.gofew[i].tag, true
			break
		}
	}
	if !ok && e.goseen != nil {
		tag, ok = e.goseen[k]
	}
	if ok {
		e.buf = append(e.buf, sxObject)
		e.u32(tag)
		return true
	}
	if e.ngo < len(e.gofew) {
		e.gofew[e.ngo] = goSeen{k, e.tags}
		e.ngo++
	} else {
		if e.goseen == nil {
			e.goseen = make(map[goKey]int)
		}
		e.goseen[k] = e.tags
	}
	return false
}

// container starts a container: pointers followed before it are no longer
// a loop without one. It returns what to restore at its end.
func (e *encoder) container() int {
	b := e.base
	e.base = len(e.chain)
	return b
}

// hop records following pointer p; p already followed since the last
// container is a loop with no Perl form.
func (e *encoder) hop(p reflect.Value) error {
	u := p.UnsafePointer()
	for _, q := range e.chain[e.base:] {
		if q == u {
			return fmt.Errorf("%w: Go pointer %s leads back to itself", ErrCycle, p.Type())
		}
	}
	e.chain = append(e.chain, u)
	return nil
}
