package wheel

import (
	"github.com/poe-go/poe/wheel/driver"
	"github.com/poe-go/poe/wheel/filter"
)

// newLineFilter and newDriver make the wheels' defaults: POE's Line filter
// (autodetected terminators) and the SysRW driver.
var (
	newLineFilter = func() filter.Filter { panic("wheel: no default Line filter") }
	newDriver     = func() driver.Driver { panic("wheel: no default SysRW driver") }
)

// bytesStarter is implemented by filters that take raw input as bytes,
// without the allocation of boxing a []byte into an interface per read.
type bytesStarter interface {
	GetOneStartBytes(data []byte)
}

// startBytes gives one chunk of raw input to f.
func startBytes(f filter.Filter, buf *[1]any, data []byte) {
	if bs, ok := f.(bytesStarter); ok {
		bs.GetOneStartBytes(data)
		return
	}
	buf[0] = data
	f.GetOneStart(buf[:])
	buf[0] = nil
}

// newLineLiteral makes a Line filter with one literal terminator (Run's
// default, Line(Literal => "\n")).
var newLineLiteral = func(lit string) filter.Filter { panic("wheel: no Line filter") }
