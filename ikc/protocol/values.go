package protocol

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// ToValue converts a Go value to the Perl value model that travels in
// messages: nil becomes undef, integers Int (a uint64 above MaxInt64 its
// decimal digits, as Perl sends such a number), floats Float, strings byte
// strings when ASCII (or not valid UTF-8) and character strings otherwise,
// []byte byte strings, bool "1" or "" (Perl's copied true and false),
// slices and arrays array references, maps hash references (keys sorted),
// and storable.Value values are used as they are. Structs and other types
// go through storable.Marshal's rules. An unsupported value (a channel, a
// function) is an error.
//
// Shared data stays shared: the same slice (same first element and
// length), map or struct pointer met twice becomes one *storable.Array or
// *storable.Hash referenced twice, so a slice or map that contains itself
// becomes a Perl cycle. A pointer that leads back to itself with no slice,
// map or struct on the way fails with storable.ErrCycle, nesting deeper
// than twice storable.DefaultMaxDepth with storable.ErrTooDeep.
func ToValue(v any) (storable.Value, error) {
	var c toValue
	return c.value(v)
}

// toValue converts one Go value, remembering its containers.
type toValue struct {
	few   [4]seenGo
	nfew  int
	seen  map[goRef]storable.Value
	chain []unsafe.Pointer // pointers followed, chain[base:] since the last container
	base  int
	depth int
}

// goRef identifies a Go container: a slice by its element array and
// length, a map or a struct pointer by its pointer.
type goRef struct {
	t reflect.Type
	p unsafe.Pointer
	n int
}

type seenGo struct {
	k goRef
	v storable.Value
}

const maxToValueDepth = 2*storable.DefaultMaxDepth + 8

var (
	anySlice = reflect.TypeFor[[]any]()
	anyMap   = reflect.TypeFor[map[string]any]()
	strSlice = reflect.TypeFor[[]string]()
)

func (c *toValue) lookup(k goRef) (storable.Value, bool) {
	for i := 0; i < c.nfew; i++ {
		if c.few[i].k == k {
			return c.few[i].v, true
		}
	}
	v, ok := c.seen[k]
	return v, ok
}

func (c *toValue) remember(k goRef, v storable.Value) {
	if c.nfew < len(c.few) {
		c.few[c.nfew] = seenGo{k, v}
		c.nfew++
		return
	}
	if c.seen == nil {
		c.seen = make(map[goRef]storable.Value)
	}
	c.seen[k] = v
}

// enter starts a container: it counts the depth and starts a new pointer
// chain (a loop through a container is representable). exit ends it.
func (c *toValue) enter() (int, error) {
	c.depth++
	if c.depth > maxToValueDepth {
		return 0, fmt.Errorf("%w: Go value nests deeper than %d", storable.ErrTooDeep, maxToValueDepth)
	}
	saved := c.base
	c.base = len(c.chain)
	return saved, nil
}

func (c *toValue) exit(saved int) {
	c.depth--
	c.base = saved
}

