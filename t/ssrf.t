# Server-side request forgery: where the module connects for an
# unauthenticated user. Auto-discovery's autoconfig fetches and TLS guess
# go where the domain's DNS says, an IMAP LOGIN where the user typed: only
# to public addresses, unless ConnectAllowAddresses names them. Two servers
# of their own (t/lib/CnTest/Httpd.pm) with the suite's name server, fake
# and Dovecot, all on loopback: one without ConnectAllowAddresses, where
# nothing reaches them (the fake counts autoconfig documents and TLS
# handshakes by name, Dovecot logs each connection) and each step falls
# through; one allowing 127.0.0.0/8, where the same requests reach them
# (the counters can count). Then the suite's own server (127.0.0.0/8
# allowed): other private addresses stay refused, in the API and in the
# hosted IMAP form. Last, the directive's start-up checks.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use URI::Escape qw(uri_escape);
use HTTP::Request::Common ();
use CnTest qw(:all);
use CnTest::Flow qw(fake_ua fake_url);
use CnTest::Httpd;
use CnTest::Imap;

plan skip_all => imap_missing() if imap_missing();

reset_db();
my $fake_port = conf_value('cn_fakeport');
my %pw = imap_passwords();

# How often the fake was asked for DOMAIN's autoconfig document, and how
# many TLS handshakes named NAME.
sub fake_hits {
    my $path = shift;
    my $res = fake_ua()->get(fake_url("/_hits/$path"));
    die 'the fake does not count: ' . $res->status_line unless $res->is_success;
    return json_decode($res->decoded_content)->{hits};
}
sub ac_hits  { fake_hits("autoconfig/$_[0]") }
sub tls_hits { fake_hits("tls/$_[0]") }

# Dovecot's lines of a connection (every connection ends in one: a login,
# or a disconnection before one).
sub imap_connections { scalar(() = imap_log() =~ /imap-login: [^\n]*\brip=/g) }

# A server of its own, with the suite's name server, the fake as the
# autoconfig host of every domain (autoconfig.<domain>, on the fake's port:
# the domain's DNS chooses the address) and as the guess's port, Dovecot's
# CA, and EXTRA.
sub server {
    my ($name, @extra) = @_;
    my $h = CnTest::Httpd->new;
    $h->write_conf(extra => join "\n",
        'ConnectCAFile ' . conf_value('cn_cafile'),
        'ConnectDNSServer 127.0.0.1:' . conf_value('cn_dnsport'),
        "ConnectAutoconfigURL https://autoconfig.%{domain}:$fake_port/autoconfig/%{domain}/config-v1.1.xml",
        "ConnectDiscoveryGuessPort $fake_port",
        'ConnectDiscoveryTimeout 5',
        'ConnectIMAPTimeout 2',
        @extra);
    ok $h->start, "$name: starts" or diag $h->output;
    is $h->api(POST => '/integrations', { name => 'm', provider => 'imap',
                                          redirect_uris => ['http://localhost:3000/cb'] })->code, 201,
        "$name: an imap integration";
    return $h;
}

sub detect {
    my ($h, $email) = @_;
    my $r = $h->api(GET => '/providers/detect?all_provider_types=true&email=' . uri_escape($email));
    is $r->code, 200, "detect $email: 200" or diag $r->as_string;
    return $r->{json}{data} || {};
}

# ---- no ConnectAllowAddresses: loopback is out of reach -------------------------------------
my $closed = server('a server without ConnectAllowAddresses');
unlike $closed->output, qr/CN01010:/, '... no line about allowed addresses';

# autoconfig.ssrf-ac.test is 127.0.0.1: not fetched; nothing else is found
my $d = detect($closed, 'ann@ssrf-ac.test');
is $d->{detected}, JSON::false, 'autoconfig host at 127.0.0.1: not detected';
is ac_hits('ssrf-ac.test'), 0, '... the fake was not asked for the document';
is tls_hits('autoconfig.ssrf-ac.test'), 0, '... no TLS handshake with it either';

