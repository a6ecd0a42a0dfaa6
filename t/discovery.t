# Auto-discovery through GET /providers/detect: every step of the chain and
# each fall-through, against real servers on loopback and never the
# internet. The name server is dnsmasq (t/fake/dns.sh: its SRV, MX and
# address records for the .test domains used here); autoconfig documents
# come from the fake over TLS (t/fake/autoconfig/, and 10 MB for
# ac-big.test), which counts how often each was asked for; the fake's TLS
# port stands in for 993 in the guess (ConnectDiscoveryGuessPort). Then the
# shared cache (a second detection asks nobody), the answer's `detected`
# against the application's integrations, bad input, and the directives'
# start-up checks.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use POSIX ();
use Time::HiRes ();
use URI::Escape qw(uri_escape);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow qw(fake_ua fake_url);
use CnTest::Httpd;

reset_db();
my $fake_port = conf_value('cn_fakeport');

sub detect {
    my ($email, %o) = @_;
    my $all = exists $o{all} ? $o{all} : 1;
    return api(GET => '/providers/detect', undef,
               query => 'email=' . uri_escape($email) . ($all ? '&all_provider_types=true' : ''));
}

# How often the fake was asked for DOMAIN's autoconfig document.
sub hits {
    my $domain = shift;
    my $res = fake_ua()->get(fake_url("/_hits/autoconfig/$domain"));
    die 'the fake does not count: ' . $res->status_line unless $res->is_success;
    return json_decode($res->decoded_content)->{hits};
}

# detected_as(email, {field => value, settings => {...}}, name): the answer's
# data has these values, and no settings when none are expected.
sub detected_as {
    my ($email, $want, $name) = @_;
    my $r = detect($email);
    my $d = $r->{json}{data} || {};
    subtest $name => sub {
        is $r->code, 200, 'answered 200' or diag $r->as_string;
        is $d->{email}, $email, 'the address';
        ok $d->{detected}, 'detected';
        for my $k (qw(provider type source)) {
            is $d->{$k}, $want->{$k}, "$k $want->{$k}";
        }
        if ($want->{settings}) {
            for my $k (sort keys %{ $want->{settings} }) {
                is $d->{settings}{$k}, $want->{settings}{$k}, "settings.$k";
            }
        }
        else {
            ok !exists $d->{settings}, 'no IMAP settings (OAuth)';
        }
    };
    return $d;
}

sub not_detected {
    my ($email, $name) = @_;
    my $r = detect($email);
    my $d = $r->{json}{data} || {};
    subtest $name => sub {
        is $r->code, 200, 'answered 200' or diag $r->as_string;
        is $d->{email}, $email, 'the address';
        is $d->{detected}, JSON::false, 'not detected';
        ok !exists $d->{$_}, "no $_" for qw(provider type settings);
    };
}

sub imap {
    my ($host, $port, $security, $user, %more) = @_;
    return { imap_host => $host, imap_port => $port, imap_security => $security,
             imap_username => $user, %more };
}

# ---- 1. the bundled table --------------------------------------------------
detected_as('ann@icloud.com', { provider => 'imap', type => 'icloud', source => 'table',
    settings => imap('imap.mail.me.com', 993, 'ssl', 'ann@icloud.com',
                     app_password_url => 'https://support.apple.com/en-us/102654') },
    'table: iCloud, with the guide to app passwords');
detected_as('ann@gmail.com', { provider => 'google', type => 'google', source => 'table' },
            'table: Gmail is Google');

# ---- 2. RFC 6186 SRV records --------------------------------------------------
detected_as('ann@srv.test', { provider => 'imap', type => 'imap', source => 'srv',
    settings => imap('imap.srv.test', 993, 'ssl', 'ann@srv.test') }, 'SRV _imaps._tcp: SSL');
detected_as('ann@srv-starttls.test', { provider => 'imap', type => 'imap', source => 'srv',
    settings => imap('mail.srv-starttls.test', 143, 'starttls', 'ann@srv-starttls.test') },
    'SRV _imap._tcp: STARTTLS');
