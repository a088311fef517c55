// Package seedflag has the command line flag types of the options the
// examples share with the seed's Perl programs, so that a seed command
// line works unchanged.
package seedflag

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Seconds is a duration flag that takes the seed's form, a number of
// seconds ("30", "0.5"), as well as a Go duration ("30s", "1m30s"). It
// must not be negative. Use it for every duration flag of a seed option
// (babysit, timeouts).
type Seconds struct{ P *time.Duration }

// ErrNegative: a duration flag was given a negative value.
var ErrNegative = errors.New("negative duration")

// Var defines a Seconds flag on fs with the given default.
func Var(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(Seconds{p}, name, usage)
}

// String returns the duration in Go form.
func (s Seconds) String() string {
	if s.P == nil {
		return "0s"
	}
	return s.P.String()
}

// Set reads seconds or a Go duration.
func (s Seconds) Set(v string) error {
	d, err := parse(v)
	if err != nil {
		return err
	}
	*s.P = d
	return nil
}

func parse(v string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f*float64(time.Second) > math.MaxInt64 {
			return 0, fmt.Errorf("%q: not a number of seconds", v)
		}
		if f < 0 {
			return 0, fmt.Errorf("%q: %w", v, ErrNegative)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q: want seconds (30) or a duration (30s)", v)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q: %w", v, ErrNegative)
	}
	return d, nil
}
