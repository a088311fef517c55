package clienttcp_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/component/clienttcp"
	"github.com/poe-go/poe/internal/perltest"
	"github.com/poe-go/poe/poe"
)

// perlServer is a POE::Component::Server::TCP on a free port (printed
// first) that upper-cases lines and stops after its first client leaves.
const perlServer = `
use strict; use warnings;
use POE qw(Component::Server::TCP);
use Socket qw(sockaddr_in);
$| = 1;
POE::Component::Server::TCP->new(
  Address => '127.0.0.1', Port => 0, Alias => 'srv',
  Started => sub { print((sockaddr_in($_[HEAP]{listener}->getsockname))[0], "\n") },
  ClientConnected => sub { $_[HEAP]{client}->put("hello $_[HEAP]{remote_ip}") },
  ClientInput => sub { $_[HEAP]{client}->put(uc $_[ARG0]) },
  ClientDisconnected => sub { print "client left\n"; $_[KERNEL]->post(srv => 'shutdown') },
);
POE::Kernel->run;
print "server done\n";
`

// TestGoClientToPerlServer: a Go Client::TCP talks to Perl's Server::TCP.
func TestGoClientToPerlServer(t *testing.T) {
	perltest.Need(t, "", "POE")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "perl", "-e", perlServer)
	cmd.Stderr = os.Stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("perl printed %q", line)
	}
	log := &evlog{}
	k := poe.NewKernel(nil)
	if _, err := clienttcp.New(k, clienttcp.Options{
		RemoteAddress: "127.0.0.1", RemotePort: port,
		ServerInput: func(e *poe.Event) any {
			in := e.String(poe.ARG0)
			log.L("got %s", in)
			c := clienttcp.From(e)
			switch in {
			case "hello 127.0.0.1":
				c.Server.Put("abc", "def")
			case "DEF":
				e.Kernel.Yield("shutdown")
			}
			return nil
		},
		Disconnected: func(e *poe.Event) any { log.L("disconnected"); return nil },
	}); err != nil {
		t.Fatal(err)
	}
	runKernel(t, k, 20*time.Second)
	log.want(t, []string{"got hello 127.0.0.1", "got ABC", "got DEF", "disconnected"})
	rest, _ := r.ReadString(0)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("perl: %v", err)
	}
	if rest != "client left\nserver done\n" {
		t.Errorf("perl printed %q", rest)
	}
}
