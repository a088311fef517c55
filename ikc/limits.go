package ikc

import (
	"time"

	"github.com/poe-go/poe/wheel/freezer"
)

// Limits bound what one connection may cost this kernel. A zero field
// takes the value of the responder's Limits (ResponderOptions.Limits),
// and if that is zero too, the default named beside it; a negative one
// turns that limit off. Each limit is enforced where it applies: the
// frame limits where frames are read (frames.go), the output marks where
// a connection writes (backpressure.go).
type Limits struct {
	// MaxLine caps a negotiation line (protocol.DefaultMaxLine, 8 KiB).
	MaxLine int
	// MaxFrame caps a frame's payload (filter.DefaultReferenceMaxBuffer,
	// 16 MiB); a bigger frame closes the connection.
	MaxFrame int
	// MaxElements caps the values decoded from one frame, MaxDecodedBytes
	// the memory they take once decoded and converted; both are budgets
	// of the freezer, relative to the payload's size when zero
	// (freezer.DefaultFrameBudget). A frame over budget is refused: its peer
	// gets an error report, the error monitor hears of it, and the
	// connection is closed.
	MaxElements, MaxDecodedBytes int
	// OutputHighMark is how many octets of output may wait for a peer
	// before its requests are no longer read (DefaultOutputHighMark);
	// reading resumes once the queue is below OutputLowMark
	// (DefaultOutputLowMark).
	OutputHighMark, OutputLowMark int
	// StallTimeout is how long a peer may stay above the high-water mark,
	// or take to read the last output of a connection that is closing,
	// before it is dropped (DefaultStallTimeout).
	StallTimeout time.Duration
}

// or returns l with its zero fields taken from d.
func (l Limits) or(d Limits) Limits {
	pick := func(a, b int) int {
		if a != 0 {
			return a
		}
		return b
	}
	l.MaxLine = pick(l.MaxLine, d.MaxLine)
	l.MaxFrame = pick(l.MaxFrame, d.MaxFrame)
	l.MaxElements = pick(l.MaxElements, d.MaxElements)
	l.MaxDecodedBytes = pick(l.MaxDecodedBytes, d.MaxDecodedBytes)
	l.OutputHighMark = pick(l.OutputHighMark, d.OutputHighMark)
	l.OutputLowMark = pick(l.OutputLowMark, d.OutputLowMark)
	if l.StallTimeout == 0 {
		l.StallTimeout = d.StallTimeout
	}
	return l
}

// budget is the freezers' decoding budget of one frame.
func (l Limits) budget() freezer.Limits {
	return freezer.Limits{MaxElements: l.MaxElements, MaxBytes: l.MaxDecodedBytes}
}
