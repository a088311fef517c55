//go:build !windows

package driver

import (
	"fmt"
	"io"
	"sync"

	"golang.org/x/sys/unix"
)

// DefaultBlockSize is SysRW's default read size, POE's 65536.
const DefaultBlockSize = 65536

// SysRWOptions are POE::Driver::SysRW's parameters.
type SysRWOptions struct {
	// BlockSize is the most one Get reads. 0 means DefaultBlockSize (POE
	// refuses 0; in Go the zero value is the default); negative values
	// are an error.
	BlockSize int
}

// SysRW is POE::Driver::SysRW: non-blocking read(2) and write(2) on a raw
// file descriptor, with an output queue that resumes partial writes.
//
// Put copies the chunks into one contiguous queue (the filters' output
// buffers can be reused at once) and remembers where each chunk ends for
// OutMessages. Flush writes the whole queue with as few write(2) calls as
// the descriptor allows.
//
// The read buffer of the default BlockSize comes from a pool shared by all
// drivers: a Get that reads nothing (would-block, EOF, error) returns it at
// once, and Release returns it after data was read, so an idle descriptor
// holds no read buffer. A SysRW is not safe for concurrent use.
type SysRW struct {
	blockSize int
	rbuf      *[]byte

	out  []byte
	woff int   // octets of out already written
	ends []int // end offset in out of each queued chunk
	head int   // index in ends of the first chunk not fully written
	q    *outQueue
}

// outQueue holds an output queue's buffers while they are in outPool: a
// driver whose queue empties gives them back, so an idle descriptor
// holds no output buffer, and the next connection reuses them instead of
// growing fresh ones.
type outQueue struct {
	out  []byte
	ends []int
}

var outPool sync.Pool

// takeQueue gives an empty driver pooled output buffers.
func (d *SysRW) takeQueue() {
	if q, ok := outPool.Get().(*outQueue); ok {
		d.q, d.out, d.ends = q, q.out[:0], q.ends[:0]
		return
	}
	d.q = &outQueue{}
	d.out, d.ends = make([]byte, 0, 1024), make([]int, 0, 16)
}

// releaseQueue returns the emptied output buffers to the pool (or drops
// them when one large message made them big).
func (d *SysRW) releaseQueue() {
	if d.q != nil && cap(d.out) <= 1<<20 {
		d.q.out, d.q.ends = d.out[:0], d.ends[:0]
		outPool.Put(d.q)
	}
	d.q, d.out, d.ends = nil, nil, nil
	d.woff, d.head = 0, 0
}

var readPool = sync.Pool{New: func() any {
	b := make([]byte, DefaultBlockSize)
	return &b
}}

// NewSysRW returns a SysRW driver; BlockSize < 0 is an error.
func NewSysRW(o SysRWOptions) (*SysRW, error) {
	switch {
	case o.BlockSize < 0:
		return nil, fmt.Errorf("driver: BlockSize must be greater than 0, got %d", o.BlockSize)
	case o.BlockSize == 0:
		o.BlockSize = DefaultBlockSize
	}
	return &SysRW{blockSize: o.BlockSize}, nil
}

// BlockSize returns the read size.
func (d *SysRW) BlockSize() int { return d.blockSize }

func (d *SysRW) buffer() []byte {
	if d.rbuf == nil {
		if d.blockSize == DefaultBlockSize {
			d.rbuf = readPool.Get().(*[]byte)
		} else {
			b := make([]byte, d.blockSize)
			d.rbuf = &b
		}
	}
	return *d.rbuf
}

// Release gives the read buffer back to the shared pool. The data of the
// last Get is invalid afterwards. Call it when that data has been consumed
// (copied into a filter); the next Get takes a buffer again.
func (d *SysRW) Release() {
	if d.rbuf != nil && len(*d.rbuf) == DefaultBlockSize {
		readPool.Put(d.rbuf)
	}
	d.rbuf = nil
}

// Get makes one read of up to BlockSize octets. It returns a view of the
// read buffer valid until the next Get or Release; nil, nil when the read
// would block; io.EOF at end of file; otherwise the errno (unix.Errno).
func (d *SysRW) Get(fd int) ([]byte, error) {
	buf := d.buffer()
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			d.Release()
			return nil, nil
		case err != nil:
			d.Release()
			return nil, err
		case n == 0:
			d.Release()
			return nil, io.EOF
		}
		return buf[:n:n], nil
	}
}

// Put queues the non-empty chunks (copying them) and returns the octets
// queued in all.
func (d *SysRW) Put(chunks ...[]byte) int {
	d.prepare()
	for _, c := range chunks {
		if len(c) == 0 {
			continue
		}
		d.out = append(d.out, c...)
		d.ends = append(d.ends, len(d.out))
	}
	return len(d.out) - d.woff
}

// prepare makes the queue ready for appending: pooled buffers when it
// has none, written octets dropped when they are half of it.
func (d *SysRW) prepare() {
	if d.q == nil {
		d.takeQueue()
	} else if d.woff > 0 && d.woff >= len(d.out)/2 {
		d.compact()
	}
}

// OutBuffer returns the output queue's buffer for appending one chunk in
// place (see Appender). Pass the result to CommitChunk before any other
// call on the driver.
func (d *SysRW) OutBuffer() []byte {
	d.prepare()
	return d.out
}

// CommitChunk queues what was appended to OutBuffer's result as one chunk
// (nothing when nothing was appended) and returns the octets queued.
func (d *SysRW) CommitChunk(b []byte) int {
	if len(b) > len(d.out) {
		d.out = b
		d.ends = append(d.ends, len(b))
	}
	return len(d.out) - d.woff
}

// compact drops the written octets from the front of the queue.
func (d *SysRW) compact() {
	n := copy(d.out, d.out[d.woff:])
	d.out = d.out[:n]
	m := copy(d.ends, d.ends[d.head:])
	d.ends = d.ends[:m]
	for i := range d.ends {
		d.ends[i] -= d.woff
	}
	d.woff, d.head = 0, 0
}

// Flush writes as much of the queue as fd takes and returns the octets
// still queued. A write that would block is not an error; any other
// failure returns its errno (unix.Errno, e.g. EPIPE) with the queue
// intact from the failed chunk on.
func (d *SysRW) Flush(fd int) (int, error) {
	for d.woff < len(d.out) {
		n, err := unix.Write(fd, d.out[d.woff:])
		if n > 0 {
			d.woff += n
			for d.head < len(d.ends) && d.ends[d.head] <= d.woff {
				d.head++
			}
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return len(d.out) - d.woff, nil
		case err != nil:
			return len(d.out) - d.woff, err
		case n == 0:
			return len(d.out) - d.woff, nil
		}
	}
	// Everything written: the buffers go back to the pool.
	d.releaseQueue()
	return 0, nil
}

// Discard drops the queued output and returns the output queue's and
// the read buffer to their pools (Discarder). The driver stays usable.
func (d *SysRW) Discard() {
	d.releaseQueue()
	d.Release()
}

// OutOctets returns the octets still queued.
func (d *SysRW) OutOctets() int { return len(d.out) - d.woff }

// OutMessages returns the chunks still queued (wholly or partly
// unwritten), POE's get_out_messages_buffered.
func (d *SysRW) OutMessages() int { return len(d.ends) - d.head }

var (
	_ Driver    = (*SysRW)(nil)
	_ Appender  = (*SysRW)(nil)
	_ Discarder = (*SysRW)(nil)
)
