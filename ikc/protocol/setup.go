package protocol

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Setup is a parsed IKC0 SETUP line (ikc-protocol.md §5.1).
type Setup struct {
	Kernels  []string // KERNEL= list; the first is the sender's ID
	Freezers []string // FREEZER= list in order of preference
	PID      int      // PID=, 0 when absent
}

// ErrSetupSyntax reports a SETUP line that Perl's parser calls bad.
var ErrSetupSyntax = errors.New("ikc: bad SETUP line")

// ParseSetup parses "SETUP KERNEL=a,b;FREEZER=x,y;PID=123" with Perl's
// rules, except that field names must match whole (Perl matches them as
// substrings; ikc-protocol.md §16 #11): fields in any order, a field other than
// KERNEL=, FREEZER= and PID=<digits> makes the line bad, as does a
// missing or empty KERNEL list. Empty list items are dropped (Perl's
// split drops trailing ones). Errors wrap ErrSetupSyntax.
func ParseSetup(line string) (Setup, error) {
	var sp Setup
	rest, ok := strings.CutPrefix(line, "SETUP ")
	if !ok || rest == "" {
		return sp, fmt.Errorf("%w: %q", ErrSetupSyntax, line)
	}
	fields := strings.Split(rest, ";")
	for len(fields) > 0 && fields[len(fields)-1] == "" {
		fields = fields[:len(fields)-1] // Perl's split drops trailing empty fields
	}
	for _, field := range fields {
		key, val, _ := strings.Cut(field, "=")
		switch {
		case key == "KERNEL" && val != "":
			sp.Kernels = splitList(val)
			for _, k := range sp.Kernels {
				if !ValidName(k) {
					return Setup{}, fmt.Errorf("%w: kernel name %q in %q", ErrSetupSyntax, k, line)
				}
			}
		case key == "FREEZER" && val != "":
			sp.Freezers = splitList(val)
		case key == "PID" && val != "" && allDigits(val):
			pid, err := strconv.Atoi(val)
			if err != nil {
				return Setup{}, fmt.Errorf("%w: PID %q in %q", ErrSetupSyntax, val, line)
			}
			sp.PID = pid
		default:
			return Setup{}, fmt.Errorf("%w: unknown field %q in %q", ErrSetupSyntax, field, line)
		}
	}
	if len(sp.Kernels) == 0 {
		return Setup{}, fmt.Errorf("%w: no KERNEL in %q", ErrSetupSyntax, line)
	}
	return sp, nil
}

// String formats the line (without terminator).
func (sp Setup) String() string {
	s := "SETUP KERNEL=" + strings.Join(sp.Kernels, ",") + ";FREEZER=" + strings.Join(sp.Freezers, ",")
	if sp.PID > 0 {
		s += ";PID=" + strconv.Itoa(sp.PID)
	}
	return s
}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item != "" {
			out = append(out, item)
		}
	}
	return out
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
