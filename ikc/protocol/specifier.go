package protocol

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// ErrNoState: a specifier used to send lacks the session or the state.
var ErrNoState = errors.New("ikc: specifier needs a session and a state")

// ErrBadSpecifier reports a specifier that is not valid: a string that the
// grammar of spec section 9.1 rejects, or a value that is neither a string
// nor a hash of scalars.
var ErrBadSpecifier = errors.New("ikc: invalid specifier")

// Specifier names a state of a session of a kernel: the IKC address
// poe://kernel/session/state. Empty parts mean "not given" (Perl stores
// them as ""). Args is the optional ?word suffix of the string form, only
// meaningful in rsvp targets (it is passed as an extra argument).
type Specifier struct {
	Kernel  string // remote ID or alias, "*" for every kernel, "" for the default
	Session string // session alias or numeric session ID
	State   string // event name; "IKC:proxy" is reserved
	Args    string // the word after "?", "" when absent
}

// Perl's \w: letters, marks, decimal and letter numbers, connector
// punctuation (which includes "_").
const wordClass = `\p{L}\p{M}\p{Nd}\p{Nl}\p{Pc}`

// The kernel-name alternatives of POE::Component::IKC::Specifier, in Perl's
// order (Go's regexp prefers alternatives and repetitions as Perl's
// backtracking does, so the submatches are the ones Perl finds).
const kernelRE = `\*|[-. ` + wordClass + `]+|[a-zA-Z0-9][-.a-zA-Z0-9]+:\p{Nd}+|unix:[-.` + wordClass + `]+(?::\p{Nd}+-\p{Nd}+)?`

var (
	// form A: poe:[//[kernel]][/session][[/]state][?args]
	specFormA = regexp.MustCompile(`^poe:(?://(` + kernelRE + `)?)?(?:/([- ` + wordClass + `]+))?(?:/?([- ` + wordClass + `]*))?(?:\?([` + wordClass + `]+))?$`)
	// form B: [//kernel/][session/][state][?args]
	specFormB = regexp.MustCompile(`^(?://(` + kernelRE + `)/)?(?:([- ` + wordClass + `]+)/)?([- ` + wordClass + `]+)?(?:\?([` + wordClass + `]+))?$`)
)

// ParseSpecifier parses the string form of a specifier as Perl's
// specifier_parse does (ikc-protocol.md §9.1):
//
//	poe://kernel/session/state   poe://kernel/session   poe://kernel
//	poe:/session/state           poe:state              poe:   poe://
//	//kernel/session/state       session/state          state
//
// with "*", "host:port" and "unix:path[:pid-fd]" kernel names and an
// optional "?args" suffix. Matching is case-sensitive and anchored; ":" is
// not allowed in session and state names (so the IKC:proxy pseudo-state
// can only be addressed with the hash form). The empty string and "0" are
// invalid, and parts that are Perl-false ("0") become "", as in Perl.
// Errors wrap ErrBadSpecifier.
func ParseSpecifier(s string) (Specifier, error) {
	if s == "" || s == "0" {
		return Specifier{}, fmt.Errorf("%w: %q", ErrBadSpecifier, s)
	}
	sp, _, err := parseSpecifierValue(s)
	return sp, err
}

// parseSpecifierValue is ParseSpecifier that also returns s as a message
// value (textValue), boxed once per cached specifier, not per message.
func parseSpecifierValue(s string) (Specifier, storable.Value, error) {
	if s == "" || s == "0" {
		return Specifier{}, nil, fmt.Errorf("%w: %q", ErrBadSpecifier, s)
	}
	if c, ok := specCache.get(s); ok {
		return c.sp, c.raw, nil
	}
	// A copy: s may point into a frame's payload, which the cache would
	// otherwise keep for as long as the entry lives.
	s = strings.Clone(s)
	sp, err := parseSpecifier(s)
	if err != nil {
		return sp, nil, err
	}
	raw := textValue(s)
	specCache.put(s, cachedSpecifier{sp, raw})
	return sp, raw, nil
}

