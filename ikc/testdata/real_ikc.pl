#!/usr/bin/perl
# A peer built on Perl's real POE::Component::IKC (0.2402 or 0.1904, found
# on @INC) for the Go interop tests; never committed with IKC itself.
#
#   perl real_ikc.pl --role server|client|lite [--port N] [--name NAME]
#        [--protocol IKC0|IKC] [--freezer F]
#
# server: POE::Component::IKC::Server on 127.0.0.1 (port 0: any, 0.2402).
# client: POE::Component::IKC::Client to 127.0.0.1:port.
# Both publish test/echo, test/describe (a canonical ASCII description of
# ARG0, see desc), test/add_1 ([n, spec]: posts n+1 to spec), test/posted
# (logs) and monitor every kernel (register, unregister, error).
# lite: POE::Component::IKC::ClientLite; reads commands, no POE loop.
#
# Stdout: one JSON object per line (ready, connected, register,
# unregister, error, invoke, answer, failed, battery). Stdin: one JSON
# command per line: {"op":"post","to":SPEC,"params":X},
# {"op":"call","to":SPEC,"params":X} (the answer comes as "answer"),
# {"op":"subscribe","spec":SPEC} (answered by "subscribed"),
# {"op":"proxy_post","session":PROXY,"state":S,"params":X},
# {"op":"post_respond",...} and {"op":"battery","to":SPEC} (lite only),
# {"op":"quit"}. EOF on stdin ends the process.
#
# The Client's subscribe option is not used: 0.2402 sends the
# subscriptions while its channel is still "finishing" and dies
# ("Attempting to send during finishing", Channel.pm). Subscribing once
# connected works.
use strict;
use warnings;
use Getopt::Long;
use JSON::PP;
use Digest::MD5 qw(md5_hex);
use POE qw(Wheel::ReadWrite Filter::Line);

my %opt = (role => 'server', port => 0, protocol => 'IKC0', freezer => 'Storable');
GetOptions(\%opt, 'role=s', 'port=i', 'name=s', 'protocol=s', 'freezer=s') or die "bad options\n";
$opt{name} ||= {server => 'PerlServer', client => 'PerlClient', lite => 'PerlLite'}->{$opt{role}};
$| = 1;
my $JSON = JSON::PP->new->canonical->allow_nonref->allow_blessed->allow_unknown->ascii;
sub out { print $JSON->encode($_[0]), "\n" }

# desc: the value as ASCII, exactly: undef, [a,b], {k=>v} (keys sorted),
# a scalar as the hex code points of its string value ('41.e9'), or
# past 64 characters #<length>:<md5 of that hex list>.
sub desc_str {
    my $h = join '.', map { sprintf '%x', ord } split //, $_[0];
    return length($_[0]) > 64 ? '#' . length($_[0]) . ':' . md5_hex($h) : "'$h'";
}
sub desc {
    my ($v) = @_;
    return 'undef' unless defined $v;
    return '[' . join(',', map { desc($_) } @$v) . ']' if ref $v eq 'ARRAY';
    return '{' . join(',', map { desc_str($_) . '=>' . desc($v->{$_}) } sort keys %$v) . '}' if ref $v eq 'HASH';
    return 'ref(' . ref($v) . ')' if ref $v;
    return desc_str("$v");
}

# same: equal as Perl sees it (defined-ness, string values, shapes).
sub same {
    my ($a, $b) = @_;
    return !defined $b if !defined $a;
    return 0 if !defined $b or ref $a ne ref $b;
    if (ref $a eq 'ARRAY') {
        return 0 unless @$a == @$b;
        same($a->[$_], $b->[$_]) or return 0 for 0 .. $#$a;
        return 1;
    }
    if (ref $a eq 'HASH') {
        return 0 unless join("\0", sort keys %$a) eq join("\0", sort keys %$b);
        same($a->{$_}, $b->{$_}) or return 0 for keys %$a;
        return 1;
    }
    return "$a" eq "$b";
}

# The value battery, the same as the Go tests' (interop_matrix_test.go).
sub battery {
    my $deep = 'deep';
    $deep = [$deep] for 1 .. 64;
    my $big = join '', map { chr(32 + $_ % 90) } 0 .. 65535;
    return (
        [int32_max => 2147483647], [int32_min => -2147483648], [int32_over => 2147483648],
        [int53 => 9007199254740992], [int53_over => 9007199254740993], [int53_neg => -9007199254740993],
        [int64_max => 9223372036854775807], [int64_min => -9223372036854775807 - 1],
        [uint64_max => 18446744073709551615],
        [float_tenth => 0.1], [float_tiny => -1.5e-300], [float_huge => 1e300], [float_pi => 3.14159],
        [empty => ''], [zero => '0'], [leading_zeros => '007'],
        [utf8 => "h\x{e9}llo w\x{f6}rld \x{263a} \x{65e5}\x{672c} \x{1f600}"],
        [latin1_chars => join('', map { chr } 0xa0 .. 0xff) . "\x{100}"],
        [nul_crlf => "a\0b\r\nc\n"],
        [bytes => join('', map { chr } 0 .. 255)],
        [big => $big],
        [deep => $deep],
        [undef_in_array => [1, undef, 3]],
        [undef_values => {a => undef, b => 1}],
        [keys => {'' => 'empty', "\x{43a}\x{43b}\x{44e}\x{447}" => 'ru', "\x{e9}" => 'e-acute', plain => 1}],
    );
}

