#!/usr/bin/perl
# eg/server-1 of POE::Component::IKC (Perl's Pulse server) for
# bench/pulse_test.go: the same Service/event as examples/pulse, on
# 127.0.0.1. Needs POE::Component::IKC on @INC (IKC_PERL5LIB).
#
#   perl pulse_server.pl PORT PROCESSES CONNECTIONS
#
# Prints "ready" once listening; PROCESSES 1 means no prefork.
use strict;
use warnings;
use POE;
use POE::Component::IKC::Server;

my ($port, $processes, $connections) = @ARGV;
$| = 1;
POE::Component::IKC::Server->spawn(
    ip => '127.0.0.1', port => $port, name => 'Pulse', babysit => 30,
    connections => $connections,
    ($processes > 1 ? (processes => $processes) : ()),
);
POE::Session->create(inline_states => {
    _start => sub {
        $_[KERNEL]->alias_set('Service');
        $_[KERNEL]->call(IKC => publish => 'Service', ['event']);
        $_[KERNEL]->sig(TERM => 'bye') if $processes <= 1;
        $_[KERNEL]->sig(INT  => 'bye') if $processes <= 1;
        print "ready\n";
    },
    bye => sub {
        $_[KERNEL]->sig_handled;
        $_[KERNEL]->post(IKC => 'shutdown');
        $_[KERNEL]->alias_remove('Service');
    },
    event => sub {
        my ($kernel, $args) = @_[KERNEL, ARG0];
        my ($p, $rsvp) = @$args;
        $kernel->post(IKC => post => $rsvp, {hello => $p->{Hi}});
    },
});
POE::Kernel->run;