detected_as('ann@srv-both.test', { provider => 'imap', type => 'imap', source => 'srv',
    settings => imap('ssl.srv-both.test', 993, 'ssl', 'ann@srv-both.test') },
    'SRV: _imaps wins over _imap');
detected_as('ann@srv-prio.test', { provider => 'imap', type => 'imap', source => 'srv',
    settings => imap('primary.srv-prio.test', 9993, 'ssl', 'ann@srv-prio.test') },
    'SRV: the lowest priority');
is hits('srv.test'), 0, 'a domain found by SRV: its autoconfig was not asked for';
detected_as('ann@srv-dot.test', { provider => 'imap', type => 'imap', source => 'autoconfig',
    settings => imap('imap.srv-dot.test', 993, 'ssl', 'ann') },
    'SRV target "." is no service: on to autoconfig');

# ---- 3. autoconfig ----------------------------------------------------------------
detected_as('Ann.B@ac-good.test', { provider => 'imap', type => 'imap', source => 'autoconfig',
    settings => imap('imap.ac-good.test', 993, 'ssl', 'Ann.B') },
    'autoconfig: the SSL server, %EMAILLOCALPART% as the login');
is hits('ac-good.test'), 1, 'autoconfig: asked once';
detected_as('bob@ac-starttls.test', { provider => 'imap', type => 'imap', source => 'autoconfig',
    settings => imap('mail.ac-starttls.test', 143, 'starttls', 'bob@ac-starttls.test') },
    'autoconfig: STARTTLS when there is nothing else');
not_detected('ann@ac-pop3.test', 'autoconfig with POP3 only: not detected');
is hits('ac-pop3.test'), 1, 'the POP3-only document was read';

# Hostile documents are refused (and say so in the log); the chain goes on
# to the MX records these domains have.
{
    my $off = error_log_offset();
    for my $c (['ac-laughs.test', 'google'], ['ac-xxe.test', 'google'],
               ['ac-malformed.test', 'google'], ['ac-big.test', 'google'],
               ['ac-utf16.test', 'microsoft'], ['ac-encoding.test', 'microsoft']) {
        my ($domain, $provider) = @$c;
        my $t0 = Time::HiRes::time();
        detected_as("eve\@$domain", { provider => $provider, type => $provider, source => 'mx' },
                    "autoconfig of $domain refused: on to the MX ($provider)");
        cmp_ok Time::HiRes::time() - $t0, '<', 4, "$domain: answered in good time";
        is hits($domain), 1, "$domain: its document was fetched";
    }
    my $log = error_log_since($off);
    for my $c (['ac-laughs.test', 'the document has a DOCTYPE \(DTDs and entities are refused\)'],
               ['ac-xxe.test', 'the document has a DOCTYPE \(DTDs and entities are refused\)'],
               ['ac-malformed.test', 'the document is not well-formed XML'],
               ['ac-utf16.test', 'the document is UTF-16 \(a byte-order mark\)'],
               ['ac-encoding.test', "the document's encoding is not UTF-8, US-ASCII or ISO-8859-1"]) {
        like $log, qr/CN00609: discovery: autoconfig 1 of \Q$c->[0]\E refused: $c->[1]/,
             "$c->[0]: the log says why it was refused";
    }
    like $log, qr/CN00603: discovery: autoconfig 1 of ac-big\.test refused: the document is larger than 65536 bytes/,
         'ac-big.test: refused for its size';
    unlike $log, qr/evil\.ac-/, 'nothing of a refused document was used';
}

# ---- 4. the MX host ---------------------------------------------------------------
detected_as('ann@gws.test', { provider => 'google', type => 'google', source => 'mx' },
            'MX aspmx.l.google.com: Google Workspace');
detected_as('ann@gws-new.test', { provider => 'google', type => 'google', source => 'mx' },
            'MX smtp.google.com: Google Workspace');
detected_as('ann@m365.test', { provider => 'microsoft', type => 'microsoft', source => 'mx' },
            'MX *.mail.protection.outlook.com: Microsoft 365');
detected_as('carol@hosted.test', { provider => 'imap', type => 'imap', source => 'mx',
    settings => imap('imap.mailhost.test', 993, 'ssl', 'carol') },
    "MX mx1.mailhost.test: the hosting provider's autoconfig");
