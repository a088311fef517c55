package wheel

import (
	"github.com/poe-go/poe/wheel/driver"
	"github.com/poe-go/poe/wheel/filter"
)

// newLineFilter makes the wheels' default filter: POE's Line (input lines
// end in CR LF, LF CR, CR or LF; output lines in CR LF; string records).
func newLineFilter() filter.Filter { return filter.MustLine(filter.LineOptions{}) }

// newLineLiteral makes a Line filter with one literal terminator (Run's
// default, Line(Literal => "\n")).
func newLineLiteral(lit string) filter.Filter {
	return filter.MustLine(filter.LineOptions{Literal: lit})
}

// newDriver makes the default driver, SysRW with POE's block size.
func newDriver() driver.Driver {
	d, err := driver.NewSysRW(driver.SysRWOptions{})
	if err != nil {
		panic(err)
	}
	return d
}

// releaser is implemented by drivers that lend their read buffer from a
// pool (SysRW): Release gives it back once the data has been consumed.
type releaser interface{ Release() }

// startBytes gives one chunk of raw input to f (which copies it), then
// lets the driver take its read buffer back.
func startBytes(f filter.Filter, buf *[1]any, data []byte, d driver.Driver) {
	if bs, ok := f.(filter.BytesStarter); ok {
		bs.GetOneStartBytes(data)
	} else {
		buf[0] = data
		f.GetOneStart(buf[:])
		buf[0] = nil
	}
	if r, ok := d.(releaser); ok {
		r.Release()
	}
}

// appendChunks converts a filter's output chunks ([]byte, *filter.Bytes or
// string) for the driver.
func appendChunks(dst [][]byte, chunks []any) ([][]byte, bool) {
	for _, c := range chunks {
		b, ok := filter.ChunkBytes(c)
		if !ok {
			return dst, false
		}
		dst = append(dst, b)
	}
	return dst, true
}
