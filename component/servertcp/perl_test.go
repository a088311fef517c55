package servertcp_test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/component/servertcp"
	"github.com/poe-go/poe/internal/perltest"
	"github.com/poe-go/poe/poe"
)

// perlClient is a POE::Component::Client::TCP that sends its arguments as
// lines, prints what comes back, and shuts down after "bye".
const perlClient = `
use strict; use warnings;
use POE qw(Component::Client::TCP);
my ($port, @lines) = @ARGV;
$| = 1;
POE::Component::Client::TCP->new(
  RemoteAddress => '127.0.0.1', RemotePort => $port,
  Connected => sub { $_[HEAP]{server}->put($_) for @lines },
  ServerInput => sub {
    print "got $_[ARG0]\n";
    $_[KERNEL]->yield('shutdown') if $_[ARG0] eq 'bye';
  },
  Disconnected => sub { print "disconnected\n" },
  ConnectError => sub { print "connect error @_[ARG0..ARG2]\n" },
);
POE::Kernel->run;
`

// TestPerlClientToGoServer: Perl's Client::TCP talks to a Go Server::TCP
// through the default Line filters of both.
func TestPerlClientToGoServer(t *testing.T) {
	perltest.Need(t, "", "POE")
	k := poe.NewKernel(nil)
	srv, err := servertcp.New(k, servertcp.Options{
		Address: "127.0.0.1", Alias: "srv",
		ClientConnected: func(e *poe.Event) any {
			servertcp.ConnOf(e).Client.Put("welcome")
			return nil
		},
		ClientInput: func(e *poe.Event) any {
			c := servertcp.ConnOf(e)
			if in := e.String(poe.ARG0); in == "quit" {
				c.Client.Put("bye")
				e.Kernel.Yield("shutdown")
				e.Kernel.Post("srv", "shutdown")
			} else {
				c.Client.Put(strings.ToUpper(in))
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "perl", "-e", perlClient, fmt.Sprint(srv.Port()), "one", "two", "quit")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	runKernel(t, k, 20*time.Second)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("perl: %v\n%s", err, out.String())
	}
	want := "got welcome\ngot ONE\ngot TWO\ngot bye\ndisconnected\n"
	if out.String() != want {
		t.Errorf("perl printed %q, want %q", out.String(), want)
	}
}