func (c *toValue) value(v any) (storable.Value, error) {
	switch x := v.(type) {
	case nil:
		return storable.Undef{}, nil
	case storable.Value:
		return x, nil
	case string:
		return goString(x), nil
	case []byte:
		return storable.Bytes(x), nil
	case bool:
		if x {
			return storable.Bytes("1"), nil
		}
		return storable.Bytes(""), nil
	case int:
		return storable.Int(x), nil
	case int8:
		return storable.Int(x), nil
	case int16:
		return storable.Int(x), nil
	case int32:
		return storable.Int(x), nil
	case int64:
		return storable.Int(x), nil
	case uint:
		return uintValue(uint64(x)), nil
	case uint8:
		return storable.Int(x), nil
	case uint16:
		return storable.Int(x), nil
	case uint32:
		return storable.Int(x), nil
	case uint64:
		return uintValue(x), nil
	case float32:
		return storable.Float(x), nil
	case float64:
		return storable.Float(x), nil
	case []any:
		k := goRef{anySlice, unsafe.Pointer(unsafe.SliceData(x)), len(x)}
		if len(x) > 0 {
			if a, ok := c.lookup(k); ok {
				return a, nil
			}
		}
		a := &storable.Array{Elems: make([]storable.Value, len(x))}
		if len(x) > 0 {
			c.remember(k, a)
		}
		saved, err := c.enter()
		if err != nil {
			return nil, err
		}
		for i, e := range x {
			if a.Elems[i], err = c.value(e); err != nil {
				return nil, err
			}
		}
		c.exit(saved)
		return a, nil
	case []string:
		k := goRef{strSlice, unsafe.Pointer(unsafe.SliceData(x)), len(x)}
		if len(x) > 0 {
			if a, ok := c.lookup(k); ok {
				return a, nil
			}
		}
		a := &storable.Array{Elems: make([]storable.Value, len(x))}
		for i, e := range x {
			a.Elems[i] = goString(e)
		}
		if len(x) > 0 {
			c.remember(k, a)
		}
		return a, nil
	case map[string]any:
		k := goRef{t: anyMap, p: reflect.ValueOf(x).UnsafePointer()}
		if len(x) > 0 {
			if h, ok := c.lookup(k); ok {
				return h, nil
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		h := &storable.Hash{Entries: make([]storable.Entry, 0, len(keys))}
		if len(x) > 0 {
			c.remember(k, h)
		}
		saved, err := c.enter()
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			ev, err := c.value(x[k])
			if err != nil {
				return nil, err
			}
			h.Set(k, ev)
		}
		c.exit(saved)
		return h, nil
	case Specifier:
		return x.Hash(), nil
	case *Specifier:
		if x == nil {
			return storable.Undef{}, nil
		}
		return x.Hash(), nil
	}
	return c.reflectValue(v)
}

// reflectValue converts what the fast paths do not know: typed slices and
// maps element by element, anything else through storable.Marshal.
func (c *toValue) reflectValue(v any) (storable.Value, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return storable.Undef{}, nil
		}
		if rv.Kind() == reflect.Pointer && rv.Elem().Kind() != reflect.Struct {
			// Followed to the value, unless it leads back to itself.
			p := rv.UnsafePointer()
			for _, q := range c.chain[c.base:] {
				if q == p {
					return nil, fmt.Errorf("%w: Go pointer %s leads back to itself", storable.ErrCycle, rv.Type())
				}
			}
			c.chain = append(c.chain, p)
			c.depth++
			if c.depth > maxToValueDepth {
				return nil, fmt.Errorf("%w: Go value nests deeper than %d", storable.ErrTooDeep, maxToValueDepth)
			}
			ev, err := c.value(rv.Elem().Interface())
			c.depth--
			c.chain = c.chain[:len(c.chain)-1]
			return ev, err
		}
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return &storable.Array{}, nil
		}
		k := goRef{t: rv.Type(), n: rv.Len()}
		if rv.Kind() == reflect.Slice && rv.Len() > 0 {
			k.p = rv.UnsafePointer()
			if a, ok := c.lookup(k); ok {
				return a, nil
			}
		}
		a := &storable.Array{Elems: make([]storable.Value, rv.Len())}
		if k.p != nil {
			c.remember(k, a)
		}
		saved, err := c.enter()
		if err != nil {
			return nil, err
		}
		for i := range a.Elems {
			if a.Elems[i], err = c.value(rv.Index(i).Interface()); err != nil {
				return nil, err
			}
		}
		c.exit(saved)
		return a, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		k := goRef{t: rv.Type(), p: rv.UnsafePointer()}
		if rv.Len() > 0 {
			if h, ok := c.lookup(k); ok {
				return h, nil
			}
		}
		keys := make([]string, 0, rv.Len())
		for _, k := range rv.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		h := &storable.Hash{Entries: make([]storable.Entry, 0, len(keys))}
		if rv.Len() > 0 {
			c.remember(k, h)
		}
		saved, err := c.enter()
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			ev, err := c.value(rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key())).Interface())
			if err != nil {
				return nil, err
			}
			h.Set(k, ev)
		}
		c.exit(saved)
		return h, nil
	case reflect.Func, reflect.Chan, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return nil, fmt.Errorf("ikc: cannot send a %s", rv.Type())
	}
	// A struct pointer converts once (storable.Marshal keeps the sharing
	// inside it).
	var k goRef
	if rv.Kind() == reflect.Pointer {
		k = goRef{t: rv.Type(), p: rv.UnsafePointer()}
		if h, ok := c.lookup(k); ok {
			return h, nil
		}
	}
	b, err := storable.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("ikc: cannot send a %T: %w", v, err)
	}
	// The program's own data: no budget.
	val, err := storable.DecodeLimits(b, storable.Limits{MaxElements: -1, MaxBytes: -1})
	if err != nil {
		return nil, fmt.Errorf("ikc: cannot send a %T: %w", v, err)
	}
	if r, ok := val.(*storable.Ref); ok && r.Class == "" {
		// Marshal freezes a scalar as a reference to it.
		val = r.Target
	}
	if k.p != nil {
		c.remember(k, val)
	}
	return val, nil
}

func uintValue(u uint64) storable.Value {
	if u > math.MaxInt64 {
		// Perl sends an unsigned integer beyond IV as its decimal digits.
		return storable.Bytes(strconv.FormatUint(u, 10))
	}
	return storable.Int(u)
}

// goString is a Go string as Perl would hold it.
func goString(s string) storable.Value {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			if utf8.ValidString(s) {
				return storable.String(s)
			}
			return storable.Bytes(s)
		}
	}
	return storable.Bytes(s)
}

// FromValue converts a received Perl value to plain Go values, the way
// handlers receive them: undef is nil, integers int64, strings string,
// Perl booleans bool, array references []any, hash references
// map[string]any, references to scalars their scalar, blessed references
// storable.Object (see storable.UnmarshalValue).
//
// Each Perl array or hash converts once: every reference to it gives the
// same []any (one backing array) or map, so shared data stays shared and a
// cycle (an array that contains itself) is the same cycle in Go. A value
// with no Go form, a scalar reference that refers to itself, gives nil.
// The memory the result takes is part of the budget a freezer's Thaw
// enforces (see storable.Limits).
func FromValue(v storable.Value) any {
	// Scalars as UnmarshalValue converts them, without its machinery.
	switch x := v.(type) {
	case nil, storable.Undef:
		return nil
	case storable.Int:
		return int64(x)
	case storable.Bytes:
		return string(x)
	case storable.String:
		return string(x)
	}
	var out any
	if err := storable.UnmarshalValue(v, &out); err != nil {
		return nil
	}
	return out
}