# imap.ssrf-guess.test is 127.0.0.1: the guess does not try it
$d = detect($closed, 'ann@ssrf-guess.test');
is $d->{detected}, JSON::false, 'guess at 127.0.0.1: not detected';
is tls_hits('imap.ssrf-guess.test'), 0, '... no TLS handshake with the fake';

# a refused autoconfig host: the chain goes on to the MX
$d = detect($closed, 'ann@ssrf-mx.test');
is $d->{source}, 'mx', 'autoconfig host at 127.0.0.1, an MX at Google: found by the MX';
is $d->{provider}, 'google', '... google';
is ac_hits('ssrf-mx.test'), 0, '... its autoconfig was not fetched';

# the cloud's metadata address, IPv6 loopback, loopback as IPv4-mapped IPv6
for my $email ('ann@ssrf-meta.test', 'ann@ssrf-v6.test', 'ann@ssrf-mapped.test') {
    is detect($closed, $email)->{detected}, JSON::false, "$email: not detected";
}
{
    my $log = $closed->error_log;
    for my $c (['autoconfig.ssrf-ac.test', '127.0.0.1', 'loopback'],
               ['imap.ssrf-guess.test', '127.0.0.1', 'loopback'],
               ['autoconfig.ssrf-mx.test', '127.0.0.1', 'loopback'],
               ['autoconfig.ssrf-meta.test', '169.254.169.254', 'link-local'],
               ['imap.ssrf-v6.test', '::1', 'loopback'],
               ['imap.ssrf-mapped.test', '::ffff:127.0.0.1', 'loopback']) {
        my ($host, $addr, $kind) = @$c;
        like $log, qr/CN01012: discovery: \Q$host\E: \Q$addr\E is not a public address \(\Q$kind\E\); not connected \(ConnectAllowAddresses\)/,
            "the log says $host at $addr was not connected";
    }
}

# an IMAP LOGIN at 127.0.0.1: refused, and Dovecot sees no connection
my $connections = imap_connections();
my $logins = imap_logins('alice', 'TLS');
my $r = $closed->api(POST => '/grants', { provider => 'imap', settings => imap_settings('alice') });
is $r->code, 400, 'POST /grants, imap_host 127.0.0.1: 400' or diag $r->as_string;
is $r->{json}{error}{type}, 'provider_not_responding', '... provider_not_responding';
is $r->{json}{error}{event_code}, 25022, '... 25022';
like $r->{json}{error}{message} // '', qr/the IMAP server 127\.0\.0\.1:\d+ \(ssl\) is not at a public address; this server does not connect there \(ConnectAllowAddresses\)/,
    '... saying why';
is index($r->content, $pw{alice}), -1, '... without the password';
# names and spellings of loopback the resolver or libcurl turn into 127.0.0.1
for my $host ('localhost', '127.1', '2130706433') {
    $r = $closed->api(POST => '/grants', { provider => 'imap',
                                           settings => imap_settings('alice', imap_host => $host) });
    is $r->{json}{error}{type}, 'provider_not_responding', "imap_host $host: provider_not_responding"
        or diag $r->as_string;
}
like $closed->error_log, qr/CN01011: IMAP LOGIN at 127\.0\.0\.1:\d+ \(ssl\) refused: 127\.0\.0\.1 is not a public address \(loopback\); nothing was connected/,
    'the log says the address was refused';
is scalar(() = $closed->error_log =~ /CN01011: /g), 4, '... for each of the four';
unlike $closed->error_log, qr/CN00702: /, '... and no LOGIN was made';
is_deeply [grep { index($closed->error_log, $pw{$_}) >= 0 } sort keys %pw], [], '... no password in the log';

