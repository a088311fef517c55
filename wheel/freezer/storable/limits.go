package storable

import (
	"fmt"
	"math"
	"unsafe"
)

// Limits bounds what decoding one payload may build, so that a hostile peer
// cannot make a small frame cost much memory: 16 MiB of Storable undefs
// (one byte each) would otherwise become 256 MiB of array slots, and as
// much again once converted to plain Go values.
//
// The budget is spent while decoding, before anything is allocated for a
// container (a length prefix is never trusted beyond it); the first
// overdraft stops decoding with an error wrapping ErrBudget.
//
// A zero field takes its default (see DefaultLimits), a negative field
// means no limit.
type Limits struct {
	// MaxElements limits the number of values decoded: every array
	// element, every hash entry, the root and the scalar behind every
	// reference to a scalar count one each.
	MaxElements int
	// MaxBytes limits the memory the decoded data may take, counted as
	// the decoded Value plus its conversion to plain Go values
	// (UnmarshalValue into an any, ikc's FromValue): about 32 bytes per
	// array element, 110 per hash entry (more in small hashes: a Go map
	// of up to 8 entries takes 320 bytes), 32 per string and 90 per array,
	// hash or scalar reference. Strings themselves are shared with the
	// payload and not counted again.
	MaxBytes int
}

// Default budgets, relative to the payload length n: MinElements+n values
// and MinBytes + BytesPerPayloadByte*n bytes (see Limits.MaxBytes). Every
// value of the three freezers takes at least one byte, so MaxElements only
// matters when set lower. The memory factor admits dense arrays of small
// integers (two bytes each, 32 decoded and converted) and refuses arrays
// that are mostly undef or booleans (one byte each); small frames get
// through whatever their shape.
const (
	MinElements         = 1 << 12
	MinBytes            = 1 << 20
	BytesPerPayloadByte = 16
)

// DefaultLimits returns the limits a zero Limits gives a payload of n bytes.
func DefaultLimits(n int) Limits {
	n = max(n, 0)
	return Limits{MaxElements: satAdd(MinElements, n), MaxBytes: satAdd(MinBytes, satMul(n, BytesPerPayloadByte))}
}

func satMul(n, k int) int {
	if n > math.MaxInt/k {
		return math.MaxInt
	}
	return n * k
}

func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// For returns the limits in force for a payload of n bytes: zero fields
// replaced by their defaults, negative ones by math.MaxInt.
func (l Limits) For(n int) Limits {
	d := DefaultLimits(n)
	switch {
	case l.MaxElements == 0:
		l.MaxElements = d.MaxElements
	case l.MaxElements < 0:
		l.MaxElements = math.MaxInt
	}
	switch {
	case l.MaxBytes == 0:
		l.MaxBytes = d.MaxBytes
	case l.MaxBytes < 0:
		l.MaxBytes = math.MaxInt
	}
	return l
}

// Budget is the running account of one decode against Limits. The YAML
// and FreezeThaw readers of package freezer spend it too, with the same
// prices, so every freezer counts alike. The zero Budget refuses
// everything; use Limits.Budget.
type Budget struct {
	elems, bytes int // what is left
	lim          Limits
}

// Budget returns a fresh account for a payload of n bytes.
func (l Limits) Budget(n int) Budget {
	r := l.For(n)
	return Budget{elems: r.MaxElements, bytes: r.MaxBytes, lim: r}
}

