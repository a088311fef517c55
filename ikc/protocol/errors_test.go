package protocol

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestErrorPrefixOnce: wrapped ikc errors do not repeat "ikc: ".
func TestErrorPrefixOnce(t *testing.T) {
	c, err := NewClientNegotiator(Config{Names: []string{"c"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Start(time.Now())
	_, _, err = c.Feed("SETUP KERNEL=S;FREEZER=Storable,YAML")
	for _, e := range []error{err, Wrap(ErrHandshake, err)} {
		if !errors.Is(e, ErrBadSetup) || strings.Count(e.Error(), "ikc: ") != 1 {
			t.Errorf("%q: want one \"ikc: \" and ErrBadSetup", e)
		}
	}
}
