use strict; use warnings;
use POE;
# run_while runs timeslices while the flag is true; sessions stay for a
# later run.
my @log; sub L { push @log, join(" ", @_) }
my $flag = 1;
POE::Session->create(inline_states => {
  _start => sub { $_[KERNEL]->yield(tick => 1) },
  tick   => sub { my $n = $_[ARG0]; L("tick $n"); $flag = 0 if $n == 3; $_[KERNEL]->yield(tick => $n + 1) if $n < 5 },
  _stop  => sub { L("stop") },
});
POE::Kernel->run_while(\$flag);
L("run_while returned");
my $never = 0;
POE::Kernel->run_while(\$never);
L("false flag returned");
POE::Kernel->run();
L("run returned");
print "$_\n" for @log;