// cachedSpecifier is a specCache entry.
type cachedSpecifier struct {
	sp  Specifier
	raw storable.Value
}

// specCache remembers recent successful parses: every message carries its
// target and sender as strings or hashes, and the regular expressions cost
// more than the rest of a post (bench BenchmarkIKCPost). Reads take no lock
// (kernels on several goroutines share it); it is bounded (a peer choosing
// specifiers cannot grow it) and replaced by an empty one when full.
var specCache = newSpecifierCache()

const specCacheMax = 1024

type specifierCache struct {
	m atomic.Pointer[sync.Map] // string -> cachedSpecifier
	n atomic.Int64             // entries stored in m (approximately)
}

func newSpecifierCache() *specifierCache {
	c := &specifierCache{}
	c.m.Store(new(sync.Map))
	return c
}

func (c *specifierCache) get(s string) (cachedSpecifier, bool) {
	if v, ok := c.m.Load().Load(s); ok {
		return v.(cachedSpecifier), true
	}
	return cachedSpecifier{}, false
}

func (c *specifierCache) put(s string, sp cachedSpecifier) {
	if c.n.Add(1) > specCacheMax {
		c.m.Store(new(sync.Map))
		c.n.Store(1)
	}
	c.m.Load().Store(s, sp)
}

// len counts the entries (for tests).
func (c *specifierCache) len() int {
	n := 0
	c.m.Load().Range(func(any, any) bool { n++; return true })
	return n
}

func parseSpecifier(s string) (Specifier, error) {
	var m []string
	if strings.HasPrefix(s, "poe:") {
		m = specFormA.FindStringSubmatch(s)
	}
	if m == nil {
		// Perl tries form B when form A fails (a "poe:..." string never
		// matches form B, whose names cannot contain ":" outside a
		// //kernel/ prefix).
		m = specFormB.FindStringSubmatch(s)
	}
	if m == nil {
		return Specifier{}, fmt.Errorf("%w: %q", ErrBadSpecifier, s)
	}
	return Specifier{
		Kernel:  perlPart(m[1]),
		Session: perlPart(m[2]),
		State:   perlPart(m[3]),
		Args:    perlPart(m[4]),
	}, nil
}

// perlPart applies Perl's `$x ||= ""`: "0" is false and becomes "".
func perlPart(s string) string {
	if s == "0" {
		return ""
	}
	return s
}

// String formats the specifier as Perl's specifier_name does (ikc-protocol.md §9.2),
// the form used in error messages: "poe:", then "//kernel", "/session" and
// "/state" for the parts that are not empty. Args are not shown. The result
// does not always parse back to the same value ("poe:/t" names a session).
func (s Specifier) String() string {
	var b strings.Builder
	b.Grow(8 + len(s.Kernel) + len(s.Session) + len(s.State))
	b.WriteString("poe:")
	if perlTrue(s.Kernel) {
		b.WriteString("//")
		b.WriteString(s.Kernel)
	}
	if perlTrue(s.Session) {
		b.WriteByte('/')
		b.WriteString(s.Session)
	}
	if perlTrue(s.State) {
		b.WriteByte('/')
		b.WriteString(s.State)
	}
	return b.String()
}

// IsZero reports whether every part is empty.
func (s Specifier) IsZero() bool { return s == Specifier{} }

// Hash returns the specifier as the hash Perl's specifier_parse builds:
// {kernel, session, state} (always all three, "" when empty) plus args
// when given. Strings that are canonical decimal numbers in the session
// part are written as integers, as Perl writes numeric session IDs.
func (s Specifier) Hash() *storable.Hash {
	h := &storable.Hash{Entries: make([]storable.Entry, 0, 4)}
	h.Entries = append(h.Entries,
		storable.Entry{Key: "kernel", Value: textValue(s.Kernel)},
		storable.Entry{Key: "session", Value: sessionValue(s.Session)},
		storable.Entry{Key: "state", Value: textValue(s.State)})
	if s.Args != "" {
		h.Entries = append(h.Entries, storable.Entry{Key: "args", Value: textValue(s.Args)})
	}
	return h
}

