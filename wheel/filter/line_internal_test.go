package filter

import (
	"math/rand/v2"
	"testing"
)

// indexCRLF scans eight bytes at a time: it must agree with a byte loop
// wherever the first CR or LF falls (in a word, across words, in the
// tail), including next to bytes whose borrow could fool a word test
// (0x00, 0x0b, 0x0c, 0x0e, 0x80, 0xff).
func TestIndexCRLF(t *testing.T) {
	naive := func(b []byte) int {
		for i, c := range b {
			if c == '\r' || c == '\n' {
				return i
			}
		}
		return -1
	}
	rng := rand.New(rand.NewPCG(11, 12))
	alphabet := []byte{'a', 0x00, 0x09, 0x0b, 0x0c, 0x0e, 0x7f, 0x80, 0xff, '\r', '\n'}
	for n := 0; n < 40; n++ {
		for trial := 0; trial < 500; trial++ {
			b := make([]byte, n)
			for i := range b {
				b[i] = alphabet[rng.IntN(len(alphabet)-2)] // no CR or LF yet
			}
			for k := rng.IntN(3); k > 0 && n > 0; k-- {
				b[rng.IntN(n)] = alphabet[len(alphabet)-1-rng.IntN(2)]
			}
			if got, want := indexCRLF(b), naive(b); got != want {
				t.Fatalf("indexCRLF(%q) = %d, want %d", b, got, want)
			}
		}
	}
}
