# Native IMAP grants: POST /grants with provider imap and the seed's IMAP
# settings, each proven by a LOGIN at a real Dovecot (t/fake/dovecot.sh) before
# anything is stored: IMAPS and STARTTLS with the test CA's certificate, a
# certificate of another CA refused, plain IMAP refused unless
# ConnectIMAPAllowPlain On, a port that never answers, a wrong password. The
# password is sealed as the grant's secret and shows nowhere: not in an
# answer, the store's files, its rows, or the logs.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Time::HiRes ();
use CnTest qw(:all);
use CnTest::Flow qw(grant_keys);
use CnTest::Httpd;
use CnTest::Imap;

plan skip_all => imap_missing() if imap_missing();

reset_db();
my $log_at = error_log_offset();
my $access_at = access_log_offset();
my %pw = imap_passwords();
my $sealed = sealed_re();
sub count_grants { scalar(my @g = db_rows('grants')) }
sub grant_row { my $id = shift; (grep { $_->{id} eq ($id // '') } db_rows('grants'))[0] }

# ---- the integration: provider imap, no client, no scopes --------------------------------------
my $r = api(POST => '/integrations', { name => 'Mailboxes', provider => 'imap',
                                       redirect_uris => ['http://localhost:3000/cb'] });
is $r->code, 201, 'POST /integrations provider imap without settings: 201' or diag $r->as_string;
$r = api(GET => '/integrations/imap');
is_deeply $r->{json}{data}{scope}, [], '... no scopes';
is_deeply $r->{json}{data}{settings}, {}, '... no settings (no client id or secret)';

# ---- the right password over IMAPS -----------------------------------------------------------------
my $tls_logins = imap_logins('alice', 'TLS');
my $t0 = time;
$r = api(POST => '/grants', { provider => 'imap', state => 'imap-state',
                              settings => imap_settings('alice', type => 'generic') });
is $r->code, 201, 'alice, the right password, IMAPS: 201' or diag $r->as_string;
my $g = $r->{json}{data} || {};
is_deeply [sort keys %$g], [sort(grant_keys(), 'settings')], 'the grant, with its settings';
is $g->{provider}, 'imap', 'provider imap';
is $g->{email}, 'alice@example.test', 'email: the one given';
is $g->{provider_user_id}, 'alice', 'provider_user_id: the username';
is $g->{grant_status}, 'valid', 'valid';
is $g->{state}, 'imap-state', 'state';
is_deeply $g->{scope}, [], 'scope: the integration\'s (none)';
ok $g->{created_at} >= $t0, 'created_at';
is_deeply $g->{settings}, { imap_username => 'alice', imap_host => '127.0.0.1',
                            imap_port => 0 + imap_port('imaps'), imap_security => 'ssl',
                            type => 'generic' },
    'settings: where the mailbox is, without the password';
is index($r->content, $pw{alice}), -1, 'the password is not in the answer';
is wait_imap_logins('alice', 'TLS', $tls_logins + 1), $tls_logins + 1,
    'Dovecot saw alice log in over TLS';
my $alice = $g->{id};
my $row = grant_row($alice);
like $row->{refresh_token} // '', $sealed, 'the password is sealed in the grant\'s secret column';
is $row->{access_token}, undef, 'no access token';
is index($row->{settings} // '', $pw{alice}), -1, 'the stored settings hold no password';
is $row->{subject}, '127.0.0.1/alice', 'the grant\'s key: host and username';

$r = api(GET => "/grants/$alice");
is_deeply $r->{json}{data}{settings}, $g->{settings}, 'GET /grants/{id}: the same settings';
$r = api(GET => '/grants', undef, query => 'provider=imap');
is scalar(@{ $r->{json}{data} || [] }), 1, 'GET /grants?provider=imap: one grant';
is_deeply $r->{json}{data}[0]{settings}, $g->{settings}, '... with its settings';
is index($r->content, $pw{alice}), -1, '... and no password';

# ---- the same mailbox again, over STARTTLS: the same grant --------------------------------------------
$r = api(POST => '/grants', { provider => 'imap',
                              settings => imap_settings('alice', imap_port => 0 + imap_port('starttls'),
                                                        imap_security => 'starttls') });
is $r->code, 200, 'alice again over STARTTLS: 200 (re-authenticated)' or diag $r->as_string;
is $r->{json}{data}{id}, $alice, '... the same grant';
is $r->{json}{data}{settings}{imap_security}, 'starttls', '... now reached over STARTTLS';
is $r->{json}{data}{settings}{imap_port}, 0 + imap_port('starttls'), '... on that port';
ok !exists $r->{json}{data}{settings}{type}, '... without the type it no longer has';
is $r->{json}{data}{state}, undef, '... and the new (absent) state';
is count_grants(), 1, 'one grant';
is wait_imap_logins('alice', 'TLS', $tls_logins + 2), $tls_logins + 2,
    'Dovecot saw the STARTTLS login encrypted';

# another user, STARTTLS, port and security from each other? No: an explicit security.
# (Counted from here: other tests of the pass sign bob in too.)
my $bob_logins = imap_logins('bob', 'TLS');
$r = api(POST => '/grants', { provider => 'imap',
                              settings => imap_settings('bob', imap_port => 0 + imap_port('starttls'),
                                                        imap_security => 'starttls') });
is $r->code, 201, 'bob over STARTTLS: 201' or diag $r->as_string;
my $bob = $r->{json}{data}{id};
isnt $bob, $alice, '... another grant';
is wait_imap_logins('bob', 'TLS', $bob_logins + 1), $bob_logins + 1,
    '... Dovecot saw bob log in over TLS';
is imap_logins('bob', 'secured'), 0, '... never without TLS';
is count_grants(), 2, 'two grants';

# ---- refusals: nothing stored ------------------------------------------------------------------
my $n = count_grants();
my $untrusted_at = () = imap_log() =~ /unknown ca/g;
for my $c (
    ['a wrong password', imap_settings('alice', imap_password => 'not-' . $pw{alice}),
     'invalid_authentication', 25021, qr/refused the username or password/],
    ['an unknown user', imap_settings('alice', imap_username => 'nobody'),
     'invalid_authentication', 25021, qr/refused the username or password/],
    ['bob\'s password for alice', imap_settings('alice', imap_password => $pw{bob}),
     'invalid_authentication', 25021, qr/refused/],
    ['a certificate from another CA', imap_settings('alice', imap_host => imap_untrusted_host()),
     'provider_tls_failed', 45014, qr/certificate of \Q${\ imap_untrusted_host()}\E:\d+ \(ssl\) is not trusted/],
    ['the same over STARTTLS', imap_settings('alice', imap_host => imap_untrusted_host(),
                                              imap_port => 0 + imap_port('starttls'),
                                              imap_security => 'starttls'),
     'provider_tls_failed', 45014, qr/is not trusted/],
    ['TLS asked of the STARTTLS port', imap_settings('alice', imap_port => 0 + imap_port('starttls'),
                                                      imap_security => 'ssl'),
     'provider_tls_failed', 45014, qr/does not speak TLS on that port/],
    ['plain IMAP', imap_settings('alice', imap_port => 0 + imap_port('starttls'), imap_security => 'plain'),
     'provider_settings_invalid', 35006, qr/ConnectIMAPAllowPlain/],
    ['a closed port', imap_settings('alice', imap_port => CnTest::Httpd::free_port()),
     'provider_not_responding', 25022, qr/no IMAP answer from 127\.0\.0\.1:\d+ \(ssl\) within 2 s/],
) {
    my ($name, $settings, $type, $code, $says) = @$c;
    $r = api(POST => '/grants', { provider => 'imap', settings => $settings });
    is $r->code, 400, "$name: 400" or diag $r->as_string;
    is $r->{json}{error}{type}, $type, "... $type";
    is $r->{json}{error}{event_code}, $code, "... $code";
    like $r->{json}{error}{message} // '', $says, '... saying why';
    is index($r->content, $settings->{imap_password}), -1, '... without the password';
}
is count_grants(), $n, 'no refused login stored a grant';
ok scalar(() = imap_log() =~ /unknown ca/g) >= $untrusted_at + 2,
    'Dovecot saw the client refuse its other certificate (alert unknown ca)';
is imap_logins('alice', 'secured'), 0, 'alice never logged in without TLS here';

# ---- a port that accepts and never answers: provider_not_responding within the timeout --------------
for my $security ('ssl', 'starttls') {
    my $t = Time::HiRes::time();
    $r = api(POST => '/grants', { provider => 'imap',
                                  settings => imap_settings('alice', imap_port => 0 + imap_port('silent'),
                                                            imap_security => $security) });
    my $took = Time::HiRes::time() - $t;
    is $r->code, 400, "a silent server ($security): 400";
    is $r->{json}{error}{type}, 'provider_not_responding', '... provider_not_responding';
    is $r->{json}{error}{event_code}, 25022, '... 25022';
    ok $took >= 1.8, sprintf('... after the 2 s of ConnectIMAPTimeout (%.1f s)', $took);
    ok $took < 8, sprintf('... not much later (%.1f s)', $took);
}
is count_grants(), $n, 'still nothing stored';

# ---- bad input: the seed's envelope, never a 500 ----------------------------------------------------
my $ok = imap_settings('alice');
for my $c (
    ['no settings', { provider => 'imap' }, qr/settings with imap_username and imap_password are required/],
    ['no password', { provider => 'imap', settings => imap_settings('alice', imap_password => undef) },
     qr/settings\.imap_password is required/],
    ['an empty password', { provider => 'imap', settings => imap_settings('alice', imap_password => '') },
     qr/settings\.imap_password is required/],
    ['no username', { provider => 'imap', settings => imap_settings('alice', imap_username => undef) },
     qr/settings\.imap_username is required/],
    ['a password as a number', { provider => 'imap', settings => imap_settings('alice', imap_password => 12345) },
     qr/settings\.imap_password must be a string/],
    ['a port as a string', { provider => 'imap', settings => imap_settings('alice', imap_port => '993') },
     qr/settings\.imap_port must be a number/],
    ['port 0', { provider => 'imap', settings => imap_settings('alice', imap_port => 0) },
     qr/settings\.imap_port must be a number/],
    ['port 65536', { provider => 'imap', settings => imap_settings('alice', imap_port => 65536) },
     qr/settings\.imap_port must be a number/],
    ['security tls', { provider => 'imap', settings => imap_settings('alice', imap_security => 'tls') },
     qr/imap_security must be ssl, starttls or plain/],
    ['a host with a port', { provider => 'imap', settings => imap_settings('alice', imap_host => '127.0.0.1:993') },
     qr/imap_host must be a host name/],
    ['a host with a path', { provider => 'imap', settings => imap_settings('alice', imap_host => 'imap.example.test/x') },
     qr/imap_host must be a host name/],
    ['a username with CRLF', { provider => 'imap', settings => imap_settings('alice', imap_username => "alice\r\nA1 LOGOUT") },
     qr/imap_username must be/],
    ['a username that is no address, no email', { provider => 'imap', settings => imap_settings('alice', email => undef) },
     qr/email is required when imap_username is not an email address/],
    ['a bad email', { provider => 'imap', settings => imap_settings('alice', email => 'alice') },
     qr/email must be an address/],
    ['a type with capitals', { provider => 'imap', settings => imap_settings('alice', type => 'Yahoo') },
     qr/type must be/],
    ['an unknown setting', { provider => 'imap', settings => { %$ok, refresh_token => 'x' } },
     qr/unknown setting 'refresh_token'/],
    ['an unknown field', { provider => 'imap', settings => $ok, email => 'a@b.c' }, qr/unknown field 'email'/],
    ['scope not an array', { provider => 'imap', settings => $ok, scope => 'mail' }, qr/scope must be an array/],
    ['no host, a domain nobody knows', { provider => 'imap',
                                         settings => imap_settings('alice', imap_host => undef, imap_port => undef) },
     qr/settings\.imap_host is required: no IMAP server was found for example\.test/],
    ['no host, a domain that signs in with OAuth', { provider => 'imap',
                                                     settings => imap_settings('alice', imap_host => undef, email => 'alice@gmail.com') },
     qr/no IMAP server was found for gmail\.com \(it signs in with google\)/],
) {
    my ($name, $body, $says) = @$c;
    $r = api(POST => '/grants', $body);
    is $r->code, 400, "$name: 400" or diag $r->as_string;
    is $r->{json}{error}{type}, 'invalid_request_payload', '... invalid_request_payload';
    is $r->{json}{error}{event_code}, 700, '... 700';
    like $r->{json}{error}{message} // '', $says, '... saying what';
    is index($r->content, $pw{alice}), -1, '... without the password';
}
is count_grants(), $n, 'no bad request stored a grant';
$r = api(POST => '/grants', { provider => 'imap', settings => $ok }, app => 'two');
is $r->code, 404, 'an application without an imap integration: 404';
is $r->{json}{error}{type}, 'integration_not_found', '... integration_not_found';
$r = api(POST => '/grants', { provider => 'imap', settings => $ok }, app => undef);
is $r->code, 401, 'no application credentials: 401';

# ---- no server given: auto-discovery finds it (RFC 6186 SRV records of the test name server) ----
for my $c (['dovecot.test', 'ssl', imap_port('imaps'), 201],
           # the same server and user: the same mailbox, re-authenticated
           ['dovecot-starttls.test', 'starttls', imap_port('starttls'), 200]) {
    my ($domain, $security, $port, $status) = @$c;
    $r = api(POST => '/grants', { provider => 'imap',
                                  settings => imap_settings('alice', imap_host => undef, imap_port => undef,
                                                            email => "alice\@$domain") });
    is $r->code, $status, "no host, alice\@$domain: $status (found by its SRV record)" or diag $r->as_string;
    is $r->{json}{data}{settings}{imap_host}, 'imap.dovecot.test', '... at the SRV record\'s host';
    is $r->{json}{data}{settings}{imap_port}, 0 + $port, "... and port ($security)";
    is $r->{json}{data}{settings}{imap_security}, $security, "... $security";
}

# ---- what the application may change, and what it may not -----------------------------------------------
$row = grant_row($alice);
$r = api(PATCH => "/grants/$alice", { settings => { refresh_token => 'rt-x' } });
is $r->code, 400, 'PATCH a refresh token into an imap grant: 400';
is $r->{json}{error}{event_code}, 700, '... invalid_request_payload';
is grant_row($alice)->{refresh_token}, $row->{refresh_token}, '... the sealed password unchanged';
for my $k (qw(imap_host imap_port imap_username imap_password imap_security type)) {
    my $v = $k eq 'imap_port' ? 1143 : $k eq 'imap_host' ? 'evil.example' : 'x';
    $r = api(PATCH => "/grants/$alice", { settings => { $k => $v } });
    is $r->code, 400, "PATCH settings.$k of an imap grant: 400";
    like $r->{json}{error}{message} // '', qr/signing in again/, '... sign in again to change it';
}
is grant_row($alice)->{settings}, $row->{settings}, '... the settings unchanged';
$r = api(PATCH => "/grants/$alice", { settings => { label => 'work' } });
is $r->code, 200, 'PATCH a setting of its own: 200';
is $r->{json}{data}{settings}{label}, 'work', '... shown';
is $r->{json}{data}{settings}{imap_host}, '127.0.0.1', '... beside where the mailbox is';

# ---- the password in no file, row or log -------------------------------------------------------------
my @files = raw_store_files();
SKIP: {
    skip 'the store\'s files cannot be read here', 1 unless @files;
    my @found;
    for my $f (@files) {
        open my $fh, '<:raw', $f or next;
        local $/;
        my $bytes = <$fh> // '';
        push @found, grep { index($bytes, $pw{$_}) >= 0 } sort keys %pw;
    }
    is_deeply \@found, [], 'no password in the store\'s files (' . scalar(@files) . ')';
}
my @rows = map { db_rows($_) } qw(grants events integrations);
my $dump = join "\n", map { my $h = $_; join ' ', map { $h->{$_} // '' } sort keys %$h } @rows;
is_deeply [grep { index($dump, $pw{$_}) >= 0 } sort keys %pw], [], 'no password in the rows';
my $log = error_log_since($log_at);
like $log, qr/CN00702: IMAP LOGIN at 127\.0\.0\.1:\d+ \(ssl\): logged in/, 'the error log tells of the LOGINs';
is_deeply [grep { index($log, $pw{$_}) >= 0 } sort keys %pw], [], 'no password in the error log';
my $access = access_log_since($access_at);
is_deeply [grep { index($access, $pw{$_}) >= 0 } sort keys %pw], [], 'no password in the access log';

# ---- DELETE: the grant and its sealed password go ------------------------------------------------------
$r = api(DELETE => "/grants/$bob");
is $r->code, 200, 'DELETE bob\'s grant';
is grant_row($bob), undef, '... gone, and its password with it';

# ---- plain IMAP where the operator allows it (a server of its own) ------------------------------------
{
    my $h = CnTest::Httpd->new;
    $h->write_conf(extra => join "\n", 'ConnectCAFile ' . conf_value('cn_cafile'),
                                       'ConnectIMAPAllowPlain On', 'ConnectIMAPTimeout 5',
                                       'ConnectAllowAddresses 127.0.0.1');
    ok $h->start, 'a server with ConnectIMAPAllowPlain On starts' or diag $h->output;
    like $h->output, qr/CN00703: ConnectIMAPAllowPlain On: mailbox passwords may be sent to IMAP servers without TLS/,
        '... warning about it';
    is $h->api(POST => '/integrations', { name => 'm', provider => 'imap',
                                          redirect_uris => ['http://localhost:3000/cb'] })->code, 201,
        '... its imap integration';
    my $secured = imap_logins('alice', 'secured');
    my $pr = $h->api(POST => '/grants', { provider => 'imap',
                                          settings => imap_settings('alice', imap_port => 0 + imap_port('starttls'),
                                                                    imap_security => 'plain') });
    is $pr->code, 201, '... plain IMAP: 201' or diag $pr->as_string;
    is $pr->{json}{data}{settings}{imap_security}, 'plain', '... a grant that says so';
    is wait_imap_logins('alice', 'secured', $secured + 1), $secured + 1,
        '... Dovecot saw the login without TLS';
    $pr = $h->api(POST => '/grants', { provider => 'imap',
                                       settings => imap_settings('alice', imap_password => 'wrong',
                                                                 imap_port => 0 + imap_port('starttls'),
                                                                 imap_security => 'plain') });
    is $pr->{json}{error}{type}, 'invalid_authentication', '... a wrong password there: invalid_authentication';
    ok $h->stop, '... stopped';
    is_deeply [grep { index($h->error_log, $pw{$_}) >= 0 } sort keys %pw], [], '... no password in its log';
}

# ---- the directives are checked at start-up ------------------------------------------------------------
for my $bad ('ConnectIMAPTimeout 0', 'ConnectIMAPTimeout 301', 'ConnectIMAPTimeout 2s',
             'ConnectIMAPAllowPlain maybe') {
    my $h = CnTest::Httpd->new;
    $h->write_conf(extra => $bad);
    ok !$h->start, "'$bad' refuses to start";
    my ($directive) = $bad =~ /^(\S+)/;
    like $h->output, qr/\Q$directive\E/, '... naming the directive';
    $h->stop;
}

done_testing;
