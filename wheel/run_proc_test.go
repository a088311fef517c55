package wheel

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The way Priority is applied outside Linux: the parent renices the child
// after the fork. The child here sleeps first, so that it reads its nice
// value after the renice.
func TestStartChildRenice(t *testing.T) {
	const sh = "/bin/sh"
	base, err := processNice()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "nice")
	attr := &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}}
	pid, err := startChildRenice(sh, []string{"sh", "-c", "sleep 0.3; nice > " + out}, attr, 5)
	if err != nil {
		t.Fatal(err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
		t.Fatalf("child: %v, status %v", err, ws)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(b)), strconv.Itoa(min(19, base+5)); got != want {
		t.Errorf("child's nice %s, want %s", got, want)
	}
	if os.Geteuid() != 0 {
		// Lowering it needs privilege: an error, and no child left.
		pid, err := startChildRenice(sh, []string{"sh", "-c", "sleep 10"}, attr, -1)
		if err == nil || pid != -1 {
			t.Errorf("negative Priority without privilege: pid %d, %v", pid, err)
		}
	}
}

// scanFds (closeInherited's list where the system has none) finds what
// the system's own list has, a new pipe included.
func TestScanFds(t *testing.T) {
	var p [2]int
	if err := pipeCloexec(p[:]); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	list := openFds()
	scanned := scanFds()
	has := func(fds []int, fd int) bool {
		for _, f := range fds {
			if f == fd {
				return true
			}
		}
		return false
	}
	for _, fd := range p {
		if !has(scanned, fd) {
			t.Errorf("scan missed fd %d: %v", fd, scanned)
		}
	}
	// The listing may hold its own directory's descriptor, closed since.
	for _, fd := range list {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); !has(scanned, fd) && err == nil {
			t.Errorf("scan missed fd %d, listed as open", fd)
		}
	}
}