# ---- ConnectAllowAddresses 127.0.0.0/8: the same requests reach loopback ---------------------
my $open = server('a server with ConnectAllowAddresses 127.0.0.0/8', 'ConnectAllowAddresses 127.0.0.0/8');
like $open->output, qr/CN01010: ConnectAllowAddresses 127\.0\.0\.0\/8: auto-discovery and IMAP LOGINs, whose servers users and their domains' DNS choose, may connect to these non-public addresses/,
    '... a warning says so at start-up';

$r = $open->api(POST => '/grants', { provider => 'imap', settings => imap_settings('alice') });
is $r->code, 201, 'POST /grants, imap_host 127.0.0.1: 201' or diag $r->as_string;
is wait_imap_logins('alice', 'TLS', $logins + 1), $logins + 1, '... Dovecot saw alice log in';
is imap_connections(), $connections + 1,
    '... its one connection: none came from the server without ConnectAllowAddresses';

$d = detect($open, 'ann@ssrf-ac.test');
is $d->{source}, 'autoconfig', 'autoconfig host at 127.0.0.1: found by autoconfig';
is $d->{settings}{imap_host}, 'imap.ssrf-ac.test', '... its IMAP server';
is ac_hits('ssrf-ac.test'), 1, '... the fake was asked for the document once';
ok tls_hits('autoconfig.ssrf-ac.test') >= 1, '... over TLS to the name the DNS answered for';

$d = detect($open, 'ann@ssrf-guess.test');
is $d->{source}, 'guess', 'guess at 127.0.0.1: found by the guess';
is $d->{settings}{imap_host}, 'imap.ssrf-guess.test', '... imap.<domain>';
ok tls_hits('imap.ssrf-guess.test') >= 1, '... after a TLS handshake with the fake';

is detect($open, 'ann@ssrf-meta.test')->{detected}, JSON::false,
    '169.254.169.254 is not in 127.0.0.0/8: still not detected';
like $open->error_log, qr/CN01012: discovery: autoconfig\.ssrf-meta\.test: 169\.254\.169\.254 is not a public address \(link-local\); not connected/,
    '... and the log says why';
ok $open->stop, 'stopped';
ok $closed->stop, 'stopped';

# ---- the suite's server (127.0.0.0/8 allowed): other private addresses stay refused -----------
{
    my $off = error_log_offset();
    is api(POST => '/integrations', { name => 'Mailboxes', provider => 'imap',
                                      redirect_uris => [CnTest::Flow::app_redirect_uri('one')] })->code, 201,
        'the suite\'s server: an imap integration';
    $r = api(POST => '/grants', { provider => 'imap',
                                  settings => imap_settings('alice', imap_host => '10.255.255.1') });
    is $r->{json}{error}{type}, 'provider_not_responding', 'POST /grants, imap_host 10.255.255.1: provider_not_responding';

    # the hosted IMAP form: the user's own server in the advanced settings
    my $f = CnTest::Flow->new(provider => 'imap', state => 'ssrf');
    ok $f->auth, 'POST /auth provider imap' or diag $f->{error};
    my $form_url = $f->browser_get($f->{login_url})->header('Location') // '';
    my $page = $f->browser_get($form_url);
    my ($csrf) = $page->content =~ /<input type="hidden" name="csrf" value="([^"]*)"/;
    my ($state) = $page->content =~ /<input type="hidden" name="state" value="([^"]*)"/;
    my $res = $f->{browser}->request(HTTP::Request::Common::POST(url('/imap'), [
        csrf => $csrf, state => $state, email => 'alice@example.test', username => 'alice',
        password => $pw{alice}, host => '169.254.169.254', port => 993, security => 'ssl']));
    is $res->code, 200, 'the IMAP form, server 169.254.169.254: the form again';
    like $res->content, qr{did not answer}, '... as for a server that does not answer';
    like $res->content, qr{<input id="host"[^>]*aria-invalid="true"}, '... on the host field';
    my $log = error_log_since($off);
    like $log, qr/CN01011: IMAP LOGIN at 10\.255\.255\.1:\d+ \(ssl\) refused: 10\.255\.255\.1 is not a public address \(private\)/,
        'the log says 10.255.255.1 was refused';
    like $log, qr/CN01011: IMAP LOGIN at 169\.254\.169\.254:993 \(ssl\) refused: 169\.254\.169\.254 is not a public address \(link-local\)/,
        'the log says 169.254.169.254 was refused';
    is_deeply [grep { index($log, $pw{$_}) >= 0 } sort keys %pw], [], '... no password in it';
}

