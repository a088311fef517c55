#!/usr/bin/perl
# The Perl half of examples/perl-pair: an IKC client on plain POE
# (SocketFactory, ReadWrite, Filter::Line, Filter::Reference, Storable),
# so POE::Component::IKC need not be installed. It speaks the IKC0 dialect
# (one SETUP line each way, then Storable frames) as docs/ikc-protocol.md
# describes it (sections 5, 6, 8 and 10).
#
#   perl peer.pl --port 6671 [--host 127.0.0.1] [--name PerlSide]
#
# Once connected it posts go/greet, calls go/add (the sum comes back to
# perl/sum) and calls go/secret (not published: an error comes back to
# IKC/remote_error). It publishes perl/hello (prints), perl/double
# (returns twice its argument) and perl/bye (disconnects: the program
# ends). Everything it does is printed on stdout, one line each.
use strict;
use warnings;
use Getopt::Long;
use Socket qw(unpack_sockaddr_in inet_ntoa);
use POE qw(Wheel::SocketFactory Wheel::ReadWrite Filter::Line Filter::Reference);

my %opt = (host => '127.0.0.1', port => 6671, name => 'PerlSide', timeout => 20);
GetOptions(\%opt, 'host=s', 'port=i', 'name=s', 'timeout=i') or die "usage: peer.pl --port N\n";
$| = 1;

# What remote kernels may invoke here, and the replies we wait for.
my %published = (perl => {map { $_ => 1 } qw(hello double bye)}, IKC => {map { $_ => 1 } qw(ping remote_error)});
my %allow;
my $server;    # the server's kernel name, for our targets

# A specifier (hash or "poe://kernel/session/state") as its three parts.
sub spec {
    my ($s) = @_;
    return ($s->{kernel} // '', $s->{session} // '', $s->{state} // '') if ref $s eq 'HASH';
    return ($1 // '', $2, $3) if defined $s and $s =~ m{^poe:(?://([^/]+))?/([-\w ]+)/([-\w ]+)$};
    return ('', '', '');
}

# Who we are, in every message: replies through our SENDER come back here.
sub from { return {kernel => $poe_kernel->ID, session => 'perl', state => 'IKC:proxy'} }

sub send_msg {
    my ($heap, $msg) = @_;
    $heap->{wheel}->put($msg) if $heap->{wheel};
}

# A call: the target's return value comes back as a message to perl/$state.
sub call {
    my ($heap, $to, $params, $state) = @_;
    $allow{"perl/$state"}++;
    send_msg($heap, {event => $to, params => $params, from => from(),
                     rsvp => {kernel => $poe_kernel->ID, session => 'perl', state => $state}});
}

# IKC has no goodbye: we disconnect once Go said bye and every answer we
# wait for has come.
sub answered {
    my ($kernel, $heap, $n) = @_;
    $heap->{waiting} -= $n // 1;
    done($kernel, $heap) if $heap->{bye} and $heap->{waiting} <= 0;
}

sub done {
    my ($kernel, $heap) = @_;
    delete $heap->{wheel};
    $kernel->delay('watchdog');
    $kernel->alias_remove('perl');
}

POE::Session->create(inline_states => {
    _start => sub {
        my ($kernel, $heap) = @_[KERNEL, HEAP];
        $kernel->alias_set('perl');
        $kernel->delay(watchdog => $opt{timeout});
        $heap->{connector} = POE::Wheel::SocketFactory->new(
            RemoteAddress => $opt{host}, RemotePort => $opt{port},
            SuccessEvent => 'connected', FailureEvent => 'failed');
    },
    connected => sub {
        my ($kernel, $heap, $sock) = @_[KERNEL, HEAP, ARG0];
        delete $heap->{connector};
        my ($port, $addr) = unpack_sockaddr_in(getsockname $sock);
        $heap->{wheel} = POE::Wheel::ReadWrite->new(Handle => $sock, Filter => POE::Filter::Line->new,
            InputEvent => 'setup', ErrorEvent => 'disconnected');
        # IKC0: our names (the kernel ID first), the freezer, our PID.
        $heap->{wheel}->put(sprintf 'SETUP KERNEL=%s,%s,%s:%d;FREEZER=Storable;PID=%d',
            $kernel->ID, $opt{name}, inet_ntoa($addr), $port, $$);
    },
    setup => sub {
        my ($kernel, $heap, $line) = @_[KERNEL, HEAP, ARG0];
        my ($names, $freezer) = $line =~ /^SETUP KERNEL=([^;]+);FREEZER=([^;]+)/
            or die "unexpected answer to SETUP: $line\n";
        die "the server chose freezer $freezer\n" unless $freezer eq 'Storable';
        my @names = split /,/, $names;
        $server = $names[1] // $names[0];
        print "connected to $server\n";
        # Frames from now on, both ways. Frames already read go to the new
        # filter and are delivered at once.
        $heap->{wheel}->event(InputEvent => 'message');
        $heap->{wheel}->set_filter(POE::Filter::Reference->new('Storable'));
        $kernel->yield('talk');
    },
    talk => sub {
        my $heap = $_[HEAP];
        $heap->{waiting} = 2;    # the sum and the error for go/secret
        send_msg($heap, {event => "poe://$server/go/greet", params => 'hello from Perl', from => from()});
        call($heap, "poe://$server/go/add", [1, 2, 3, 4], 'sum');
        call($heap, "poe://$server/go/secret", 'x', 'secret');
    },
    message => sub {
        my ($kernel, $heap, $session, $msg) = @_[KERNEL, HEAP, SESSION, ARG0];
        my ($to_kernel, $to_session, $state) = spec($msg->{event});
        my @args = ($msg->{params});
        if ($state eq 'IKC:proxy') {    # a post with several arguments: [state, [args]]
            my $args;
            ($state, $args) = @{$msg->{params}};
            @args = @$args;
        }
        if ($allow{"$to_session/$state"}) {
            $allow{"$to_session/$state"}--;
        } elsif (!$published{$to_session} or !$published{$to_session}{$state}) {
            return if $msg->{is_error};
            my $text = "Session '$to_session' has not published state '$state'";
            return send_msg($heap, {event => {kernel => $server, session => 'IKC', state => 'remote_error'},
                                    params => [$text, $to_kernel, 'check'], is_error => 1});
        }
        # This one session stands for both "perl" and "IKC".
        my $ret = $kernel->call($session, $state, @args);
        send_msg($heap, {event => $msg->{rsvp}, params => $ret, from => from()}) if $msg->{rsvp} and defined $ret;
    },
    hello  => sub { print "got hello: $_[ARG0]\n"; return },
    double => sub { print "double($_[ARG0]) asked\n"; return 2 * $_[ARG0] },
    sum    => sub { print "add returned $_[ARG0]\n"; answered(@_[KERNEL, HEAP]); return },
    secret => sub { print "secret returned $_[ARG0]\n"; return },
    ping   => sub { return 'PONG' },
    remote_error => sub {
        my $e = $_[ARG0];
        print 'remote error: ', (ref $e eq 'ARRAY' ? $e->[0] : $e), "\n";
        answered(@_[KERNEL, HEAP]);
        return;
    },
    bye => sub {
        print "bye\n";
        $_[HEAP]{bye} = 1;
        answered(@_[KERNEL, HEAP], 0);
        return;
    },
    disconnected => sub { print "disconnected\n"; done(@_[KERNEL, HEAP]) },
    failed   => sub { print STDERR "$_[ARG0] failed: $_[ARG2]\n"; exit 1 },
    watchdog => sub { print STDERR "no bye within $opt{timeout} s\n"; exit 1 },
});
POE::Kernel->run;