// SpecifierFromHash reads the hash form {kernel, session, state[, args]}.
// Absent, undef and Perl-false parts become "". A part that is not a
// scalar (a reference) is an error wrapping ErrBadSpecifier; other keys
// are ignored. The parts are not checked against the string grammar (the
// hash form is how IKC:proxy is addressed).
func SpecifierFromHash(h *storable.Hash) (Specifier, error) {
	if h == nil {
		return Specifier{}, fmt.Errorf("%w: nil hash", ErrBadSpecifier)
	}
	// An array of the parts, not pointers into a Specifier: those made
	// it escape (one allocation per received address).
	keys := [...]string{"kernel", "session", "state", "args"}
	var parts [4]string
	for i, key := range keys {
		v, ok := h.Get(key)
		if !ok {
			continue
		}
		t, ok := storable.Text(v)
		if !ok {
			return Specifier{}, fmt.Errorf("%w: %s is a %s, not a string", ErrBadSpecifier, key, kindOf(v))
		}
		if perlTrue(t) {
			parts[i] = t
		}
	}
	return Specifier{Kernel: parts[0], Session: parts[1], State: parts[2], Args: parts[3]}, nil
}

// SpecifierFromValue reads a specifier as it travels in a message: a
// string (parsed with ParseSpecifier) or a hash (SpecifierFromHash).
func SpecifierFromValue(v storable.Value) (Specifier, error) {
	switch x := v.(type) {
	case *storable.Hash:
		return SpecifierFromHash(x)
	case storable.Bytes, storable.String, storable.Int:
		t, _ := storable.Text(x)
		return ParseSpecifier(t)
	case nil, storable.Undef:
		return Specifier{}, fmt.Errorf("%w: undef", ErrBadSpecifier)
	}
	return Specifier{}, fmt.Errorf("%w: a %s", ErrBadSpecifier, kindOf(v))
}

// perlTrue is Perl's truth of a string: neither "" nor "0".
func perlTrue(s string) bool { return s != "" && s != "0" }

// perlTrueValue is Perl's truth of a value.
func perlTrueValue(v storable.Value) bool {
	switch x := v.(type) {
	case nil, storable.Undef:
		return false
	case storable.Int:
		return x != 0
	case storable.Float:
		return x != 0
	case storable.Bool:
		return bool(x)
	case storable.Bytes:
		return perlTrue(string(x))
	case storable.String:
		return perlTrue(string(x))
	}
	return true // references
}

// textValue is the Perl scalar for a Go string: a byte string when ASCII,
// else a character string.
func textValue(s string) storable.Value {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return storable.String(s)
		}
	}
	return storable.Bytes(s)
}

// StringValue is a Go string as Perl would hold it: a byte string when
// ASCII or not valid UTF-8, else a character string (as ToValue converts
// a string).
func StringValue(s string) storable.Value { return goString(s) }

// sessionValue writes numeric session IDs as integers (Perl's session IDs
// are IVs: testdata/ikc/captures/d-call-rsvp has session => 2), names as strings.
func sessionValue(s string) storable.Value {
	if n := len(s); n > 0 && n <= 18 && s[0] >= '1' && s[0] <= '9' {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return storable.Int(i)
		}
	}
	return textValue(s)
}

// kindOf names the Perl type of a value for error messages.
func kindOf(v storable.Value) string {
	switch v.(type) {
	case nil, storable.Undef:
		return "undef"
	case *storable.Hash:
		return "hash reference"
	case *storable.Array:
		return "array reference"
	case *storable.Ref:
		return "scalar reference"
	case storable.Weak:
		return "weak reference"
	case storable.Int, storable.Float, storable.Bool:
		return "number"
	}
	return "string"
}
