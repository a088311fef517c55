package storable

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Errors returned by Decode and Unmarshal for bad input are
// *SyntaxError values wrapping one of these; test with errors.Is.
var (
	// ErrTruncated: the data ends in the middle of a value.
	ErrTruncated = errors.New("storable: truncated data")
	// ErrBadMagic: the data does not start with a Storable header.
	ErrBadMagic = errors.New("storable: not a Storable image")
	// ErrNativeOrder: the image was written by freeze (native byte order)
	// rather than nfreeze; only network order is portable and supported.
	ErrNativeOrder = errors.New("storable: native byte order image (freeze, not nfreeze) not supported")
	// ErrVersion: the image's major/minor version is newer than supported.
	ErrVersion = errors.New("storable: unsupported binary version")
	// ErrUnknownOpcode: an opcode this package does not implement (tied,
	// hook, code, vstring, regexp, large object, native numbers...).
	ErrUnknownOpcode = errors.New("storable: unknown or unsupported opcode")
	// ErrBadBackref: SX_OBJECT names a tag that was not seen yet.
	ErrBadBackref = errors.New("storable: back-reference out of range")
	// ErrBadClassIndex: SX_IX_BLESS names a class that was not seen yet.
	ErrBadClassIndex = errors.New("storable: class index out of range")
	// ErrTooDeep: nesting exceeds the depth limit.
	ErrTooDeep = errors.New("storable: nesting too deep")
	// ErrTooLarge: a length field is larger than the data that can follow.
	ErrTooLarge = errors.New("storable: length exceeds remaining data")
	// ErrBadFlags: restricted-hash or unknown hash key flags.
	ErrBadFlags = errors.New("storable: unsupported hash key flags")
	// ErrTrailingData: bytes remain after the root value.
	ErrTrailingData = errors.New("storable: trailing data after value")
	// ErrUnsupportedValue: Encode or Marshal was given something Perl data
	// cannot hold (a channel, a func, nesting beyond the depth limit...).
	ErrUnsupportedValue = errors.New("storable: unsupported value")
)

// SyntaxError describes malformed Storable data: what went wrong and at
// which byte offset of the input (counting the 2-byte header).
type SyntaxError struct {
	Offset int
	Err    error  // one of the sentinel errors
	Detail string // extra context, may be empty
}

func (e *SyntaxError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%v at offset %d: %s", e.Err, e.Offset, e.Detail)
	}
	return fmt.Sprintf("%v at offset %d", e.Err, e.Offset)
}

// Unwrap returns the sentinel error.
func (e *SyntaxError) Unwrap() error { return e.Err }

// UnmarshalTypeError describes a Perl value that cannot be stored in a Go
// value of the given type.
type UnmarshalTypeError struct {
	Perl string // Perl-side description, e.g. "hash", "string \"abc\""
	Type string // Go type
	Path string // where in the value, e.g. ".params[1]"
}

func (e *UnmarshalTypeError) Error() string {
	p := e.Path
	if p == "" {
		p = "value"
	}
	return fmt.Sprintf("storable: cannot unmarshal Perl %s into Go %s at %s", e.Perl, e.Type, p)
}

// prefixError is "storable: <context>: <cause>" with the cause's own
// "storable: " prefix dropped from the text, so it is said once.
type prefixError struct {
	context string
	err     error
}

func wrapContext(context string, err error) error { return &prefixError{context, err} }

func (e *prefixError) Error() string {
	return "storable: " + e.context + ": " + strings.TrimPrefix(e.err.Error(), "storable: ")
}

func (e *prefixError) Unwrap() error { return e.err }

// Sentinels for hostile or unrepresentable data.
var (
	// ErrBudget: decoding the data would exceed the element or memory
	// budget (see Limits). Decoding stops as soon as the budget is spent.
	ErrBudget = errors.New("storable: data exceeds the decoding budget")
	// ErrCycle: a cycle the destination cannot hold: a scalar reference
	// that refers to itself ($x = \$x) converted to Go values, a hash that
	// contains itself unmarshalled into a struct value, a Go pointer that
	// leads back to itself given to Marshal. See the package documentation.
	ErrCycle = errors.New("storable: reference cycle cannot be represented")
)