# ---- the directive at start-up ------------------------------------------------------------------
SKIP: {
    skip 'start-up tests run their own httpd on SQLite; they run in the sqlite pass', 1
        if db_driver() ne 'sqlite3';
    for my $c (['ConnectAllowAddresses localhost', qr/ConnectAllowAddresses: 'localhost' is not ADDRESS\[\/BITS\]/],
               ['ConnectAllowAddresses 10.1/16', qr/ConnectAllowAddresses: '10\.1\/16' is not ADDRESS\[\/BITS\]/],
               ['ConnectAllowAddresses 10.0.0.0/33', qr/ConnectAllowAddresses: '10\.0\.0\.0\/33': the prefix length must be 1-32/],
               ['ConnectAllowAddresses 0.0.0.0/0', qr/ConnectAllowAddresses: '0\.0\.0\.0\/0': the prefix length must be 1-32/],
               ['ConnectAllowAddresses fd00::/200', qr/ConnectAllowAddresses: 'fd00::\/200': the prefix length must be 1-128/],
               ['ConnectAllowAddresses 10.0.0.0/255.0.0.0', qr/ConnectAllowAddresses: '10\.0\.0\.0\/255\.0\.0\.0': the prefix length/],
               ['ConnectAllowAddresses none 10.0.0.0/8', qr/ConnectAllowAddresses: 'none' cannot be combined with addresses/],
               ['ConnectAllowAddresses', qr/ConnectAllowAddresses .*argument/]) {
        my $h = CnTest::Httpd->new;
        $h->write_conf(extra => $c->[0]);
        my $started = $h->start;
        ok !$started, "$c->[0]: refused";
        ok $h->gone, "$c->[0]: no process left";
        is scalar(my @l = $h->lines_matching($c->[1])), 1, "$c->[0]: one line says why"
            or diag $h->output;
        $h->stop if $started;
    }
    # the positive control: every form that is fine
    my $h = CnTest::Httpd->new;
    $h->write_conf(extra => join "\n", 'ConnectAllowAddresses 127.0.0.0/8 10.1.2.0/24',
                   'ConnectAllowAddresses 192.168.7.7 fd00::/8 ::1');
    ok $h->start, 'good addresses over two lines: starts' or diag $h->output;
    my @said = $h->lines_matching(qr/CN01010: ConnectAllowAddresses 127\.0\.0\.0\/8 10\.1\.2\.0\/24 192\.168\.7\.7 fd00::\/8 ::1: /);
    ok scalar @said, '... all of them named at start-up' or diag $h->output;
    $h->stop;
    # a virtual host inherits the list, unless it says 'none': then it warns of nothing
    for my $vhost ('', 'ConnectAllowAddresses none') {
        $h = CnTest::Httpd->new;
        $h->write_conf(extra => "ConnectAllowAddresses 10.1.2.0/24\n<VirtualHost 127.0.0.1:1>\n"
                                . "    $vhost\n</VirtualHost>");
        ok $h->start, "a virtual host with '$vhost': starts" or diag $h->output;
        is scalar(my @w = $h->lines_matching(qr/CN01010: ConnectAllowAddresses 10\.1\.2\.0\/24: /)),
            scalar(@said) * ($vhost ? 1 : 2), $vhost ? '... the main server allows 10.1.2.0/24, the virtual host nothing'
                                                     : '... both allow 10.1.2.0/24'
            or diag $h->output;
        $h->stop;
    }
}

done_testing;
