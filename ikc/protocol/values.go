package protocol

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"unicode/utf8"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// ToValue converts a Go value to the Perl value model that travels in
// messages: nil becomes undef, integers Int, floats Float, strings byte
// strings when ASCII (or not valid UTF-8) and character strings otherwise,
// []byte byte strings, bool "1" or "" (Perl's copied true and false),
// slices and arrays array references, maps hash references (keys sorted),
// and storable.Value values are used as they are. Structs and other types
// go through storable.Marshal's rules. An unsupported value (a channel, a
// function, a cycle through Go pointers) is an error.
func ToValue(v any) (storable.Value, error) {
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
			return storable.Int(1), nil
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
		a := &storable.Array{Elems: make([]storable.Value, len(x))}
		for i, e := range x {
			ev, err := ToValue(e)
			if err != nil {
				return nil, err
			}
			a.Elems[i] = ev
		}
		return a, nil
	case []string:
		a := &storable.Array{Elems: make([]storable.Value, len(x))}
		for i, e := range x {
			a.Elems[i] = goString(e)
		}
		return a, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		h := &storable.Hash{Entries: make([]storable.Entry, 0, len(keys))}
		for _, k := range keys {
			ev, err := ToValue(x[k])
			if err != nil {
				return nil, err
			}
			h.Set(k, ev)
		}
		return h, nil
	case Specifier:
		return x.Hash(), nil
	case *Specifier:
		if x == nil {
			return storable.Undef{}, nil
		}
		return x.Hash(), nil
	}
	return reflectValue(v)
}

// reflectValue converts what the fast paths do not know: typed slices and
// maps element by element, anything else through storable.Marshal.
func reflectValue(v any) (storable.Value, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return storable.Undef{}, nil
		}
		if rv.Kind() == reflect.Pointer && rv.Elem().Kind() != reflect.Struct {
			return ToValue(rv.Elem().Interface())
		}
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return &storable.Array{}, nil
		}
		a := &storable.Array{Elems: make([]storable.Value, rv.Len())}
		for i := range a.Elems {
			ev, err := ToValue(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			a.Elems[i] = ev
		}
		return a, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		keys := make([]string, 0, rv.Len())
		for _, k := range rv.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		h := &storable.Hash{Entries: make([]storable.Entry, 0, len(keys))}
		for _, k := range keys {
			ev, err := ToValue(rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key())).Interface())
			if err != nil {
				return nil, err
			}
			h.Set(k, ev)
		}
		return h, nil
	case reflect.Func, reflect.Chan, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return nil, fmt.Errorf("ikc: cannot send a %s", rv.Type())
	}
	b, err := storable.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("ikc: cannot send a %T: %w", v, err)
	}
	val, err := storable.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("ikc: cannot send a %T: %w", v, err)
	}
	if r, ok := val.(*storable.Ref); ok && r.Class == "" {
		// Marshal freezes a scalar as a reference to it.
		return r.Target, nil
	}
	return val, nil
}

func uintValue(u uint64) storable.Value {
	if u > math.MaxInt64 {
		return storable.Float(float64(u))
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
