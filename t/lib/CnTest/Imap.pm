package CnTest::Imap;
# The Dovecot of the IMAP tests (t/fake/dovecot.sh; scripts/test.sh starts
# one per pass and hands its ports to t/TEST.PL as -cn_imap*).
#
#   use CnTest::Imap;
#   plan skip_all => imap_missing() if imap_missing();
#   imap_password('alice');                   # the user's password this run
#   imap_settings('alice', imap_port => imap_port('starttls'), imap_security => 'starttls');
#   imap_port('imaps'|'starttls'|'silent'); imap_untrusted_host();
#   my $n = imap_logins('alice', 'TLS');      # Dovecot's "Login: user=<alice>, ... TLS" lines
#   wait_imap_logins('alice', 'TLS', $n + 1); # the count once it is there (or after 5 s)
#   imap_log();                               # Dovecot's log
#   imap_port('xoauth2');                     # the XOAUTH2 Dovecot (oauth2 passdb)
#   my ($ok, $said) = imap_xoauth2($xoauth2); # AUTHENTICATE XOAUTH2 there: 1 and its OK line,
#                                             # or 0 and its NO line
use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use File::Spec ();
use Time::HiRes ();
use CnTest ();

our @EXPORT = qw(imap_missing imap_port imap_untrusted_host imap_password imap_passwords
                 imap_settings imap_log imap_logins wait_imap_logins imap_xoauth2);

# Why the IMAP tests cannot run here, or '' when they can.
sub imap_missing {
    return '' if CnTest::conf_value('cn_imapport') && CnTest::conf_value('cn_imapdir');
    return 'no Dovecot: -cn_imapport and -cn_imapdir are not set (scripts/test.sh starts one)';
}

my %PORT_VAR = (imaps => 'cn_imapport', starttls => 'cn_imapstarttls', silent => 'cn_imapsilent',
                xoauth2 => 'cn_imapxoauth2');

sub imap_port {
    my $which = shift;
    my $var = $PORT_VAR{$which} or croak "imap_port: imaps, starttls or silent, not $which";
    my $port = CnTest::conf_value($var) or croak "imap_port: -$var is not set";
    return $port;
}

sub imap_untrusted_host { CnTest::conf_value('cn_imapuntrusted') || croak 'no -cn_imapuntrusted' }

sub _dir { CnTest::conf_value('cn_imapdir') || croak 'no -cn_imapdir' }

my %PASSWORDS;

# name => password of every test user (DIR/users, fresh per Dovecot start).
sub imap_passwords {
    unless (%PASSWORDS) {
        my $file = File::Spec->catfile(_dir(), 'users');
        open my $fh, '<', $file or croak "$file: $!";
        while (<$fh>) {
            my ($u, $p) = /^(\S+) (\S+)$/ or next;
            $PASSWORDS{$u} = $p;
        }
    }
    return %PASSWORDS;
}

sub imap_password {
    my %pw = imap_passwords();
    return $pw{ $_[0] } // croak "no IMAP test user $_[0]";
}

# The settings of POST /grants for USER over IMAPS at 127.0.0.1, with its
# email USER@example.test; OVERRIDE replaces (undef removes).
sub imap_settings {
    my ($user, %override) = @_;
    my %s = (imap_username => $user, imap_password => imap_password($user),
             imap_host => '127.0.0.1', imap_port => 0 + imap_port('imaps'),
             email => "$user\@example.test");
    while (my ($k, $v) = each %override) {
        if (defined $v) { $s{$k} = $v } else { delete $s{$k} }
    }
    return \%s;
}

sub imap_log {
    my $file = File::Spec->catfile(_dir(), 'dovecot.log');
    open my $fh, '<', $file or return '';
    local $/;
    return scalar(<$fh>) // '';
}

# Dovecot's lines of a login of USER that HOW ('TLS' or 'secured': on
# loopback without TLS) describes.
sub imap_logins {
    my ($user, $how) = @_;
    return scalar(() = imap_log() =~ /imap-login: Info: Login: user=<\Q$user\E>, [^\n]*, \Q$how\E, /g);
}

# AUTHENTICATE XOAUTH2 with the initial response XOAUTH2 (base64, as
# POST /grants/{id}/access_token answers it) at the XOAUTH2 Dovecot, over
# TLS verified against the test CA: (1, the tagged OK line) when it let us
# in, (0, the tagged NO line or what went wrong) when not. A refusal comes
# as a continuation with the error (RFC 7628), answered with an empty line.
sub imap_xoauth2 {
    my ($xoauth2) = @_;
    require IO::Socket::SSL;
    my $s = IO::Socket::SSL->new(PeerHost => '127.0.0.1', PeerPort => imap_port('xoauth2'),
                                 SSL_ca_file => CnTest::conf_value('cn_cafile'),
                                 SSL_verifycn_name => '127.0.0.1', Timeout => 10)
        or return (0, "connect: $IO::Socket::SSL::SSL_ERROR $!");
    my $greeting = <$s> // '';
    return (0, "greeting: $greeting") unless $greeting =~ /^\* OK .*AUTH=XOAUTH2/;
    print $s "a1 AUTHENTICATE XOAUTH2 $xoauth2\r\n";
    my $line = <$s> // '';
    if ($line =~ /^\+/) {
        print $s "\r\n";
        $line = <$s> // '';
    }
    print $s "a2 LOGOUT\r\n";
    close $s;
    $line =~ s/\r?\n\z//;
    return ($line =~ /^a1 OK\b/ ? 1 : 0, $line);
}

# Dovecot writes its log through a process of its own: wait (up to 5 s) for
# the count to reach WANT; returns the count then.
sub wait_imap_logins {
    my ($user, $how, $want) = @_;
    my $n;
    for (1 .. 50) {
        $n = imap_logins($user, $how);
        last if $n >= $want;
        Time::HiRes::sleep(0.1);
    }
    return $n;
}

1;
