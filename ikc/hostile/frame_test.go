package hostile

import (
	"bytes"
	"fmt"

	"github.com/poe-go/poe/wheel/freezer"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

// Payloads of the attacks, built as a hostile Perl program would send
// them.

// cyclicParams is an array that contains itself and a hash that contains
// itself (Storable writes the inner references as back-references).
func cyclicParams() storable.Value {
	a := &storable.Array{}
	a.Elems = append(a.Elems, storable.Bytes("a"), a)
	h := storable.NewHash("k", storable.Bytes("v"))
	h.Entries = append(h.Entries, storable.Entry{Key: "self", Value: h})
	return storable.NewArray(a, h)
}

// sharedParams is a chain of depth arrays, each holding the next one
// twice: a few hundred bytes on the wire, 2**depth leaves once expanded.
func sharedParams(depth int) storable.Value {
	var v storable.Value = storable.NewArray(storable.Bytes("leaf"))
	for range depth {
		v = storable.NewArray(v, v)
	}
	return v
}

// tinyElementsPayload is a request to target whose params are an array of
// undefs filling a payload of about size bytes (one byte per element).
func tinyElementsPayload(target string, size int) ([]byte, error) {
	h := storable.NewHash("event", storable.Bytes(target), "params", storable.NewArray(storable.Undef{Immortal: true}))
	b, err := storable.Encode(h)
	if err != nil {
		return nil, err
	}
	// The one-element array: SX_ARRAY, length 1, one undef opcode.
	i := bytes.Index(b, []byte{2, 0, 0, 0, 1})
	if i < 0 || i+5 >= len(b) {
		return nil, fmt.Errorf("no array in % x", b)
	}
	undef := b[i+5]
	n := size - (len(b) - 1)
	out := make([]byte, 0, len(b)+n)
	out = append(out, b[:i]...)
	out = append(out, 2, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	out = append(out, bytes.Repeat([]byte{undef}, n)...)
	out = append(out, b[i+6:]...)
	return out, nil
}

// fakeSenderFrames returns n framed posts to target, each claiming
// another sender kernel.
func fakeSenderFrames(target string, n int) ([]byte, error) {
	var out []byte
	for i := range n {
		h := storable.NewHash(
			"event", storable.Bytes(target),
			"params", storable.Int(i),
			"from", storable.NewHash("kernel", storable.Bytes(fmt.Sprintf("fake%d", i)),
				"session", storable.Bytes("s"), "state", storable.Bytes("IKC:proxy")))
		b, err := storable.Encode(h)
		if err != nil {
			return nil, err
		}
		out = freezer.AppendFrame(out, b)
	}
	return out, nil
}

// repeatFrames returns n copies of the framed request v.
func repeatFrames(v storable.Value, n int) ([]byte, error) {
	b, err := storable.Encode(v)
	if err != nil {
		return nil, err
	}
	one := freezer.AppendFrame(nil, b)
	return bytes.Repeat(one, n), nil
}
