package wheel

// Stand-ins for the Line filter and SysRW driver of wheel/filter and
// wheel/driver until those land: just enough of POE's behaviour for the
// wheel tests.

import (
	"bytes"
	"io"

	"github.com/poe-go/poe/wheel/driver"
	"github.com/poe-go/poe/wheel/filter"
	"golang.org/x/sys/unix"
)

func init() {
	newLineFilter = func() filter.Filter { return &fakeLine{} }
	newLineLiteral = func(lit string) filter.Filter { return &fakeLine{lit: []byte(lit)} }
	newDriver = func() driver.Driver { return &fakeSysRW{buf: make([]byte, 65536)} }
}

// NewTestLine and NewTestStream are exported to the external tests.
func NewTestLine(lit string) filter.Filter { return &fakeLine{lit: []byte(lit)} }
func NewTestStream() filter.Filter         { return &fakeStream{} }

type fakeLine struct {
	lit []byte
	buf []byte
	out []any
	put []any
}

func (f *fakeLine) GetOneStart(chunks []any) {
	for _, c := range chunks {
		f.buf = append(f.buf, c.([]byte)...)
	}
}

func (f *fakeLine) GetOne() ([]any, error) {
	var i, n int
	if f.lit != nil {
		i = bytes.Index(f.buf, f.lit)
		n = len(f.lit)
	} else {
		i = bytes.IndexAny(f.buf, "\r\n")
		n = 1
		if i >= 0 && i+1 < len(f.buf) && (f.buf[i+1] == '\r' || f.buf[i+1] == '\n') && f.buf[i+1] != f.buf[i] {
			n = 2
		}
	}
	if i < 0 {
		return nil, nil
	}
	rec := string(f.buf[:i])
	f.buf = f.buf[i+n:]
	f.out = append(f.out[:0], rec)
	return f.out, nil
}

func (f *fakeLine) Put(recs []any) ([]any, error) {
	f.put = f.put[:0]
	term := f.lit
	if term == nil {
		term = []byte("\r\n")
	}
	for _, r := range recs {
		var b []byte
		switch v := r.(type) {
		case string:
			b = append([]byte(v), term...)
		case []byte:
			b = append(append([]byte(nil), v...), term...)
		}
		f.put = append(f.put, b)
	}
	return f.put, nil
}

func (f *fakeLine) GetPending() []any {
	if len(f.buf) == 0 {
		return nil
	}
	return []any{append([]byte(nil), f.buf...)}
}

func (f *fakeLine) Clone() filter.Filter { return &fakeLine{lit: f.lit} }

type fakeStream struct {
	buf []byte
	put []any
}

func (f *fakeStream) GetOneStart(chunks []any) {
	for _, c := range chunks {
		f.buf = append(f.buf, c.([]byte)...)
	}
}

func (f *fakeStream) GetOne() ([]any, error) {
	if len(f.buf) == 0 {
		return nil, nil
	}
	b := f.buf
	f.buf = nil
	return []any{b}, nil
}

func (f *fakeStream) Put(recs []any) ([]any, error) {
	f.put = f.put[:0]
	for _, r := range recs {
		switch v := r.(type) {
		case string:
			f.put = append(f.put, []byte(v))
		case []byte:
			f.put = append(f.put, v)
		}
	}
	return f.put, nil
}

func (f *fakeStream) GetPending() []any {
	if len(f.buf) == 0 {
		return nil
	}
	return []any{append([]byte(nil), f.buf...)}
}

func (f *fakeStream) Clone() filter.Filter { return &fakeStream{} }

type fakeSysRW struct {
	buf  []byte
	out  [][]byte
	n    int
	head int // written octets of out[0]
}

func (d *fakeSysRW) Get(fd int) ([]byte, error) {
	n, err := unix.Read(fd, d.buf)
	switch {
	case err == unix.EAGAIN:
		return nil, nil
	case err != nil:
		return nil, err
	case n == 0:
		return nil, io.EOF
	}
	return d.buf[:n], nil
}

func (d *fakeSysRW) Put(chunks ...[]byte) int {
	for _, c := range chunks {
		if len(c) > 0 {
			d.out = append(d.out, append([]byte(nil), c...))
			d.n += len(c)
		}
	}
	return d.n
}

func (d *fakeSysRW) Flush(fd int) (int, error) {
	for len(d.out) > 0 {
		c := d.out[0][d.head:]
		n, err := unix.Write(fd, c)
		if err == unix.EAGAIN {
			return d.n, nil
		}
		if err != nil {
			return d.n, err
		}
		d.n -= n
		d.head += n
		if d.head == len(d.out[0]) {
			d.out = d.out[1:]
			d.head = 0
		}
	}
	return d.n, nil
}

func (d *fakeSysRW) OutOctets() int   { return d.n }
func (d *fakeSysRW) OutMessages() int { return len(d.out) }
