package nfa_test

// A differential test: the same machine in Perl POE::NFA and in Go.

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/poe-go/poe/internal/perltest"
	"github.com/poe-go/poe/nfa"
	"github.com/poe-go/poe/poe"
)

// perlMachine goes through queued and immediate transitions, leave
// handlers, call_state/return_state with arguments, _default and a stop
// with events queued before and after it, printing each handler run.
const perlMachine = `
use strict; use warnings;
use POE qw(NFA);
$| = 1;
sub logit {
  my @a = @_[ARG0 .. $#_];
  @a = ($a[0], @{$a[1]}) if $_[EVENT] eq '_default';
  my $who = $_[SENDER] == $_[MACHINE] ? 'self' : 'other';
  print join(' ', "$_[STATE]/$_[EVENT]", $who, @a), "\n";
}
POE::NFA->spawn(inline_states => {
  a => {
    start => sub { logit(@_); $_[KERNEL]->yield(ping => 1); $_[MACHINE]->goto_state(b => 'enter', 'x') },
    ping  => sub { logit(@_) },
    leave => sub { logit(@_) },
  },
  b => {
    enter => sub { logit(@_); $_[MACHINE]->call_state(back => c => 'enter', 'y'); $_[KERNEL]->yield(mystery => 2, 3) },
    leave => sub { logit(@_) },
    back  => sub {
      logit(@_);
      $_[MACHINE]->option(immediate => 1);
      $_[MACHINE]->goto_state(c => 'enter', 'z');
      print "now ", $_[MACHINE]->get_current_state, "\n";
      $_[KERNEL]->yield('late');
      $_[MACHINE]->stop;
      $_[KERNEL]->yield('after_stop');
    },
  },
  c => {
    enter    => sub { logit(@_) },
    late     => sub { logit(@_) },
    _default => sub { logit(@_); $_[MACHINE]->return_state('r1', 'r2') if $_[ARG0] eq 'mystery' },
  },
})->goto_state(a => 'start');
POE::Kernel->run;
print "done\n";
`

func TestTransitionsMatchPerlPOE(t *testing.T) {
	perltest.Need(t, "", "POE")
	out, err := exec.Command("perl", "-e", perlMachine).CombinedOutput()
	if err != nil {
		t.Fatalf("perl: %v\n%s", err, out)
	}

	var b strings.Builder
	logit := func(e *nfa.Event) {
		args := e.Args
		if e.Event == "_default" {
			args = append([]any{e.Arg(nfa.ARG0)}, e.Slice(nfa.ARG1)...)
		}
		who := "other"
		if e.Sender == e.Machine.Session() {
			who = "self"
		}
		f := []string{e.State + "/" + e.Event, who}
		for _, a := range args {
			f = append(f, fmt.Sprint(a))
		}
		fmt.Fprintln(&b, strings.Join(f, " "))
	}
	h := func(then func(e *nfa.Event)) nfa.Handler {
		return func(e *nfa.Event) any {
			logit(e)
			if then != nil {
				then(e)
			}
			return nil
		}
	}
	k := poe.NewKernel(nil)
	m, err := nfa.Spawn(k, nfa.Spec{Inline: map[string]nfa.States{
		"a": {
			"start": h(func(e *nfa.Event) {
				e.Kernel.Yield("ping", 1)
				must(t, e.Machine.GotoState("b", "enter", "x"))
			}),
			"ping":  h(nil),
			"leave": h(nil),
		},
		"b": {
			"enter": h(func(e *nfa.Event) {
				must(t, e.Machine.CallState("back", "c", "enter", "y"))
				e.Kernel.Yield("mystery", 2, 3)
			}),
			"leave": h(nil),
			"back": h(func(e *nfa.Event) {
				e.Machine.SetOption("immediate", 1)
				must(t, e.Machine.GotoState("c", "enter", "z"))
				fmt.Fprintln(&b, "now", e.Machine.CurrentState())
				e.Kernel.Yield("late")
				must(t, e.Machine.Stop())
				e.Kernel.Yield("after_stop")
			}),
		},
		"c": {
			"enter": h(nil),
			"late":  h(nil),
			"_default": h(func(e *nfa.Event) {
				if e.String(nfa.ARG0) == "mystery" {
					must(t, e.Machine.ReturnState("r1", "r2"))
				}
			}),
		},
	}})
	must(t, err)
	must(t, m.GotoState("a", "start"))
	must(t, run(t, k))
	b.WriteString("done\n")
	diff(t, strings.Split(b.String(), "\n"), strings.Split(string(out), "\n"))
}
