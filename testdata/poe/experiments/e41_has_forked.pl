use strict; use warnings;
sub POE::Kernel::ASSERT_USAGE () { 1 }
use POE;
# has_forked in the parent warns and changes nothing; in a child it
# renews the kernel's ID.
$SIG{__WARN__} = sub { my $w = shift; $w =~ s/\s+at .*//s; print "warn: $w\n" };
my $id = $poe_kernel->ID;
$poe_kernel->has_forked;
print "parent: ID ", ($poe_kernel->ID eq $id ? "unchanged" : "changed"), "\n";
pipe(my $r, my $w) or die;
my $pid = fork;
if (!$pid) {
  close $r;
  $poe_kernel->has_forked;
  print $w "child: ID ", ($poe_kernel->ID eq $id ? "unchanged" : "changed"), "\n";
  close $w;
  POSIX::_exit(0);
}
close $w; print while <$r>; waitpid($pid, 0);
POE::Kernel->run();