// Prices of the decoded model plus its plain Go conversion (see
// Limits.MaxBytes). The Go side is estimated: a []any boxed in an any,
// map[string]any (Go's maps keep groups of 8 slots at 7/8 load), and the
// converter's identity map, one entry per container.
const (
	valueSize = int(unsafe.Sizeof(Value(nil)))
	entrySize = int(unsafe.Sizeof(Entry{}))
	arraySize = int(unsafe.Sizeof(Array{}))
	hashSize  = int(unsafe.Sizeof(Hash{}))
	refSize   = int(unsafe.Sizeof(Ref{}))

	anySize      = 2 * int(unsafe.Sizeof(uintptr(0)))
	memoEntry    = 6 * int(unsafe.Sizeof(uintptr(0)))
	sliceBox     = 3 * int(unsafe.Sizeof(uintptr(0)))
	mapHeader    = 8 * int(unsafe.Sizeof(uintptr(0)))
	smallMap     = 320 // one group of 8 slots: map[string]any up to 8 keys
	mapEntry     = 72  // per entry of a larger map, tables at 7/8 load
	elemPrice    = valueSize + anySize
	scalarPrice  = 2 * anySize // a boxed string: slab entry, then Go's box
	intPrice     = 16          // a boxed integer outside 0..255, both sides
	arrayPrice   = arraySize + sliceBox + memoEntry
	hashPrice    = hashSize + memoEntry + mapHeader
	refPrice     = refSize + memoEntry
	classPrice   = 2 * anySize // the class table entry, then Object's box
	smallMapKeys = 8
)

// Spend takes elems values and bytes of memory from the budget. It returns
// an error wrapping ErrBudget, and takes nothing, if either is overdrawn.
func (b *Budget) Spend(elems, bytes int) error { return b.wrap(b.take(elems, bytes)) }

// Array charges an array of n elements (its slots, not their contents).
func (b *Budget) Array(n int) error { return b.wrap(b.array(n)) }

// Elems charges n more elements of an array whose header was charged
// with Array(0) (a reader that learns the length as it goes).
func (b *Budget) Elems(n int) error { return b.wrap(b.slots(n, elemPrice, 0)) }

// Hash charges a hash of n entries (not their values).
func (b *Budget) Hash(n int) error { return b.wrap(b.hash(n)) }

// Entries charges n more entries of a hash charged with Hash(0).
func (b *Budget) Entries(n int) error { return b.wrap(b.slots(n, entrySize+mapEntry, 0)) }

// Ref charges a reference to a scalar, and the scalar as one value.
func (b *Budget) Ref() error { return b.wrap(b.take(1, refPrice)) }

// String charges a string scalar whose text takes copied new bytes (0
// when it shares the payload).
func (b *Budget) String(copied int) error {
	return b.wrap(b.take(0, satAdd(scalarPrice, max(copied, 0))))
}

// Class charges a class name of n bytes copied out of the payload.
func (b *Budget) Class(copied int) error {
	return b.wrap(b.take(0, satAdd(classPrice, max(copied, 0))))
}

func (b *Budget) wrap(detail string) error {
	if detail == "" {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrBudget, detail)
}

func (b *Budget) array(n int) string { return b.slots(n, elemPrice, arrayPrice) }

func (b *Budget) hash(n int) string {
	if n <= smallMapKeys {
		return b.slots(n, entrySize, hashPrice+smallMap)
	}
	return b.slots(n, entrySize+mapEntry, hashPrice)
}

// take spends the budget; on overdraft it takes nothing and describes it.
func (b *Budget) take(elems, bytes int) string {
	switch {
	case elems < 0 || elems > b.elems:
		return fmt.Sprintf("more than %d values", b.lim.MaxElements)
	case bytes < 0 || bytes > b.bytes:
		return fmt.Sprintf("decoded data would take more than %d bytes", b.lim.MaxBytes)
	}
	b.elems -= elems
	b.bytes -= bytes
	return ""
}

// slots charges n values of size bytes each plus fixed bytes, safe from
// overflow for any announced n (on 32-bit systems too).
func (b *Budget) slots(n, size, fixed int) string {
	if n < 0 || n > b.elems {
		return fmt.Sprintf("%d values, more than the limit of %d", n, b.lim.MaxElements)
	}
	if fixed > b.bytes || n > (b.bytes-fixed)/size {
		return fmt.Sprintf("%d values would take more than %d bytes", n, b.lim.MaxBytes)
	}
	return b.take(n, n*size+fixed)
}