is hits('hosted.test'), 1, "hosted.test: its own autoconfig was asked for first";
is hits('mailhost.test'), 1, "hosted.test: then the MX host's domain's";
detected_as('dan@hosted-fm.test', { provider => 'imap', type => 'fastmail', source => 'mx',
    settings => imap('imap.fastmail.com', 993, 'ssl', 'dan@hosted-fm.test',
                     app_password_url => 'https://www.fastmail.help/hc/en-us/articles/360058752854-App-passwords') },
    "MX in1-smtp.messagingengine.com: Fastmail's table row");

# ---- 5. the guess ---------------------------------------------------------------------
detected_as('ann@guess.test', { provider => 'imap', type => 'imap', source => 'guess',
    settings => imap('imap.guess.test', $fake_port, 'ssl', 'ann@guess.test') },
    'guess: imap.<domain> answers TLS with a trusted certificate');
detected_as('ann@guess-mail.test', { provider => 'imap', type => 'imap', source => 'guess',
    settings => imap('mail.guess-mail.test', $fake_port, 'ssl', 'ann@guess-mail.test') },
    'guess: mail.<domain> when imap.<domain> does not answer');
not_detected('ann@guess-badcert.test', 'guess: a certificate for another name is not trusted');

# ---- 6. nothing ------------------------------------------------------------------------
not_detected('ann@nothing.test', 'nothing anywhere: not detected');
is hits('nothing.test'), 1, 'nothing.test: its autoconfig was asked for';

# ---- the shared cache: a second detection asks nobody -----------------------------------
{
    my $off = error_log_offset();
    detected_as('first@cache.test', { provider => 'imap', type => 'imap', source => 'autoconfig',
        settings => imap('imap.cache.test', 993, 'ssl', 'first') }, 'cache: the first detection');
    is hits('cache.test'), 1, 'cache: the document was fetched';
    detected_as('second@cache.test', { provider => 'imap', type => 'imap', source => 'autoconfig',
        settings => imap('imap.cache.test', 993, 'ssl', 'second') },
        "cache: another address of the domain, the login name its own");
    detected_as('first@cache.test', { provider => 'imap', type => 'imap', source => 'autoconfig',
        settings => imap('imap.cache.test', 993, 'ssl', 'first') }, 'cache: the first address again');
    is hits('cache.test'), 1, 'cache: not fetched again';
    not_detected('ann@cache-none.test', 'cache: nothing found ...');
    not_detected('bob@cache-none.test', '... is remembered too');
    is hits('cache-none.test'), 1, 'cache: a domain with nothing is not asked again';
    my @from_cache = error_log_since($off) =~ /CN00612: discovery: cache(?:-none)?\.test from the cache/g;
    is scalar @from_cache, 3, 'three answers came from the cache';
    # the count holds across processes: several requests at once
    my @kids;
    for my $i (1 .. 4) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $r = detect("kid$i\@cache.test");
            POSIX::_exit(($r->{json}{data}{settings}{imap_username} // '') eq "kid$i" ? 0 : 1);
        }
        push @kids, $pid;
    }
    my $bad = 0;
    for (@kids) { waitpid $_, 0; $bad++ if $? }
    is $bad, 0, 'cache: parallel detections answered from the cache';
    is hits('cache.test'), 1, 'cache: still fetched once';
}

# ---- `detected`: the application's integrations ---------------------------------------
{
    my $d = detect('ann@gws.test', all => 0)->{json}{data};
    is $d->{provider}, 'google', 'without all_provider_types: the provider still named';
    is $d->{detected}, JSON::false, '... but not detected without a google integration';
    my $r = api(POST => '/integrations', { name => 'g', provider => 'google',
                settings => { client_id => 'a', client_secret => 'secret-1' } });
    is $r->code, 201, 'a google integration' or diag $r->as_string;
    $d = detect('ann@gws.test', all => 0)->{json}{data};
    is $d->{detected}, JSON::true, 'detected once it exists';
    $d = detect('ann@srv.test', all => 0)->{json}{data};
    is $d->{detected}, JSON::false, 'an IMAP server: not detected without an imap integration';
    $r = api(GET => '/providers/detect', undef, app => 'two', query => 'email=ann%40gws.test');
    is $r->{json}{data}{detected}, JSON::false, "another application's integration does not count";
}

