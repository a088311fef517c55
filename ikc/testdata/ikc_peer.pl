#!/usr/bin/perl
# A small IKC peer written for the Go interop tests, on plain POE:
# POE::Wheel::SocketFactory, POE::Wheel::ReadWrite, POE::Filter::Line,
# POE::Filter::Reference and Storable (or YAML). It does NOT use
# POE::Component::IKC: it speaks the protocol as ../../docs/ikc-protocol.md
# describes it (negotiation 4.4/4.5/5, frames 6, messages 8, the responder
# rules of 10.1, 10.3, 10.5, 10.7).
#
#   perl ikc_peer.pl --role server|client [--protocol IKC0|IKC]
#        [--name NAME] [--port N | --unix PATH] [--freezer Storable|YAML|FreezeThaw]
#
# Role server listens on 127.0.0.1 (port 0: any) or a Unix socket; role
# client connects to one. Both publish a session:
#   test/echo    returns its argument           test/add   returns the sum of an array
#   test/add_1   [n, spec]: posts n+1 to spec (ClientLite post_respond)
#   test/posted  logs only (returns undef)       test/tell  posts 'told' [arg] back to the sender
#   test/describe  returns ARG0 described in ASCII (see desc; as real_ikc.pl)
#   perl/hey     logs                            perl/double returns 2*arg
# plus the built-in IKC/ping, IKC/do_you_have and IKC/remote_error.
#
# Stdout: one JSON object per line (ready, register, unregister, invoke,
# answer, remote_error, local_error, error). Stdin: one JSON command per
# line: {"op":"post","to":SPEC,"params":X,"from":1},
# {"op":"call","to":SPEC,"params":X,"state":"answer"},
# {"op":"proxy","to":{kernel,session},"state":S,"args":[...]},
# {"op":"subscribe","spec":{kernel,session[,state]}}, {"op":"quit"}.
# EOF on stdin ends the process.
use strict;
use warnings;
use Getopt::Long;
use Socket qw(AF_UNIX AF_INET unpack_sockaddr_in inet_ntoa);
use JSON::PP;
use Digest::MD5 qw(md5_hex);
use POE qw(Wheel::SocketFactory Wheel::ReadWrite Filter::Line Filter::Reference);

my %opt = (role => 'server', protocol => 'IKC0', port => 0, freezer => 'Storable');
GetOptions(\%opt, 'role=s', 'protocol=s', 'name=s', 'port=i', 'unix=s', 'freezer=s') or die "bad options\n";
$opt{name} ||= $opt{role} eq 'server' ? 'PerlServer' : 'PerlClient';
$| = 1;
my $JSON = JSON::PP->new->canonical->allow_nonref->allow_blessed->allow_unknown;
sub out { print $JSON->encode($_[0]), "\n" }

my %published = (
    IKC  => {map { $_ => 1 } qw(remote_error do_you_have ping)},
    test => {map { $_ => 1 } qw(echo add add_1 posted tell describe)},
    perl => {map { $_ => 1 } qw(hey double)},
);
my %allow;    # "session/state" => pending replies (10.3)
my %conns;    # wheel id => {wheel, phase, remote, names, ...}
my %names;    # remote name => wheel id
my $ID;

