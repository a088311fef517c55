use strict; use warnings;
use POE;
# call() in list and scalar context, into the caller itself and into
# another session.
my @log; sub L { push @log, join(" ", @_) }
sub show { my ($what, @r) = @_; L("$what n=" . scalar(@r) . " [" . join(",", map { defined ? $_ : "undef" } @r) . "]") }
POE::Session->create(inline_states => {
  _start => sub { my $k = $_[KERNEL]; $k->alias_set("t");
    show("self list", $k->call(t => "lst"));
    my $s = $k->call(t => "lst"); L("self scalar $s");
  },
  lst => sub { return (1, 2, 3) }, empty => sub { return }, one => sub { return "x" },
});
POE::Session->create(inline_states => {
  _start => sub { my $k = $_[KERNEL];
    show("other list", $k->call(t => "lst"));
    my $s = $k->call(t => "lst"); L("other scalar $s");
    show("empty", $k->call(t => "empty"));
    my $e = $k->call(t => "empty"); L("empty scalar " . (defined $e ? $e : "undef"));
    show("one", $k->call(t => "one"));
    show("nohandler", $k->call(t => "nosuch"));
    show("unresolved", $k->call(nobody => "lst")); L("errno " . ($! + 0));
  },
});
POE::Kernel->run();
print "$_\n" for @log;
