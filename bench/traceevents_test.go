package bench

import (
	"io"
	"testing"

	"github.com/poe-go/poe/poe"
)

// The kernel benchmarks of kernel_test.go with a TraceRecorder on (ring of
// 4096 dispatches): the cost of recording every dispatch. Compare with
// BenchmarkYieldChain, BenchmarkPostPingPong and BenchmarkCall.

func tracedKernel(b *testing.B) (*poe.Kernel, *poe.TraceRecorder) {
	rec := poe.NewTraceRecorder(4096)
	return poe.NewKernel(&poe.Options{Recorder: rec}), rec
}

func checkTrace(b *testing.B, rec *poe.TraceRecorder, min int) {
	b.Helper()
	if got := rec.Total(); got < uint64(min) {
		b.Fatalf("recorded %d dispatches, want at least %d", got, min)
	}
	if _, err := rec.WriteTo(io.Discard); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkTracedYieldChain(b *testing.B) {
	k, rec := tracedKernel(b)
	yieldChain(b, k)
	checkTrace(b, rec, b.N)
}

func BenchmarkTracedPostPingPong(b *testing.B) {
	k, rec := tracedKernel(b)
	postPingPong(b, k)
	checkTrace(b, rec, b.N)
}

func BenchmarkTracedCall(b *testing.B) {
	k, rec := tracedKernel(b)
	callRate(b, k)
	checkTrace(b, rec, b.N)
}
