package filter

import "unsafe"

// stringBox turns received bytes into string records boxed in an any
// without the two allocations per record that string(b) and the boxing
// cost: the bytes are copied into a shared block and the string headers
// live in a shared array, so a record costs an allocation only when a
// block or the header array fills up (every ~100 short lines).
//
// Nothing written to a block or a header slot is ever written again, so
// the strings stay immutable. A record kept by the program keeps its
// block alive (at most stringBlock + a header array): the blocks are small
// for that reason, and a long line gets an allocation of its own.
type stringBox struct {
	block []byte
	hdrs  []string
}

const (
	stringBlock = 2048 // bytes per shared block
	stringHdrs  = 64   // string headers per shared array
	stringOwn   = 256  // lines longer than this are allocated alone
)

// eface is the layout of an empty interface (as runtime.eface).
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

var stringType = func() unsafe.Pointer {
	var v any = ""
	return (*eface)(unsafe.Pointer(&v)).typ
}()

// box returns b as a string in an any.
func (x *stringBox) box(b []byte) any {
	if len(b) == 0 {
		return ""
	}
	if len(b) > stringOwn {
		return string(b)
	}
	if cap(x.block)-len(x.block) < len(b) {
		x.block = make([]byte, 0, stringBlock)
	}
	start := len(x.block)
	x.block = append(x.block, b...)
	if len(x.hdrs) == cap(x.hdrs) {
		x.hdrs = make([]string, 0, stringHdrs)
	}
	x.hdrs = append(x.hdrs, unsafe.String(&x.block[start], len(b)))
	// An any holding a string points at a string header, as the runtime
	// builds it when it boxes one; this header is a slot of x.hdrs.
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = stringType, unsafe.Pointer(&x.hdrs[len(x.hdrs)-1])
	return v
}
