package seedflag

import (
	"errors"
	"flag"
	"io"
	"testing"
	"time"
)

func TestSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30": 30 * time.Second, "0": 0, "0.5": 500 * time.Millisecond, "30s": 30 * time.Second,
		"1m30s": 90 * time.Second, "250ms": 250 * time.Millisecond, "1e1": 10 * time.Second,
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var d time.Duration
		Var(fs, &d, "babysit", time.Hour, "")
		if err := fs.Parse([]string{"-babysit", in}); err != nil || d != want {
			t.Errorf("-babysit %s: %v, %v; want %v", in, d, err, want)
		}
	}
	for _, in := range []string{"", "x", "30 s", "-1", "-5s", "NaN", "Inf", "1e300"} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var d time.Duration
		Var(fs, &d, "babysit", time.Hour, "")
		if err := fs.Parse([]string{"-babysit", in}); err == nil {
			t.Errorf("-babysit %q accepted as %v", in, d)
		}
	}
	var d time.Duration
	if err := (Seconds{&d}).Set("-2"); !errors.Is(err, ErrNegative) {
		t.Errorf("-2: %v, want ErrNegative", err)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	Var(fs, &d, "babysit", 30*time.Second, "")
	if d != 30*time.Second || fs.Lookup("babysit").DefValue != "30s" {
		t.Errorf("default %v, shown as %q", d, fs.Lookup("babysit").DefValue)
	}
}
