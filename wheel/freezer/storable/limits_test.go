package storable

import (
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// arrayImage is nfreeze([ (elem) x n ]) built by hand, for any n.
func arrayImage(n int, elem ...byte) []byte {
	b := make([]byte, 0, 7+n*len(elem))
	b = append(b, netorderHeader0, storableMinor, sxArray)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	for i := 0; i < n; i++ {
		b = append(b, elem...)
	}
	return b
}

// allocated runs f and returns the bytes it allocated on the heap.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

func TestBudgetRefusesUndefArray(t *testing.T) {
	if strconv.IntSize == 32 {
		// Words are half as wide: these elements cost 16 bytes or less
		// each, within the default budget of 16 per payload byte.
		t.Skip("32-bit: the frame stays within the default budget")
	}
	// 16 MiB of undefs: 32 bytes each decoded and converted, twice the
	// default factor. Refused at the length prefix, before allocation.
	img := arrayImage(16<<20-8, sxUndef)
	var err error
	start := time.Now()
	alloc := allocated(func() { _, err = Decode(img) })
	if !errors.Is(err, ErrBudget) {
		t.Fatalf("Decode: %v, want ErrBudget", err)
	}
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 7 {
		t.Fatalf("error %v: want a *SyntaxError at the length prefix (offset 7)", err)
	}
	// The image is copied once (16 MiB); nothing else of size.
	if alloc > 18<<20 {
		t.Fatalf("refusing took %d MiB", alloc>>20)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("refusing took %v", d)
	}
	// The same data within an explicit budget decodes.
	v, err := DecodeLimits(arrayImage(1000, sxUndef), Limits{MaxElements: 1001, MaxBytes: 1 << 20})
	if err != nil || len(v.(*Array).Elems) != 1000 {
		t.Fatalf("DecodeLimits: %v", err)
	}
}

func TestBudgetAcceptsDenseIntegers(t *testing.T) {
	// Small integers take two bytes (SX_BYTE): within the default factor.
	img := arrayImage(1<<20, sxByte, 128+7)
	v, err := Decode(img)
	if err != nil {
		t.Fatal(err)
	}
	if a := v.(*Array); len(a.Elems) != 1<<20 || a.Elems[5] != Int(7) {
		t.Fatalf("decoded %d elements", len(a.Elems))
	}
}

func TestBudgetLimits(t *testing.T) {
	img := arrayImage(4, sxByte, 129)
	for _, c := range []struct {
		lim Limits
		ok  bool
	}{
		{Limits{}, true},
		{Limits{MaxElements: 5}, true}, // the root and 4 elements
		{Limits{MaxElements: 4}, false},
		{Limits{MaxElements: -1, MaxBytes: -1}, true},
		{Limits{MaxBytes: arrayPrice + 4*elemPrice}, true},
		{Limits{MaxBytes: arrayPrice + 4*elemPrice - 1}, false},
	} {
		_, err := DecodeLimits(img, c.lim)
		if (err == nil) != c.ok || err != nil && !errors.Is(err, ErrBudget) {
			t.Errorf("%+v: %v", c.lim, err)
		}
	}
	// Strings, references and hashes are charged too.
	h, _ := Encode(NewHash("a", Bytes("x"), "b", &Ref{Target: Int(1)}))
	if _, err := DecodeLimits(h, Limits{MaxBytes: hashPrice + smallMap + 2*entrySize}); !errors.Is(err, ErrBudget) {
		t.Errorf("hash of a string and a reference within its bare price: %v", err)
	}
	if _, err := DecodeLimits(h, Limits{MaxBytes: hashPrice + smallMap + 2*entrySize + scalarPrice + refPrice}); err != nil {
		t.Errorf("hash within its full price: %v", err)
	}
}

func TestBudgetArithmetic(t *testing.T) {
	b := Limits{MaxElements: math.MaxInt, MaxBytes: 1000}.Budget(0)
	// An absurd count must not overflow into a small charge.
	for _, n := range []int{math.MaxInt32, math.MaxInt, math.MaxInt / elemPrice, -1} {
		if err := b.Array(n); !errors.Is(err, ErrBudget) {
			t.Errorf("Array(%d): %v", n, err)
		}
		if err := b.Hash(n); !errors.Is(err, ErrBudget) {
			t.Errorf("Hash(%d): %v", n, err)
		}
	}
	if err := b.Spend(0, 1000); err != nil {
		t.Fatal(err)
	}
	if err := b.Spend(0, 1); !errors.Is(err, ErrBudget) {
		t.Fatalf("overdraft: %v", err)
	}
	if d := DefaultLimits(math.MaxInt); d.MaxBytes != math.MaxInt || d.MaxElements != math.MaxInt {
		t.Fatalf("defaults overflow: %+v", d)
	}
	if d := DefaultLimits(100); d.MaxBytes != MinBytes+1600 || d.MaxElements != MinElements+100 {
		t.Fatalf("DefaultLimits(100) = %+v", d)
	}
}
