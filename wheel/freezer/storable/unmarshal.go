package storable

import (
	"errors"
	"fmt"
	"math"
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
//     scalars their scalar, blessed references Object. Shared referents are
//     shared ([]any and maps are reference types); a cycle is kept.
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

type unmarshaler struct {
	anys  map[Value]any
	depth int
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

// deref follows scalar references and weak references to the value.
func deref(v Value) Value {
	for i := 0; i < 100; i++ {
		switch x := v.(type) {
		case Weak:
			v = x.To
		case *Ref:
			if x.Class != "" {
				return v
			}
			v = x.Target
		default:
			return v
		}
	}
	return v
}

func (u *unmarshaler) assign(src Value, dst reflect.Value, path string) error {
	// No defer: with assignValue's many returns it would not be
	// open-coded, and it cost a tenth of an Unmarshal. A panic ends the
	// whole Unmarshal, so depth need not survive one.
	u.depth++
	if u.depth > 2*DefaultMaxDepth+8 {
		u.depth--
		return fmt.Errorf("%w: at %s", ErrTooDeep, path)
	}
	err := u.assignValue(src, dst, path)
	u.depth--
	return err
}

func (u *unmarshaler) assignValue(src Value, dst reflect.Value, path string) error {
	t := dst.Type()
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
		s := deref(src)
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
	s := deref(src)
	if r, ok := s.(*Ref); ok && r.Class != "" {
		// A blessed scalar reference into a plain Go type: use the scalar.
		s = deref(r.Target)
	}
	if isUndef(s) {
		dst.SetZero()
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		if dst.IsNil() {
			dst.Set(reflect.New(t.Elem()))
		}
		return u.assign(src, dst.Elem(), path)
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return u.typeErr(src, t, path)
		}
		a := u.toAny(src)
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
		sl := reflect.MakeSlice(t, len(a.Elems), len(a.Elems))
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
	case reflect.Map:
		h, ok := s.(*Hash)
		if !ok {
			return u.typeErr(src, t, path)
		}
		m := reflect.MakeMapWithSize(t, len(h.Entries))
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
		info := structInfo(t)
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
	return u.typeErr(src, t, path)
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
	o.Value = u.toAny(unbless(s))
	return nil
}

// unbless returns an unblessed shallow view of a blessed reference.
func unbless(v Value) Value {
	switch x := v.(type) {
	case *Array:
		if x.Class != "" {
			c := *x
			c.Class = ""
			return &c
		}
	case *Hash:
		if x.Class != "" {
			c := *x
			c.Class = ""
			return &c
		}
	case *Ref:
		if x.Class != "" {
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

// prefixPath adds a path step to an UnmarshalTypeError while the error
// travels up (no path strings are built on success).
func prefixPath(err error, step string) error {
	if te, ok := err.(*UnmarshalTypeError); ok {
		te.Path = step + te.Path
	}
	return err
}

func (u *unmarshaler) typeErr(src Value, t reflect.Type, path string) error {
	return &UnmarshalTypeError{Perl: describe(src), Type: t.String(), Path: path}
}

func isUndef(v Value) bool {
	switch v.(type) {
	case nil, Undef:
		return true
	}
	return false
}

// truth is Perl's boolean test.
func truth(v Value) bool {
	switch x := v.(type) {
	case nil, Undef:
		return false
	case Int:
		return x != 0
	case Float:
		return x != 0
	case Bool:
		return bool(x)
	case Bytes:
		return x != "" && x != "0"
	case String:
		return x != "" && x != "0"
	}
	return true // references are true
}

// perlNumber parses a string the way Perl's numeric conversion does for
// well-formed input: surrounding whitespace allowed, "" is 0.
func perlNumber(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "0", true
	}
	return s, true
}

func toInt(v Value) (int64, bool) {
	switch x := v.(type) {
	case Int:
		return int64(x), true
	case Float:
		f := float64(x)
		if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return 0, false
		}
		return int64(f), true
	case Bool:
		if x {
			return 1, true
		}
		return 0, true
	case Bytes, String:
		str, _ := rawString(x)
		s, _ := perlNumber(str)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return toInt(Float(f))
		}
	}
	return 0, false
}

func toUint(v Value) (uint64, bool) {
	if x, ok := v.(Bytes); ok {
		s, _ := perlNumber(string(x))
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			return n, true
		}
	}
	i, ok := toInt(v)
	if !ok || i < 0 {
		return 0, false
	}
	return uint64(i), true
}

func toFloat(v Value) (float64, bool) {
	switch x := v.(type) {
	case Int:
		return float64(x), true
	case Float:
		return float64(x), true
	case Bool:
		if x {
			return 1, true
		}
		return 0, true
	case Bytes, String:
		str, _ := rawString(x)
		s, _ := perlNumber(str)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
				return f, true
			}
			return 0, false
		}
		return f, true
	}
	return 0, false
}

// rawString gives a scalar's string value; byte strings keep their bytes.
func rawString(v Value) (string, bool) {
	switch x := v.(type) {
	case Bytes:
		return string(x), true
	case String:
		return string(x), true
	case Int, Float, Bool, Undef, nil:
		return Text(v)
	}
	return "", false
}

// toAny converts a Value into plain Go values (see Unmarshal).
func (u *unmarshaler) toAny(v Value) any {
	switch x := v.(type) {
	case nil, Undef:
		return nil
	case Int:
		return int64(x)
	case Float:
		return float64(x)
	case Bytes:
		return string(x)
	case String:
		return string(x)
	case Bool:
		return bool(x)
	case Weak:
		return u.toAny(x.To)
	}
	if a, ok := u.anys[v]; ok {
		return a
	}
	if u.anys == nil {
		u.anys = map[Value]any{}
	}
	u.depth++
	defer func() { u.depth-- }()
	if u.depth > 2*DefaultMaxDepth+8 {
		return nil
	}
	var class string
	var out any
	switch x := v.(type) {
	case *Array:
		class = x.Class
		s := make([]any, len(x.Elems))
		out = s
		u.anys[v] = u.wrap(class, out)
		for i, el := range x.Elems {
			s[i] = u.toAny(el)
		}
	case *Hash:
		class = x.Class
		m := make(map[string]any, len(x.Entries))
		out = m
		u.anys[v] = u.wrap(class, out)
		for _, e := range x.Entries {
			m[e.Key] = u.toAny(e.Value)
		}
	case *Ref:
		u.anys[v] = nil // a scalar cycle ends in nil
		class = x.Class
		out = u.toAny(x.Target)
		u.anys[v] = u.wrap(class, out)
	}
	return u.anys[v]
}

func (u *unmarshaler) wrap(class string, v any) any {
	if class == "" {
		return v
	}
	return Object{Class: class, Value: v}
}
