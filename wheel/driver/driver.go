// Package driver holds POE's drivers: the code that moves bytes between a
// file descriptor and a wheel (POE::Driver::SysRW).
package driver

// Driver reads and writes one non-blocking file descriptor for a wheel.
type Driver interface {
	// Get makes one non-blocking read. It returns the data read (a view
	// of the driver's buffer, valid until the next Get), nil and nil when
	// the read would block, and io.EOF at end of file.
	Get(fd int) ([]byte, error)
	// Put queues chunks for writing and returns the octets now queued.
	Put(chunks ...[]byte) int
	// Flush writes as much as the fd takes and returns the octets still
	// queued; a would-block is not an error.
	Flush(fd int) (int, error)
	// OutOctets and OutMessages report what is still queued.
	OutOctets() int
	OutMessages() int
}

// Appender is implemented by drivers that let a wheel serialise a chunk
// straight into the output queue instead of handing over a copy: append
// the chunk to OutBuffer's result and give the grown slice to
// CommitChunk, which queues it as one message and returns the octets now
// queued. Nothing else may be called on the driver in between.
type Appender interface {
	OutBuffer() []byte
	CommitChunk(b []byte) int
}

// Discarder is implemented by drivers that hold pooled buffers: a wheel
// that closes with output still queued calls Discard, which drops the
// queue and gives the buffers back.
type Discarder interface {
	Discard()
}
