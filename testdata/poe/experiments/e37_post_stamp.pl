use strict; use warnings;
use POE; use Time::HiRes qw(sleep);
# A post is stamped with the time it is made: a timer that falls due
# while a handler runs goes between what the handler posted before and
# after that moment.
my @log; sub L { push @log, join(" ", @_) }
POE::Session->create(inline_states => {
  _start => sub { $_[KERNEL]->delay(timer => 0.05); $_[KERNEL]->yield("slow") },
  slow   => sub { my $k = $_[KERNEL];
    $k->yield("early");          # before the timer falls due
    sleep 0.1;                   # the timer falls due here
    $k->yield("late");           # after it
    L("slow");
  },
  early => sub { L("early") }, late => sub { L("late") }, timer => sub { L("timer") },
});
POE::Kernel->run();
print "$_\n" for @log;