sub spec_parse {
    my ($s) = @_;
    return {kernel => $s->{kernel} // '', session => $s->{session} // '', state => $s->{state} // ''}
        if ref $s eq 'HASH';
    return undef unless defined $s and !ref $s;
    return {kernel => $1 // '', session => $2, state => $3, args => $4}
        if $s =~ m{^poe:(?://([^/]+))?/([-\w ]+)/([-\w ]+)(?:\?(\w+))?$};
    return {kernel => $1 // '', session => $2, state => ''} if $s =~ m{^poe:(?://([^/]+))?/([-\w ]+)$};
    return undef;
}

sub spec_name {
    my ($s) = @_;
    my $n = 'poe:';
    $n .= "//$s->{kernel}" if $s->{kernel};
    $n .= "/$s->{session}" if $s->{session};
    $n .= "/$s->{state}"   if $s->{state};
    return $n;
}

sub sockname {
    my ($sock, $client, $fd) = @_;
    if ($opt{unix}) {
        (my $p = $opt{unix}) =~ s/[^-:.\w]+/_/g;
        return $client ? "unix:$p:$$-$fd" : "unix:$p";
    }
    my ($port, $addr) = unpack_sockaddr_in(getsockname($sock));
    return inet_ntoa($addr) . ":$port";
}

sub put_line { $_[0]{wheel}->put($_[1]) }

sub switch_frames {
    my ($c, $freezer) = @_;
    $c->{freezer} = $freezer;
    $c->{phase}   = 'frames';
    $c->{wheel}->set_filter(POE::Filter::Reference->new($freezer));
    $names{$c->{remote}[0]} = $c->{id};
    for my $n (@{$c->{remote}}[1 .. $#{$c->{remote}}]) { $names{$n} //= $c->{id} }
    out({ev => 'register', id => $c->{remote}[0], aliases => [@{$c->{remote}}[1 .. $#{$c->{remote}}]],
         freezer => $freezer, dialect => $c->{dialect}, pid => $c->{pid}});
    run_pending($c);
}

sub supported { my $f = shift; return $f eq 'Storable' || $f eq 'YAML' || $f eq 'FreezeThaw' }

# desc: a value in ASCII, exactly (the interop matrix compares it): undef,
# [a,b], {k=>v} (keys sorted), a scalar as the hex code points of its
# string value ('41.e9'), past 64 characters #<length>:<md5 of that list>.
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

sub parse_setup {
    my ($line) = @_;
    my ($rest) = $line =~ /^SETUP (.+)$/ or return;
    my %s;
    for my $f (split /;/, $rest) {
        if    ($f =~ /^KERNEL=(.+)$/)  { $s{kernel}  = [split /,/, $1] }
        elsif ($f =~ /^FREEZER=(.+)$/) { $s{freezer} = [split /,/, $1] }
        elsif ($f =~ /^PID=(\d+)$/)    { $s{pid}     = $1 }
        else                           { return }
    }
    return unless $s{kernel} and @{$s{kernel}};
    return \%s;
}

# Negotiation, server side (4.4, 5.2).
sub server_line {
    my ($c, $l) = @_;
    my $p = $c->{phase};
    if ($p eq 'setup' or $p eq 'hello') {
        if ($l eq 'HELLO') {
            $c->{dialect} = 'IKC';
            $c->{announce} = [@{$c->{mine}}];
            put_line($c, "IAM $ID");
            $c->{phase} = 'iam';
        } elsif ($l =~ /^HELLO IKC\d$/) {
            put_line($c, 'NOT');
        } elsif ($l =~ /^SETUP /) {
            return put_line($c, 'NOT') if $opt{protocol} eq 'IKC';
            my $s = parse_setup($l);
            my ($f) = grep { supported($_) } @{$s ? $s->{freezer} || [] : []};
            return put_line($c, 'NOT') unless $s and $f;
            $c->{remote} = $s->{kernel};
            $c->{pid} = $s->{pid};
            $c->{dialect} = 'IKC0';
            put_line($c, 'SETUP KERNEL=' . join(',', $ID, @{$c->{mine}}) . ";FREEZER=$f;PID=$$");
            switch_frames($c, $f);
        }
    } elsif ($p eq 'iam') {
        if ($l eq 'OK') {
            if (@{$c->{announce}}) { put_line($c, 'IAM ' . pop @{$c->{announce}}) }
            else                   { put_line($c, 'DONE'); $c->{phase} = 'names' }
        } elsif ($l ne 'NOT') { put_line($c, 'NOT') }
    } elsif ($p eq 'names') {
        if    ($l eq 'DONE')                 { $c->{phase} = 'freezer' }
        elsif ($l =~ /^IAM\s+([-:.\w]+)$/)   { push @{$c->{remote}}, $1; put_line($c, 'OK') }
        elsif ($l ne 'NOT')                  { put_line($c, 'NOT') }
    } elsif ($p eq 'freezer') {
        if ($l =~ /^FREEZER\s+([-:\w]+)$/) {
            if (supported($1)) { $c->{agreed} = $1; put_line($c, 'OK') } else { put_line($c, 'NOT') }
        } elsif ($l eq 'WORLD') {
            put_line($c, 'UP');
            switch_frames($c, $c->{agreed} || 'Storable');
        } elsif ($l ne 'NOT') { put_line($c, 'NOT') }
    }
}

# Negotiation, client side (4.5, 5.3).
sub client_line {
    my ($c, $l) = @_;
    my $p = $c->{phase};
    if ($p eq 'csetup') {
        if ($l eq 'NOT') { $c->{dialect} = 'IKC'; put_line($c, 'HELLO'); $c->{phase} = 'cnames'; return }
        my $s = parse_setup($l);
        if ($s and @{$s->{freezer} || []} == 1 and supported($s->{freezer}[0])) {
            $c->{remote} = $s->{kernel};
            $c->{pid} = $s->{pid};
            return switch_frames($c, $s->{freezer}[0]);
        }
        out({ev => 'error', text => "bad SETUP answer: $l"});
        $c->{wheel} = undef;
        delete $conns{$c->{id}};
    } elsif ($p eq 'cnames') {
        if ($l eq 'DONE') {
            $c->{announce} = [@{$c->{mine}}];
            put_line($c, "IAM $ID");
            $c->{phase} = 'ciam';
        } elsif ($l =~ /^IAM\s+([-:.\w]+)$/) { push @{$c->{remote}}, $1; put_line($c, 'OK') }
        elsif ($l ne 'NOT') { put_line($c, 'NOT') }
    } elsif ($p eq 'ciam') {
        if ($l eq 'OK') {
            if (@{$c->{announce}}) { put_line($c, 'IAM ' . pop @{$c->{announce}}) }
            else { put_line($c, 'DONE'); put_line($c, "FREEZER $opt{freezer}"); $c->{phase} = 'cfreezer' }
        } elsif ($l ne 'NOT') { put_line($c, 'NOT') }
    } elsif ($p eq 'cfreezer') {
        if ($l eq 'OK' or $l eq 'NOT') {
            $c->{agreed} = $l eq 'OK' ? $opt{freezer} : 'Storable';
            put_line($c, 'WORLD');
            $c->{phase} = 'cworld';
        } else { put_line($c, 'NOT') }
    } elsif ($p eq 'cworld') {
        if ($l eq 'UP') { switch_frames($c, $c->{agreed}) }
        elsif ($l ne 'NOT') { put_line($c, 'NOT') }
    }
}

# Sending (10.8): by the kernel part of the event, else the newest connection.
sub send_msg {
    my ($msg, $via) = @_;
    my $to = spec_parse($msg->{event}) || {};
    my $cid = $via // $names{$to->{kernel} // ''};
    ($cid) = sort { $b <=> $a } grep { $conns{$_}{phase} eq 'frames' } keys %conns unless defined $cid;
    my $c = defined $cid ? $conns{$cid} : undef;
    unless ($c and $c->{wheel} and $c->{phase} eq 'frames') {
        out({ev => 'error', text => 'no connection for ' . spec_name($to)});
        return 0;
    }
    $c->{wheel}->put($msg);
    return 1;
}

sub fromspec { my $s = shift; return {kernel => $ID, session => $s, state => 'IKC:proxy'} }

# Receiving (10.1).
sub receive {
    my ($c, $msg) = @_;
    my $R = $c->{remote}[0];
    my $to = spec_parse($msg->{event}) || {kernel => undef, session => '', state => ''};
    my ($sess, $state) = ($to->{session}, $to->{state});
    my $fail = sub {
        my ($phase, $text) = @_;
        $text .= '.  Request ' . spec_name({kernel => $to->{kernel}, session => $sess, state => $state});
        $text .= ' sent by ' . spec_name(spec_parse($msg->{from})) if $msg->{from};
        out({ev => 'local_error', phase => $phase, text => $text});
        return if $msg->{is_error};
        send_msg({event => {kernel => $R, session => 'IKC', state => 'remote_error'},
                  params => [$text, $to->{kernel}, $phase], is_error => 1}, $c->{id});
    };
    my @args = ($msg->{params});
    if ($state eq 'IKC:proxy') {
        my $p = $msg->{params};
        return $fail->('request', 'IKC:proxy needs [state, [args]]') unless ref $p eq 'ARRAY' and ref $p->[1] eq 'ARRAY';
        $state = $p->[0];
        @args = @{$p->[1]};
    }
    if ($allow{"$sess/$state"}) { $allow{"$sess/$state"}-- }
    elsif (!$published{$sess})  { return $fail->('check', "Session '$sess' is not available for remote kernels") }
    elsif (!$published{$sess}{$state}) { return $fail->('check', "Session '$sess' has not published state '$state'") }
    push @args, $to->{args} if defined $to->{args};
    out({ev => 'invoke', session => $sess, state => $state, args => \@args, from => $msg->{from},
         wantarray => $msg->{wantarray}, kernel => $to->{kernel}});
    my $ret = invoke($c, $sess, $state, $msg, @args);
    if ($msg->{rsvp} and defined $ret) {
        $ret = [ref $ret eq 'ARRAY' ? @$ret : $ret] if $msg->{wantarray};
        send_msg({event => $msg->{rsvp}, params => $ret, from => fromspec($sess)}, $c->{id});
    }
}

sub invoke {
    my ($c, $sess, $state, $msg, @args) = @_;
    my $key = "$sess/$state";
    return $args[0] if $key eq 'test/echo';
    return desc($args[0]) if $key eq 'test/describe';
    if ($key eq 'test/add') { my $s = 0; $s += $_ for @{$args[0] || []}; return $s }
    return 2 * $args[0] if $key eq 'perl/double';
    if ($key eq 'test/add_1') {    # ClientLite post_respond: answer to the given specifier
        my ($n, $rsvp) = @{$args[0]};
        send_msg({event => $rsvp, params => $n + 1, from => fromspec('test')}, $c->{id});
        return;
    }
    return 'PONG' if $key eq 'IKC/ping';
    if ($key eq 'test/tell') {
        my $f = $msg->{from} or return;
        if ($f->{state}) { send_msg({event => $f, params => ['told', [$args[0]]], from => fromspec('test')}, $c->{id}) }
        else { send_msg({event => {kernel => $f->{kernel}, session => $f->{session}, state => 'told'}, params => [$args[0]]}, $c->{id}) }
        return;
    }
    if ($key eq 'IKC/do_you_have') {
        my $s = spec_parse($args[0]->[0]) or return 'Bad state';
        if ($published{$s->{session}} and (!$s->{state} or $published{$s->{session}}{$s->{state}})) {
            return [{kernel => $s->{kernel} || $ID, session => $s->{session}, state => $s->{state}}, $ID];
        }
        return 'Refused subscription ' . spec_name($s);
    }
    if ($key eq 'IKC/remote_error') {
        my $p = $args[0];
        out({ev => 'remote_error', text => ref $p eq 'ARRAY' ? $p->[0] : $p,
             kernel => ref $p eq 'ARRAY' ? $p->[1] : undef, phase => ref $p eq 'ARRAY' ? $p->[2] : undef});
        return;
    }
    out({ev => 'answer', session => $sess, state => $state, params => $args[0]}) if $sess eq 'perl' or $sess eq 'IKC';
    return;
}

# Commands from the test on stdin.
sub command {
    my ($cmd) = @_;
    my $op = $cmd->{op} // '';
    if ($op eq 'quit') { out({ev => 'bye'}); exit 0 }
    if ($op eq 'post') {
        send_msg({event => $cmd->{to}, params => $cmd->{params}, ($cmd->{from} ? (from => fromspec('perl')) : ())});
    } elsif ($op eq 'call') {
        my $rsvp = {kernel => $opt{name}, session => 'perl', state => $cmd->{state} || 'answer'};
        $allow{"perl/$rsvp->{state}"}++;
        send_msg({event => $cmd->{to}, params => $cmd->{params}, rsvp => $rsvp, from => fromspec('perl')});
    } elsif ($op eq 'proxy') {
        send_msg({event => {%{$cmd->{to}}, state => 'IKC:proxy'}, params => [$cmd->{state}, $cmd->{args}],
                  from => fromspec('perl')});
    } elsif ($op eq 'subscribe') {
        my $s = $cmd->{spec};
        $allow{'IKC/receipt'}++;
        send_msg({event => {kernel => $s->{kernel}, session => 'IKC', state => 'do_you_have'},
                  params => [{kernel => $s->{kernel}, session => $s->{session}, state => $s->{state} // ''}, $ID],
                  from => {kernel => $ID, session => 'IKC'},
                  rsvp => {kernel => $ID, session => 'IKC', state => 'receipt'}});
    } else { out({ev => 'error', text => "unknown command $op"}) }
}

my @pending;    # commands that came before a connection was ready
sub run_pending { command(shift @pending) while @pending }

sub start_conn {
    my ($heap, $sock, $client) = @_;
    my $w = POE::Wheel::ReadWrite->new(Handle => $sock, Filter => POE::Filter::Line->new,
        InputEvent => 'conn_input', ErrorEvent => 'conn_error');
    my $c = {id => $w->ID, wheel => $w, remote => [], client => $client,
             mine => [$opt{name}, sockname($sock, $client, fileno $sock)]};
    $conns{$w->ID} = $c;
    if ($client) {
        if ($opt{protocol} eq 'IKC0') {
            $c->{dialect} = 'IKC0';
            $c->{phase} = 'csetup';
            put_line($c, 'SETUP KERNEL=' . join(',', $ID, @{$c->{mine}}) . ";FREEZER=$opt{freezer};PID=$$");
        } else {
            $c->{dialect} = 'IKC';
            $c->{phase} = 'cnames';
            put_line($c, 'HELLO');
        }
    } else {
        $c->{phase} = $opt{protocol} eq 'IKC0' ? 'setup' : 'hello';
    }
}

POE::Session->create(inline_states => {
    _start => sub {
        my ($k, $heap) = @_[KERNEL, HEAP];
        $ID = $k->ID;
        $heap->{stdin} = POE::Wheel::ReadWrite->new(InputHandle => \*STDIN, OutputHandle => \*STDERR,
            Filter => POE::Filter::Line->new, InputEvent => 'stdin', ErrorEvent => 'stdin_error');
        my %sf = $opt{unix}
            ? (SocketDomain => AF_UNIX, ($opt{role} eq 'server' ? (BindAddress => $opt{unix}) : (RemoteAddress => $opt{unix})))
            : $opt{role} eq 'server' ? (BindAddress => '127.0.0.1', BindPort => $opt{port}, Reuse => 'yes')
            : (RemoteAddress => '127.0.0.1', RemotePort => $opt{port});
        unlink $opt{unix} if $opt{unix} and $opt{role} eq 'server';
        $heap->{sf} = POE::Wheel::SocketFactory->new(%sf, SuccessEvent => 'sf_ok', FailureEvent => 'sf_fail');
        if ($opt{role} eq 'server') {
            my $port = $opt{unix} ? 0 : (unpack_sockaddr_in($heap->{sf}->getsockname))[0];
            out({ev => 'ready', port => $port, id => $ID, pid => $$});
        }
    },
    sf_ok => sub {
        my ($heap, $sock) = @_[HEAP, ARG0];
        delete $heap->{sf} if $opt{role} eq 'client';
        start_conn($heap, $sock, $opt{role} eq 'client');
    },
    sf_fail => sub { out({ev => 'error', text => "$_[ARG0] error $_[ARG1]: $_[ARG2]"}); exit 1 },
    conn_input => sub {
        my ($in, $wid) = @_[ARG0, ARG1];
        my $c = $conns{$wid} or return;
        if ($c->{phase} eq 'frames') {
            return receive($c, $in) if ref $in eq 'HASH';
            out({ev => 'error', text => 'frame is not a hash'});
            return;
        }
        $c->{client} ? client_line($c, $in) : server_line($c, $in);
    },
    conn_error => sub {
        my ($op, $errnum, $wid) = @_[ARG0, ARG1, ARG3];
        my $c = delete $conns{$wid} or return;
        if ($c->{phase} eq 'frames') {
            delete $names{$_} for grep { $names{$_} == $wid } keys %names;
            out({ev => 'unregister', id => $c->{remote}[0], op => $op, errno => $errnum});
        }
        exit 0 if $opt{role} eq 'client';
    },
    stdin => sub {
        my $cmd = eval { $JSON->decode($_[ARG0]) };
        return out({ev => 'error', text => "bad command: $@"}) unless $cmd;
        if (!grep { $_->{phase} eq 'frames' } values %conns and ($cmd->{op} // '') ne 'quit') { push @pending, $cmd; return }
        command($cmd);
    },
    stdin_error => sub { exit 0 },
});
POE::Kernel->run;
