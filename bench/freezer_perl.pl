#!/usr/bin/perl
# Perl side of the freezer benchmarks (bench/freezer_test.go): times XS
# Storable's nfreeze and thaw on the same two values the Go benchmarks use
# and prints one line per figure, in the style of `go test -bench`:
#
#   perl bench/freezer_perl.pl [seconds-per-figure]
#   perl bench/freezer_perl.pl --dump ikc-call|1MiB   (hex image, for tests)
#
# ikc-call is the golden vector 57-ikc-call; 1MiB is make_big() below, the
# recipe bigItems() in freezer_test.go follows. Keys are frozen in sorted
# order ($Storable::canonical) so that the bytes equal Go's encoding; the
# script prints the image sizes so that can be checked.
use strict;
use warnings;
use Storable qw(nfreeze thaw);
use Time::HiRes qw(time);

my $secs = shift // 2;
$Storable::canonical = 1;

sub make_big {
    return [ map { {
        id => $_, name => "user-$_", email => "user$_\@example.com",
        score => $_ * 1.5, tags => ["a$_", "b", "c"], active => $_ % 2,
        meta => { created => 1700000000 + $_, ref => "x" x 20 },
    } } 0 .. 5999 ];
}

my %values = (
    'ikc-call' => { event => "poe://Server/test/add", params => [2, 3],
                    rsvp => { kernel => "Client", session => 2, state => "answer" } },
    '1MiB'     => make_big(),
);

if ($secs eq '--dump') {
    # Print the canonical nfreeze image of one value, in hex (used by
    # TestBenchValuesMatchPerl).
    binmode STDOUT;
    print unpack("H*", nfreeze($values{shift()})), "\n";
    exit 0;
}

sub bench {
    my ($name, $code) = @_;
    my ($n, $batch, $t0) = (0, 1, time);
    my $elapsed;
    while (1) {
        $code->() for 1 .. $batch;
        $n += $batch;
        $elapsed = time - $t0;
        last if $elapsed >= $secs;
        $batch *= 2 if $batch < 1_000_000;
    }
    printf "%-32s %10d %14.0f ns/op\n", $name, $n, $elapsed / $n * 1e9;
}

for my $name ('ikc-call', '1MiB') {
    my $v = $values{$name};
    my $frozen = nfreeze($v);
    printf "# %s: nfreeze image %d bytes, Storable %s, perl %vd\n", $name, length $frozen, $Storable::VERSION, $^V;
    bench("PerlStorableThaw/$name", sub { my $x = thaw($frozen) });
    bench("PerlStorableNfreeze/$name", sub { my $x = nfreeze($v) });
}
