package protocol

import (
	"errors"
	"fmt"

	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// ResponderAlias is the alias of the session that receives every
// request (Perl programs post to "IKC"): the kernel of the address
// IKC/ping, IKC/remote_error and IKC/do_you_have.
const ResponderAlias = "IKC"

// ProxyState is the pseudo-state of multi-argument requests (ikc-protocol.md §10.4):
// its params are [state, [arguments]].
const ProxyState = "IKC:proxy"

// Message errors. DecodeMessage wraps them in a *MessageError naming the
// key; test with errors.Is.
var (
	// ErrNotHash: the frame did not thaw to a hash reference (Perl's
	// server dies on that, testdata/ikc/captures/p5-probe-array-frame).
	ErrNotHash = errors.New("ikc: message is not a hash")
	// ErrNoEvent: the message has no event (absent or undef).
	ErrNoEvent = errors.New("ikc: message has no event")
)

// Wire keys of a request hash (spec section 8).
const (
	KeyEvent     = "event"
	KeyParams    = "params"
	KeyRSVP      = "rsvp"
	KeyFrom      = "from"
	KeyWantArray = "wantarray"
	KeyIsError   = "is_error"
)

// defaultKeyOrder is the order Encode uses for keys KeyOrder does not
// place.
var defaultKeyOrder = [...]string{KeyEvent, KeyParams, KeyRSVP, KeyFrom, KeyWantArray, KeyIsError}

// MessageError reports a malformed message: which key, and why (wrapping
// ErrNotHash, ErrNoEvent or ErrBadSpecifier).
type MessageError struct {
	Key string // "" for the message as a whole
	Err error
}

func (e *MessageError) Error() string {
	if e.Key == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("ikc: message %s: %v", e.Key, e.Err)
}

// Unwrap returns the cause.
func (e *MessageError) Unwrap() error { return e.Err }

// Address is a specifier as it travels inside a message: either the string
// form an application gave (Perl echoes a string rsvp verbatim as the
// reply's event, ?args included) or the hash form {kernel, session, state}
// that IKC builds. The parsed parts are in the embedded Specifier.
//
// An Address decoded from the wire remembers the exact value it came from
// and Value writes that value back unchanged (same hash key order, same
// integer or string types) as long as the Specifier still says the same
// thing; once a part is changed (say, filling an empty rsvp kernel), Value
// builds a new hash.
type Address struct {
	Specifier
	raw storable.Value // *storable.Hash, Bytes or String as received; nil when built
	// rawSpec is what raw parses to: Value compares it with Specifier
	// instead of parsing raw again for every message.
	rawSpec Specifier
}

// NewAddress returns the hash form of a specifier.
func NewAddress(s Specifier) Address { return Address{Specifier: s} }

// PrebuiltAddress is NewAddress with the wire value built now, once: for
// an address that many messages carry (a sender's from). The value is
// shared by every copy, so it must not be modified.
func PrebuiltAddress(s Specifier) Address {
	a := NewAddress(s)
	a.raw, a.rawSpec = a.Value(), a.Specifier
	return a
}

// StringAddress returns the string form: text is sent verbatim (a Perl
// receiver parses it with the 9.1 grammar). It must be a valid specifier.
func StringAddress(text string) (Address, error) {
	s, raw, err := parseSpecifierValue(text)
	if err != nil {
		return Address{}, err
	}
	return Address{Specifier: s, raw: raw, rawSpec: s}, nil
}

// AddressFromValue reads an address from a message value (string or hash).
func AddressFromValue(v storable.Value) (Address, error) {
	s, err := SpecifierFromValue(v)
	if err != nil {
		return Address{}, err
	}
	return Address{Specifier: s, raw: v, rawSpec: s}, nil
}

// IsString reports whether the address will be written in string form.
func (a Address) IsString() bool {
	switch a.Value().(type) {
	case storable.Bytes, storable.String, storable.Int:
		return true
	}
	return false
}

// Value returns the address as it goes on the wire: the received or given
// value if it still matches the Specifier, else the hash {kernel, session}
// plus state and args when not empty (ClientLite's from has no state key;
// numeric sessions are written as integers, as Perl does).
func (a Address) Value() storable.Value {
	if a.raw != nil && a.rawSpec == a.Specifier {
		return a.raw
	}
	h := &storable.Hash{Entries: make([]storable.Entry, 0, 4)}
	h.Entries = append(h.Entries,
		storable.Entry{Key: "kernel", Value: textValue(a.Kernel)},
		storable.Entry{Key: "session", Value: sessionValue(a.Session)})
	if a.State != "" {
		h.Entries = append(h.Entries, storable.Entry{Key: "state", Value: textValue(a.State)})
	}
	if a.Args != "" {
		h.Entries = append(h.Entries, storable.Entry{Key: "args", Value: textValue(a.Args)})
	}
	return h
}

// Message is one IKC request: the hash every frame carries (ikc-protocol.md §8).
//
//	event     target specifier (string or hash)        always
//	params    ARG0 of the target state (any value)      optional
//	rsvp      where a call's return value goes          calls only
//	from      the sending session's published alias     optional
//	wantarray call the target in list context           ClientLite calls
//	is_error  marks an error report                     error replies
//
// Keys a Perl receiver sets locally (errors_to, call) and unknown keys are
// kept in Other; a Perl peer never sends them.
type Message struct {
	Event Address
	// Params is the params value; nil when the key is absent (an undef
	// params is storable.Undef{}).
	Params storable.Value
	// RSVP is the reply target of a call, nil for posts.
	RSVP *Address
	// From names the sender, nil when anonymous.
	From *Address
	// WantArray is the wantarray value as sent (ClientLite sends "1", ""
	// or undef); nil when absent. See WantList.
	WantArray storable.Value
	// IsError marks an error report (written as is_error => 1); a
	// receiver never answers one with another error.
	IsError bool
	// Other holds the remaining keys in wire order.
	Other []storable.Entry
	// KeyOrder is the key order of the decoded hash (Perl writes hash keys
	// in a random order). Encode writes the keys it lists first, in that
	// order, then the others in the order event, params, rsvp, from,
	// wantarray, is_error, Other. Leave it nil for new messages.
	KeyOrder []string
}

// WantList reports whether the target must be called in list context
// (wantarray is Perl-true).
func (m *Message) WantList() bool { return perlTrueValue(m.WantArray) }

// DecodeMessage reads a request from the value a frame thawed to (the
// Freezer's Thaw result: a *storable.Hash). The message keeps references
// into v.
//
// Errors are *MessageError values wrapping ErrNotHash (nil message),
// ErrNoEvent or ErrBadSpecifier (key event, rsvp or from). For the last
// two the returned message holds everything else that could be read (the
// bad key left zero or nil), so a responder can still answer the way Perl
// does: Perl processes a message with a missing or invalid event as one
// addressed to the empty specifier and replies with the check-phase error
// for the empty session name ("is not available for remote kernels").
func DecodeMessage(v storable.Value) (*Message, error) {
	if _, ok := v.(*storable.Hash); !ok {
		return nil, &MessageError{Err: fmt.Errorf("%w (a %s)", ErrNotHash, kindOf(v))}
	}
	// One allocation for the message, its addresses and key order.
	return new(MessageDecoder).Decode(v)
}

// MessageDecoder holds a decoded message, its addresses and key order in
// one piece of memory that Decode reuses: a connection decodes every frame
// into the same one. The zero value is ready to use.
type MessageDecoder struct {
	m          Message
	rsvp, from Address
	keys       [4]string
}

// Decode is DecodeMessage into x, which it resets first: the message is
// valid until the next Decode.
func (x *MessageDecoder) Decode(v storable.Value) (*Message, error) {
	h, ok := v.(*storable.Hash)
	if !ok {
		return nil, &MessageError{Err: fmt.Errorf("%w (a %s)", ErrNotHash, kindOf(v))}
	}
	*x = MessageDecoder{}
	m := &x.m
	if len(h.Entries) <= len(x.keys) {
		m.KeyOrder = x.keys[:0:len(h.Entries)]
	} else {
		m.KeyOrder = make([]string, 0, len(h.Entries))
	}
	var firstErr error
	fail := func(key string, err error) {
		if firstErr == nil {
			firstErr = &MessageError{Key: key, Err: err}
		}
	}
	seenEvent := false
	for _, e := range h.Entries {
		m.KeyOrder = append(m.KeyOrder, e.Key)
		if e.UTF8 {
			// Character keys never name a known field (all are ASCII,
			// and Perl would write them as byte keys).
			m.Other = append(m.Other, e)
			continue
		}
		switch e.Key {
		case KeyEvent:
			seenEvent = true
			switch e.Value.(type) {
			case nil, storable.Undef:
				fail(KeyEvent, ErrNoEvent)
				continue
			}
			a, err := AddressFromValue(e.Value)
			if err != nil {
				fail(KeyEvent, err)
				continue
			}
			m.Event = a
		case KeyParams:
			m.Params = e.Value
		case KeyRSVP, KeyFrom:
			if !perlTrueValue(e.Value) {
				// Perl tests `if $msg->{rsvp}`: a false value is no rsvp.
				continue
			}
			a, err := AddressFromValue(e.Value)
			if err != nil {
				fail(e.Key, err)
				continue
			}
			if e.Key == KeyRSVP {
				x.rsvp = a
				m.RSVP = &x.rsvp
			} else {
				x.from = a
				m.From = &x.from
			}
		case KeyWantArray:
			m.WantArray = e.Value
		case KeyIsError:
			m.IsError = perlTrueValue(e.Value)
		default:
			m.Other = append(m.Other, e)
		}
	}
	if !seenEvent {
		fail(KeyEvent, ErrNoEvent)
	}
	return m, firstErr
}

// Encode returns the message as the hash to freeze. Keys are written in
// KeyOrder first (see Message), so a decoded message re-encodes to the
// bytes it came from.
func (m *Message) Encode() *storable.Hash {
	return &storable.Hash{Entries: m.AppendEntries(make([]storable.Entry, 0, 6+len(m.Other)))}
}

// AppendEntries appends the entries Encode writes to dst (an empty slice
// whose storage the caller may reuse).
func (m *Message) AppendEntries(entries []storable.Entry) []storable.Entry {
	base := len(entries)
	for _, k := range m.KeyOrder {
		entries = m.addEntry(entries, base, k)
	}
	for _, k := range defaultKeyOrder {
		entries = m.addEntry(entries, base, k)
	}
	for _, e := range m.Other {
		dup := false
		for i := base; i < len(entries); i++ {
			if entries[i].Key == e.Key && entries[i].UTF8 == e.UTF8 {
				dup = true
				break
			}
		}
		if !dup {
			entries = append(entries, e)
		}
	}
	return entries
}

// addEntry appends key's entry unless entries[base:] already has it.
func (m *Message) addEntry(entries []storable.Entry, base int, key string) []storable.Entry {
	for i := base; i < len(entries); i++ {
		if !entries[i].UTF8 && entries[i].Key == key {
			return entries // already written
		}
	}
	if v, ok := m.field(key); ok {
		return append(entries, storable.Entry{Key: key, Value: v})
	}
	for _, e := range m.Other {
		if e.Key == key {
			return append(entries, e)
		}
	}
	return entries
}

// field returns the wire value of a known key, ok false when absent.
func (m *Message) field(key string) (storable.Value, bool) {
	switch key {
	case KeyEvent:
		return m.Event.Value(), true
	case KeyParams:
		return m.Params, m.Params != nil
	case KeyRSVP:
		if m.RSVP == nil {
			return nil, false
		}
		return m.RSVP.Value(), true
	case KeyFrom:
		if m.From == nil {
			return nil, false
		}
		return m.From.Value(), true
	case KeyWantArray:
		return m.WantArray, m.WantArray != nil
	case KeyIsError:
		return storable.Int(1), m.IsError
	}
	return nil, false
}

// RequestParams turns Go arguments into a request: one argument is sent
// as the params of a plain request (the target's ARG0, as Perl's
// IKC/post); none or several are sent through IKC:proxy so the target
// receives them as ARG0..ARGn.
func RequestParams(to Address, args []any) (Address, storable.Value, error) {
	if len(args) == 1 {
		v, err := ToValue(args[0])
		return to, v, err
	}
	a := &storable.Array{Elems: make([]storable.Value, len(args))}
	for i, x := range args {
		v, err := ToValue(x)
		if err != nil {
			return to, nil, err
		}
		a.Elems[i] = v
	}
	state := to.State
	to = NewAddress(Specifier{Kernel: to.Kernel, Session: to.Session, State: ProxyState})
	return to, storable.NewArray(goString(state), a), nil
}

// ThawMessage thaws one frame payload with the negotiated freezer and
// decodes the request (see DecodeMessage). A payload the freezer cannot
// read gives the freezer's error.
func ThawMessage(f freezer.Freezer, payload []byte) (*Message, error) {
	v, err := f.Thaw(payload)
	if err != nil {
		return nil, err
	}
	return DecodeMessage(v)
}

// FreezeMessage encodes and freezes a request into one frame payload (add
// the frame header with freezer.AppendFrame).
func FreezeMessage(f freezer.Freezer, m *Message) ([]byte, error) {
	return f.Freeze(m.Encode())
}