my $ROLE = $opt{role};
if ($ROLE eq 'lite') { lite(); exit 0 }

if ($ROLE eq 'server') {
    require POE::Component::IKC::Server;
    my %p = (ip => '127.0.0.1', port => $opt{port}, name => $opt{name});
    $p{protocol} = $opt{protocol} if $POE::Component::IKC::Server::VERSION >= 0.23;
    my $port = POE::Component::IKC::Server->spawn(%p);
    $port = $opt{port} if $opt{port};
    die "no server\n" unless $port;
    out({ev => 'ready', port => 0 + $port, version => "$POE::Component::IKC::Server::VERSION"});
} else {
    require POE::Component::IKC::Client;
    POE::Component::IKC::Client->spawn(
        ip => '127.0.0.1', port => $opt{port}, name => $opt{name}, protocol => $opt{protocol},
        serializers => [$opt{freezer}],
        on_connect => sub { out({ev => 'connected'}) },
        on_error   => sub { out({ev => 'error', op => $_[0], text => "$_[2]"}) },
    );
}

POE::Session->create(inline_states => {
    _start => sub {
        my $k = $_[KERNEL];
        $k->alias_set('test');
        $k->call(IKC => publish => test => [qw(echo describe add_1 posted)]);
        $k->call(IKC => monitor => '*' => {register => 'mon_reg', unregister => 'mon_unreg', error => 'mon_err'});
        $_[HEAP]{stdin} = POE::Wheel::ReadWrite->new(InputHandle => \*STDIN, OutputHandle => \*STDERR,
            Filter => POE::Filter::Line->new, InputEvent => 'stdin', ErrorEvent => 'stdin_eof');
    },
    echo     => sub { return $_[ARG0] },
    describe => sub { return desc($_[ARG0]) },
    add_1    => sub { my ($n, $spec) = @{$_[ARG0]}; $_[KERNEL]->post(IKC => post => $spec, $n + 1); return },
    posted   => sub { out({ev => 'invoke', state => 'posted', desc => desc($_[ARG0])}); return },
    answer   => sub { out({ev => 'answer', desc => desc($_[ARG0]), value => $_[ARG0]}) },
    subscribed => sub { out({ev => 'subscribed', specs => [@_[ARG0 .. $#_]]}) },
    mon_reg   => sub { out({ev => 'register', id => $_[ARG1], real => $_[ARG2] ? 1 : 0}) },
    mon_unreg => sub { out({ev => 'unregister', id => $_[ARG1], real => $_[ARG2] ? 1 : 0}) },
    mon_err   => sub { out({ev => 'error', id => $_[ARG1], op => $_[ARG4], text => "" . ($_[ARG5] // '')}) },
    stdin => sub {
        my $c = eval { $JSON->decode($_[ARG0]) } or return out({ev => 'failed', text => "bad command"});
        my ($k, $op) = ($_[KERNEL], $c->{op} // '');
        if    ($op eq 'quit') { out({ev => 'bye'}); exit 0 }
        elsif ($op eq 'post') { $k->post(IKC => post => $c->{to}, $c->{params}) }
        elsif ($op eq 'call') { $k->post(IKC => call => $c->{to}, $c->{params}, 'poe:answer') }
        elsif ($op eq 'proxy_post') { $k->post($c->{session}, $c->{state}, $c->{params}) }
        elsif ($op eq 'subscribe') { $k->post(IKC => subscribe => [$c->{spec}], 'subscribed') }
        else { out({ev => 'failed', text => "unknown command $op"}) }
    },
    stdin_eof => sub { exit 0 },
});
POE::Kernel->run;
exit 0;

# The ClientLite role: one blocking command at a time.
sub lite {
    require POE::Component::IKC::ClientLite;
    my %p = (port => $opt{port}, name => $opt{name}, serialiser => $opt{freezer}, timeout => 10);
    $p{protocol} = $opt{protocol} if $POE::Component::IKC::ClientLite::VERSION >= 0.23;
    my $lite = POE::Component::IKC::ClientLite->spawn(%p);
    unless ($lite) {
        out({ev => 'failed', text => POE::Component::IKC::ClientLite::error()});
        exit 1;
    }
    out({ev => 'connected'});
    while (my $line = <STDIN>) {
        my $c = eval { $JSON->decode($line) } or next;
        my $op = $c->{op} // '';
        last if $op eq 'quit';
        if ($op eq 'post') {
            $lite->post($c->{to}, $c->{params}) or out({ev => 'failed', text => $lite->error});
            out({ev => 'posted'});
        } elsif ($op eq 'call' or $op eq 'post_respond') {
            my $r = $op eq 'call' ? $lite->call($c->{to}, $c->{params}) : $lite->post_respond($c->{to}, $c->{params});
            if (defined $r) { out({ev => 'answer', desc => desc($r), value => $r}) }
            else            { out({ev => 'failed', text => "" . ($lite->error // '')}) }
        } elsif ($op eq 'battery') {
            my @res;
            for my $case (battery()) {
                my ($name, $v) = @$case;
                my $r = $lite->call($c->{to}, [$v]);    # [v]: an array survives every freezer
                my $got = defined $r ? $r->[0] : undef;
                push @res, {name => $name, ok => (defined $r && same($v, $got)) ? 1 : 0,
                            ($r ? () : (error => "" . ($lite->error // ''))),
                            want => substr(desc($v), 0, 300), got => substr(desc($got), 0, 300)};
            }
            out({ev => 'battery', results => \@res});
        }
    }
    $lite->disconnect;
}
