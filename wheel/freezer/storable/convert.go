package storable

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

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
func (u *unmarshaler) toAny(v Value) (any, error) {
	v, shared, err := followShared(v)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil, Undef:
		return nil, nil
	case Int:
		return int64(x), nil
	case Float:
		return float64(x), nil
	case Bytes:
		return string(x), nil
	case String:
		return string(x), nil
	case Bool:
		return bool(x), nil
	}
	if isNilRef(v) {
		return nil, nil
	}
	k := seenKey{p: v}
	memo := shared || !once(v)
	if i := u.find(memo, k); i >= 0 {
		if u.seen[i].busy {
			return nil, fmt.Errorf("%w: a blessed scalar reference that refers to itself", ErrCycle)
		}
		return u.seen[i].a, nil
	}
	u.depth++
	defer func() { u.depth-- }()
	if u.depth > maxConvertDepth {
		return nil, fmt.Errorf("%w: converting more than %d levels", ErrTooDeep, maxConvertDepth)
	}
	switch x := v.(type) {
	case *Array:
		s := make([]any, len(x.Elems))
		a := u.wrap(x.Class, s)
		if memo {
			u.remember(seenEntry{key: k, a: a})
		}
		for i, el := range x.Elems {
			if s[i], err = u.toAny(el); err != nil {
				return nil, err
			}
		}
		return a, nil
	case *Hash:
		m := make(map[string]any, len(x.Entries))
		a := u.wrap(x.Class, m)
		if memo {
			u.remember(seenEntry{key: k, a: a})
		}
		for _, e := range x.Entries {
			if m[e.Key], err = u.toAny(e.Value); err != nil {
				return nil, err
			}
		}
		return a, nil
	case *Ref:
		// Blessed (follow went through the others): Object holds the
		// scalar by value, so it cannot lead back to itself.
		i := -1
		if memo {
			i = u.remember(seenEntry{key: k, busy: true})
		}
		t, err := u.toAny(x.Target)
		if err != nil {
			return nil, err
		}
		a := u.wrap(x.Class, t)
		if i >= 0 {
			u.seen[i].a, u.seen[i].busy = a, false
		}
		return a, nil
	}
	return nil, fmt.Errorf("%w: %T", ErrUnsupportedValue, v)
}

func (u *unmarshaler) wrap(class string, v any) any {
	if class == "" {
		return v
	}
	return Object{Class: class, Value: v}
}

// plainContainer reports an unblessed array into a []any or an unblessed
// hash into a map[string]any: what toAny builds.
func plainContainer(s Value, t reflect.Type) bool {
	switch x := s.(type) {
	case *Array:
		return x.Class == "" && t == reflect.TypeFor[[]any]()
	case *Hash:
		return x.Class == "" && t == reflect.TypeFor[map[string]any]()
	}
	return false
}
