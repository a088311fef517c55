use strict; use warnings;
use POE; use POSIX qw(WNOHANG);
# Which children POE reaps. mode none: nobody watches CHLD; mode sig: a
# blanket sig(CHLD); mode sig_child: sig_child on another pid only. The
# unregistered child exits with code 3; 0.5 s later its state is checked
# with waitpid (0: a zombie still there, -1: already reaped).
my $mode = shift || "none";
my @log; sub L { push @log, join(" ", @_) }
POE::Session->create(inline_states => {
  _start => sub { my $k = $_[KERNEL];
    $k->sig(CHLD => "chld") if $mode eq "sig";
    if ($mode eq "sig_child") {
      my $w = fork; if (!$w) { sleep 1; exit 0 }
      $k->sig_child($w, "reaped");
    }
    my $pid = fork; if (!$pid) { exit 3 }
    $_[HEAP]{pid} = $pid;
    $k->delay(check => 0.5);
  },
  chld   => sub { L("CHLD " . ($_[ARG1] == $_[HEAP]{pid} ? "unregistered" : "other") . " status $_[ARG2]") },
  reaped => sub { L("reaped registered") },
  check  => sub { my $r = waitpid($_[HEAP]{pid}, WNOHANG);
    L($r == -1 ? "check: already reaped" : $r == 0 ? "check: running" : "check: zombie (reaped now, status $?)");
    $_[KERNEL]->sig(CHLD => undef);
  },
});
POE::Kernel->run();
print "$_\n" for @log;
