// Command nfa is a login dialogue on POE::NFA (package nfa): one machine
// whose "line" event, a line read from standard input, means a user name,
// a password, a shell command or a new password depending on the state
// the machine is in. "passwd" is a sub-dialogue entered with CallState and
// left with ReturnState, back in the shell with its outcome.
//
//	go run ./examples/nfa -user alice -password secret
//	login:
//	alice
//	password:
//	secret
//	welcome, alice
//	$
//	whoami          (or passwd, logout, quit)
//
// The status is 0 after quit or end of input, 1 after -tries failed
// logins, 2 for a bad flag.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/poe-go/poe/nfa"
	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
	"github.com/poe-go/poe/wheel/filter"
)

var (
	// errLocked is run's error once a user has failed to log in -tries
	// times.
	errLocked = errors.New("too many failed logins")
	// errUsage is run's error for bad flags, already reported.
	errUsage = errors.New("usage")
)

// account is the machine's RUNSTATE.
type account struct {
	user, password string
	maxTries       int

	io      *wheel.ReadWrite
	name    string // the name typed at login:
	tries   int
	first   string // passwd's first entry of the new password
	entered bool
	locked  bool
}

func (a *account) say(lines ...string) {
	for _, l := range lines {
		a.io.Put(l)
	}
}

func rs(e *nfa.Event) *account { return nfa.RunstateOf[*account](e) }

// states are the machine's banks of handlers. Each handles "line" its own
// way, and "input_error" (end of input) the same way.
func states() map[string]nfa.States {
	eof := func(e *nfa.Event) any { return e.Machine.Stop() }
	st := map[string]nfa.States{
		"setup": {
			"start": func(e *nfa.Event) any {
				a := rs(e)
				w, err := wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{
					InputHandle: os.Stdin, OutputHandle: os.Stdout, NoClose: true,
					Filter:     filter.MustLine(filter.LineOptions{OutputLiteral: "\n"}),
					InputEvent: "line", ErrorEvent: "input_error", AutoFlush: true,
				})
				if err != nil {
					panic(err) // a DIE: Run returns it
				}
				a.io = w
				return e.Machine.GotoState("login", "prompt")
			},
		},
		"login": {
			"prompt": func(e *nfa.Event) any { rs(e).say("login:"); return nil },
			"line": func(e *nfa.Event) any {
				rs(e).name = strings.TrimSpace(e.String(nfa.ARG0))
				return e.Machine.GotoState("password", "prompt")
			},
		},
		"password": {
			"prompt": func(e *nfa.Event) any { rs(e).say("password:"); return nil },
			"line": func(e *nfa.Event) any {
				a := rs(e)
				if a.name == a.user && e.String(nfa.ARG0) == a.password {
					a.tries = 0
					return e.Machine.GotoState("shell", "welcome")
				}
				a.tries++
				if a.tries >= a.maxTries {
					a.say("login incorrect; too many failures")
					a.locked = true
					return closeDown(e)
				}
				a.say("login incorrect")
				return e.Machine.GotoState("login", "prompt")
			},
		},
		"shell": {
			"welcome": func(e *nfa.Event) any {
				a := rs(e)
				a.say("welcome, "+a.name, "$")
				return nil
			},
			"line": func(e *nfa.Event) any {
				a := rs(e)
				switch cmd := strings.TrimSpace(e.String(nfa.ARG0)); cmd {
				case "":
				case "whoami":
					a.say(a.name)
				case "passwd":
					// A sub-dialogue: "changed" comes back here with its result.
					return e.Machine.CallState("changed", "passwd", "prompt")
				case "logout":
					a.say("bye, " + a.name)
					return e.Machine.GotoState("login", "prompt")
				case "quit":
					a.say("bye, " + a.name)
					return closeDown(e)
				default:
					a.say("unknown command: " + cmd + " (whoami, passwd, logout, quit)")
				}
				a.say("$")
				return nil
			},
			"changed": func(e *nfa.Event) any {
				if e.Bool(nfa.ARG0) {
					rs(e).say("password changed", "$")
				} else {
					rs(e).say("passwords differ; unchanged", "$")
				}
				return nil
			},
		},
		// The stop is queued: lines read in the same batch still come,
		// and are ignored here.
		"closed": {"_default": func(*nfa.Event) any { return nil }},
		"passwd": {
			"prompt": func(e *nfa.Event) any {
				a := rs(e)
				a.entered = false
				a.say("new password:")
				return nil
			},
			"line": func(e *nfa.Event) any {
				a := rs(e)
				if !a.entered {
					a.first, a.entered = e.String(nfa.ARG0), true
					a.say("again:")
					return nil
				}
				same := e.String(nfa.ARG0) == a.first
				if same {
					a.password = a.first
				}
				return e.Machine.ReturnState(same)
			},
		},
	}
	for name, bank := range st {
		if name != "closed" {
			bank["input_error"] = eof
		}
	}
	return st
}

// closeDown ends the dialogue: the machine enters "closed" at once and
// stops once the events already queued have run.
func closeDown(e *nfa.Event) any {
	if err := e.Machine.GotoState("closed", ""); err != nil {
		return err
	}
	return e.Machine.Stop()
}

// run runs the dialogue on the process's standard input and output.
func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("nfa", flag.ContinueOnError)
	fs.SetOutput(stderr)
	a := &account{}
	fs.StringVar(&a.user, "user", "guest", "the user name to accept")
	fs.StringVar(&a.password, "password", "guest", "its password")
	fs.IntVar(&a.maxTries, "tries", 3, "failed logins before giving up")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage // the flag package has said why
	}
	if a.maxTries < 1 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "nfa: -tries must be at least 1 and there are no arguments")
		return errUsage
	}
	k := poe.NewKernel(nil)
	_, err := nfa.Spawn(k, nfa.Spec{
		Inline:   states(),
		Runstate: a,
		// Lines come in batches (a pipe's read may hold several): a
		// queued transition would leave the next lines of the batch to
		// the old state, so transitions are immediate.
		Options:    map[string]any{"immediate": true},
		StartState: "setup",
		StartEvent: "start",
	})
	if err != nil {
		return err
	}
	if err := k.Run(); err != nil {
		return err
	}
	if a.locked {
		return errLocked
	}
	return nil
}

func main() {
	switch err := run(os.Args[1:], os.Stderr); {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "nfa:", err)
		os.Exit(1)
	}
}