# ---- bad input: the envelope, never a 500 ------------------------------------------------
for my $c (['a@', 'no domain'], ['@gws.test', 'no local part'], ['a b@gws.test', 'white space'],
           ['a@b@gws.test', 'two @'], [('a' x 250) . '@gws.test', 'too long']) {
    my $r = detect($c->[0]);
    is $r->code, 400, "$c->[1]: 400";
    is $r->{json}{error}{type}, 'invalid_query_params', "$c->[1]: invalid_query_params";
}
not_detected('a@exa_mple.test', 'a domain that is no DNS name: not detected, nothing asked');
not_detected('a@localhost', 'a single label: not detected, nothing asked');
is hits('exa_mple.test') + hits('localhost'), 0, 'no autoconfig asked for them';

# ---- the directives at start-up ---------------------------------------------------------------
SKIP: {
    skip 'start-up tests run their own httpd on SQLite; they run in the sqlite pass', 1
        if db_driver() ne 'sqlite3';
    my @refused = (
        ['ConnectDNSServer localhost:53', qr/ConnectDNSServer: 'localhost:53' is not ADDRESS\[:PORT\]/],
        ['ConnectDNSServer 127.0.0.1:0', qr/ConnectDNSServer: '127\.0\.0\.1:0' is not ADDRESS\[:PORT\]/],
        ['ConnectDNSServer 127.0.0.1:65536', qr/ConnectDNSServer: '127\.0\.0\.1:65536' is not ADDRESS/],
        ['ConnectDNSServer ::1]:53', qr/ConnectDNSServer: '::1\]:53' is not ADDRESS/],
        ['ConnectDNSServer [::1]53', qr/ConnectDNSServer: '\[::1\]53' is not ADDRESS/],
        ['ConnectAutoconfigURL http://autoconfig.%{domain}/mail/config-v1.1.xml',
         qr/ConnectAutoconfigURL: 'http:\/\/autoconfig\.%\{domain\}\/mail\/config-v1\.1\.xml': it is not an https URL/],
        ['ConnectAutoconfigURL https://%{domain}/%{user}', qr/ConnectAutoconfigURL: '[^']+': it has a placeholder other than %\{domain\} and %\{email\}/],
        ['ConnectAutoconfigURL none https://example.net/x', qr/ConnectAutoconfigURL: 'none' cannot be combined with templates/],
        ['ConnectDiscoveryGuessPort 0', qr/ConnectDiscoveryGuessPort must be a port from 1 to 65535/],
        ['ConnectDiscoveryGuessPort 993x', qr/ConnectDiscoveryGuessPort must be a port from 1 to 65535/],
        ['ConnectDiscoveryTimeout 0', qr/ConnectDiscoveryTimeout must be a number of seconds from 1 to 60/],
        ['ConnectDiscoveryTimeout 61', qr/ConnectDiscoveryTimeout must be a number of seconds from 1 to 60/],
    );
    for my $c (@refused) {
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
    $h->write_conf(extra => join "\n", 'ConnectDNSServer [::1]:5353',
                   'ConnectAutoconfigURL none', 'ConnectDiscoveryGuessPort 10993',
                   'ConnectDiscoveryTimeout 60');
    ok $h->start, 'good discovery directives: starts' or diag $h->output;
    my $r = $h->api(GET => '/providers/detect?email=a%40gmail.com&all_provider_types=true');
    is $r->{json}{data}{provider}, 'google', 'good discovery directives: the table answers';
    $h->stop;
    $h = CnTest::Httpd->new;
    $h->write_conf(extra => join "\n", 'ConnectDNSServer 192.0.2.1',
                   'ConnectAutoconfigURL https://a.example/%{domain} https://b.example/?e=%{email}');
    ok $h->start, 'a name server without a port, two templates: starts' or diag $h->output;
    $h->stop;
}

done_testing();
