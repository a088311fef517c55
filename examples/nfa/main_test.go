package main

import (
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/examples/internal/clitest"
)

// lines joins a transcript's lines as the program writes them.
func lines(l ...string) string { return strings.Join(l, "\n") + "\n" }

// The whole input arrives at once, in one read: the machine must change
// state between lines of the same batch.
func TestLoginShellPasswdLogoutQuit(t *testing.T) {
	bin := clitest.Build(t, ".")
	in := lines("alice", "secret", "whoami", "passwd", "new", "new", "frobnicate", "",
		"logout", "alice", "secret", "bob", "new", "alice", "new", "passwd", "x", "y", "quit", "ignored")
	r := clitest.RunInput(t, 10*time.Second, in, bin, "-user", "alice", "-password", "secret")
	want := lines(
		"login:", "password:", "welcome, alice", "$",
		"alice", "$",
		"new password:", "again:", "password changed", "$",
		"unknown command: frobnicate (whoami, passwd, logout, quit)", "$",
		"$",
		"bye, alice", "login:", "password:", "login incorrect", // the old password
		"login:", "password:", "login incorrect", // a wrong user
		"login:", "password:", "welcome, alice", "$",
		"new password:", "again:", "passwords differ; unchanged", "$",
		"bye, alice",
	)
	if r.Code != 0 || r.Stdout != want || r.Stderr != "" {
		t.Errorf("exit %d, stderr %q, stdout %q, want exit 0 and %q", r.Code, r.Stderr, r.Stdout, want)
	}
}

func TestFailedLoginsEndWithStatus1(t *testing.T) {
	bin := clitest.Build(t, ".")
	r := clitest.FailsInput(t, 10*time.Second, 1, []string{"nfa: too many failed logins"},
		lines("guest", "nope", "root", "guest", "never read"), bin, "-tries", "2")
	want := lines("login:", "password:", "login incorrect", "login:", "password:", "login incorrect; too many failures")
	if r.Stdout != want {
		t.Errorf("stdout %q, want %q", r.Stdout, want)
	}
}

func TestEndOfInputStopsInAnyState(t *testing.T) {
	bin := clitest.Build(t, ".")
	for _, in := range []string{"", lines("guest"), lines("guest", "guest"), lines("guest", "guest", "passwd", "x")} {
		r := clitest.RunInput(t, 10*time.Second, in, bin)
		if r.Code != 0 || r.Stderr != "" {
			t.Errorf("input %q: exit %d, stderr %q, want 0 and nothing", in, r.Code, r.Stderr)
		}
	}
}

func TestBadFlagsExit2(t *testing.T) {
	bin := clitest.Build(t, ".")
	clitest.BadFlag(t, bin)
	clitest.Fails(t, 10*time.Second, 2, []string{"nfa: -tries must be at least 1"}, bin, "-tries", "0")
	clitest.Fails(t, 10*time.Second, 2, []string{"no arguments"}, bin, "extra")
}
