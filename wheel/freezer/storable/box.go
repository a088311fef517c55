package storable

import "unsafe"

// Boxing scalars into the Value interface costs one small allocation per
// string or integer (Go copies the value to the heap). Decoding a large
// structure creates tens of thousands of them, so the decoder instead keeps
// the values in slabs and builds the interface words itself, pointing into
// a slab. This produces exactly what the compiler would produce for a
// boxed value (type word plus pointer to an immutable copy); slab elements
// are never written after boxing.

type ifaceWords struct {
	tab  unsafe.Pointer
	data unsafe.Pointer
}

func typeWord(v Value) unsafe.Pointer { return (*ifaceWords)(unsafe.Pointer(&v)).tab }

var (
	bytesTab  = typeWord(Bytes(""))
	stringTab = typeWord(String(""))
	intTab    = typeWord(Int(1000))
)

func makeIface(tab, data unsafe.Pointer) Value {
	var v Value
	w := (*ifaceWords)(unsafe.Pointer(&v))
	w.tab, w.data = tab, data
	return v
}

// slabSize returns the next slab length: small for small inputs, growing
// with use.
func slabSize(used, remaining int) int {
	n := max(8, used)
	return min(n, max(8, remaining/2), 4096)
}

func (d *decoder) boxString(s string, utf bool) Value {
	if a := d.getArena(); a != nil && int(a.ns) < len(a.strs) {
		a.strs[a.ns] = s
		p := unsafe.Pointer(&a.strs[a.ns])
		a.ns++
		if utf {
			return makeIface(stringTab, p)
		}
		return makeIface(bytesTab, p)
	}
	if len(d.strSlab) == cap(d.strSlab) {
		d.strSlab = make([]string, 0, slabSize(d.strUsed, len(d.s)-d.pos))
	}
	d.strSlab = append(d.strSlab, s)
	d.strUsed++
	p := unsafe.Pointer(&d.strSlab[len(d.strSlab)-1])
	if utf {
		return makeIface(stringTab, p)
	}
	return makeIface(bytesTab, p)
}

func (d *decoder) boxInt(i int64) Value {
	if i >= 0 && i < 256 {
		return Int(i) // the runtime boxes these without allocating
	}
	if a := d.arena; a != nil && int(a.ni) < len(a.ints) {
		a.ints[a.ni] = i
		p := unsafe.Pointer(&a.ints[a.ni])
		a.ni++
		return makeIface(intTab, p)
	}
	if len(d.intSlab) == cap(d.intSlab) {
		d.intSlab = make([]int64, 0, slabSize(d.intUsed, (len(d.s)-d.pos)/2))
	}
	d.intSlab = append(d.intSlab, i)
	d.intUsed++
	return makeIface(intTab, unsafe.Pointer(&d.intSlab[len(d.intSlab)-1]))
}
