package wheel

import (
	"errors"
	"syscall"
	"testing"
)

func TestCheckCredential(t *testing.T) {
	// Not root: a change is EPERM, no change no credential.
	if _, err := checkCredential(65534, 1000, 1000, 1000); !errors.Is(err, syscall.EPERM) {
		t.Errorf("uid change as 1000: %v", err)
	}
	if _, err := checkCredential(1000, 0, 1000, 1000); !errors.Is(err, syscall.EPERM) {
		t.Errorf("gid change as 1000: %v", err)
	}
	if c, err := checkCredential(1000, 1000, 1000, 1000); c != nil || err != nil {
		t.Errorf("no change as 1000: %v %v", c, err)
	}
	// Root: the credential, supplementary groups cleared.
	c, err := checkCredential(65534, 65534, 0, 0)
	if err != nil || c == nil || c.Uid != 65534 || c.Gid != 65534 || c.Groups != nil || c.NoSetGroups {
		t.Errorf("root: %+v %v", c, err)
	}
}
