package poe

import (
	"fmt"
	"io"
	"runtime"
	"strings"
)

// tracer writes POE-style trace lines ("=== <pid> === <ev> ...") so that a
// Go trace can be read beside a Perl one (POE_TRACE_EVENTS).
type tracer struct {
	w   io.Writer
	pid int
}

func (t *tracer) linef(prefix, format string, args ...any) {
	fmt.Fprintf(t.w, "=== %d === %s %s\n", t.pid, prefix, fmt.Sprintf(format, args...))
}

func (t *tracer) enqueue(k *Kernel, it *item) {
	file, line := it.where()
	t.linef("<ev>", "enqueued event %d ``%s'' from %s to %s at %s line %d, priority=%.6f",
		it.id, it.event, it.src, it.dest, file, line, float64(it.due)/1e9)
}

func (t *tracer) dispatch(k *Kernel, s, src *Session, event, state string, args []any) {
	t.linef("<ev>", "dispatching event ``%s'' (%s) from %s to %s", event, summarize(args), src, s)
	if state != event {
		t.linef("<ev>", "redirected ``%s'' to ``_default'' in %s", event, s)
	}
}

func (t *tracer) sessionf(k *Kernel, format string, args ...any) { t.linef("<ss>", format, args...) }
func (t *tracer) signalf(k *Kernel, format string, args ...any)  { t.linef("<sg>", format, args...) }

func summarize(args []any) string {
	parts := make([]string, len(args))
	for i, a := range args {
		if a == nil {
			parts[i] = "(undef)"
			continue
		}
		s := fmt.Sprint(a)
		if len(s) > 40 {
			s = s[:37] + "..."
		}
		parts[i] = s
	}
	return strings.Join(parts, " ")
}

// callerOutside returns the first caller outside this package: the
// CALLER_FILE and CALLER_LINE of an event.
func callerOutside() (string, int) {
	var pcs [16]uintptr
	n := runtime.Callers(3, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if !strings.Contains(f.Function, "poe-go/poe/poe.") || strings.HasSuffix(f.File, "_test.go") {
			return f.File, f.Line
		}
		if !more {
			return "", 0
		}
	}
}
