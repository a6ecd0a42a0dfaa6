# Every way the hosted flow can fail: refused POST /auth, bad or spent login
# ids, callbacks without the browser's session, with a forged state, replayed
# or too late, and each fault of the (fake) provider. Nothing is stored on
# failure, and the error log names the cause without any secret.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Digest::SHA ();
use Time::HiRes ();
use URI ();
use URI::QueryParam ();
use HTTP::Request ();
use CnTest qw(:all);
use CnTest::Flow;

reset_db();
my $RU = app_redirect_uri('one');
my $MAIL = 'https://graph.microsoft.com/Mail.Read';
is make_integration('google')->code, 201, 'google integration';
is make_integration('microsoft', scope => [$MAIL])->code, 201, 'microsoft integration';
is make_integration('google', app => 'two', scope => [])->code, 201, 'app two: google integration without scopes';

sub count { scalar(my @r = db_rows($_[0])) }
sub events_of { my $t = shift; scalar grep { $_->{type} eq $t } db_rows('events') }
sub set_expired {
    my $id = shift;
    return dbh()->do('UPDATE login_requests SET expires_at = ? WHERE id_digest = ?', undef,
                     time - 1, Digest::SHA::sha256_hex($id));
}
sub exchanges_of {
    my $code = shift // '-';
    return scalar grep { $_->{method} eq 'POST' && $_->{path} =~ m{/token\z}
                         && ($_->{params}{code} // '') eq $code } @{ fake_log() };
}
# A flow up to (not including) the callback.
sub started {
    my $f = CnTest::Flow->new(provider => 'google', @_);
    $f->auth && $f->login && $f->authorize;
    return $f;
}
sub with_query {
    my ($url, %set) = @_;
    my $u = URI->new($url);
    for my $k (keys %set) {
        if (defined $set{$k}) { $u->query_param($k => $set{$k}) } else { $u->query_param_delete($k) }
    }
    return "$u";
}

# ---- POST /auth refusals -------------------------------------------------------
my $logins = count('login_requests');
my $nobody = '00000000-0000-4000-8000-000000000000';
for my $c (
    ['provider imap without an imap integration', { provider => 'imap', redirect_uri => $RU }, 404, 'integration_not_found', 35004],
    ['settings.type for google', { provider => 'google', redirect_uri => $RU, settings => { type => 'yahoo' } }, 400, 'invalid_request_payload', 700],
    ['settings.type not a word', { provider => 'imap', redirect_uri => $RU, settings => { type => 'Ya hoo' } }, 400, 'invalid_request_payload', 700],
    ['an unknown setting', { provider => 'imap', redirect_uri => $RU, settings => { imap_host => 'x' } }, 400, 'invalid_request_payload', 700],
    ['prompt of an unknown word', { redirect_uri => $RU, prompt => 'select_account' }, 400, 'invalid_request_payload', 700],
    ['prompt with a trailing comma', { redirect_uri => $RU, prompt => 'detect,' }, 400, 'invalid_request_payload', 700],
    ['prompt twice the same', { redirect_uri => $RU, prompt => 'detect,detect' }, 400, 'invalid_request_payload', 700],
    ['login screen for an unregistered redirect_uri', { redirect_uri => 'https://evil.example/cb', prompt => 'select_provider' }, 400, 'redirect_uri_not_allowed', 25003],
    ['provider yahoo', { provider => 'yahoo', redirect_uri => $RU }, 400, 'provider_not_supported', 31005],
    ['no provider', { redirect_uri => $RU }, 400, 'provider_required', 25010],
    ['unregistered redirect_uri', { provider => 'google', redirect_uri => 'https://evil.example/cb' }, 400, 'redirect_uri_not_allowed', 25003],
    ['redirect_uri + trailing slash', { provider => 'google', redirect_uri => "$RU/" }, 400, 'redirect_uri_not_allowed', 25003],
    ['redirect_uri + query', { provider => 'google', redirect_uri => "$RU?next=1" }, 400, 'redirect_uri_not_allowed', 25003],
    ['redirect_uri in other case', { provider => 'google', redirect_uri => uc $RU }, 400, 'redirect_uri_not_allowed', 25003],
    ['no redirect_uri', { provider => 'google' }, 400, 'redirect_uri_not_allowed', 25003],
    ['unknown grant_id', { provider => 'google', redirect_uri => $RU, grant_id => $nobody }, 404, 'grant_not_found', 25007],
    ['expires_in 59', { provider => 'google', redirect_uri => $RU, expires_in => 59 }, 400, 'login_expires_in_invalid', 25002],
    ['expires_in 86401', { provider => 'google', redirect_uri => $RU, expires_in => 86401 }, 400, 'login_expires_in_invalid', 25002],
    ['expires_in "600"', { provider => 'google', redirect_uri => $RU, expires_in => '600' }, 400, 'login_expires_in_invalid', 25002],
    ['unknown field', { provider => 'google', redirect_uri => $RU, colour => 'red' }, 400, 'invalid_request_payload', 700],
    ['scope not an array', { provider => 'google', redirect_uri => $RU, scope => 'openid' }, 400, 'invalid_request_payload', 700],
    ['no login scopes (app two)', { provider => 'google', redirect_uri => app_redirect_uri('two') }, 400, 'no_login_scopes', 25006, 'two'],
    ['scope [] and none in the integration (app two)', { provider => 'google', redirect_uri => app_redirect_uri('two'), scope => [] }, 400, 'no_login_scopes', 25006, 'two'],
    ['no integration (app two, microsoft)', { provider => 'microsoft', redirect_uri => app_redirect_uri('two') }, 404, 'integration_not_found', 35004, 'two'],
) {
    my ($name, $body, $status, $type, $code, $app) = @$c;
    my $r = api(POST => '/auth', $body, app => $app || 'one');
    is $r->code, $status, "POST /auth, $name: $status";
    is $r->{json}{error}{type}, $type, "... $type";
    is $r->{json}{error}{event_code}, $code, "... $code";
}
my $r = api(POST => '/auth', { provider => 'google', redirect_uri => $RU }, app => undef);
is $r->code, 401, 'POST /auth without application credentials: 401';
is count('login_requests'), $logins, 'no refused request stored a login request';
{
    $r = api(POST => '/auth', { provider => 'google', redirect_uri => $RU, expires_in => -1 });
    is $r->code, 400, 'POST /auth, expires_in -1: 400';
    is $r->{json}{error}{event_code}, 25002, '... login_expires_in_invalid';
}

# A grant of the other provider cannot be re-authenticated through this one.
my $ok = hosted_flow(provider => 'google', login_hint => 'owner@example.com');
is $ok->result->{success}, 'true', 'a google grant to refer to';
$r = api(POST => '/auth', { provider => 'microsoft', redirect_uri => $RU, grant_id => $ok->grant_id });
is $r->code, 400, 'grant_id of a google grant with provider microsoft: 400';
is $r->{json}{error}{event_code}, 700, '... invalid_request_payload';

# ---- GET /login refusals ----------------------------------------------------------
my $started0 = events_of('hosted_login_started');
my $b = browser();
for my $c (['no id', url('/login')], ['an empty id', url('/login?id=')], ['a short id', url('/login?id=abc')],
           ['an unknown id', url('/login?id=' . ('A' x 43))],
           ['an id of the wrong alphabet', url('/login?id=' . ('+' x 43))]) {
    my $res = $b->get($c->[1]);
    is_deeply [error_page_problems($res)], [], "/login with $c->[0]: the HTML error page";
}
for my $path ('/login?id=' . ('A' x 42) . '%00', '/callback?code=x&state=%zz') {
    my $res = $b->get(url($path));
    isnt $res->code, 302, "$path: no redirect";
    {
        is_deeply [error_page_problems($res)], [], "$path: the HTML error page";
    }
}

# A login id is single use.
my $f = CnTest::Flow->new(provider => 'google', login_hint => 'reuse@example.com');
ok $f->auth && $f->login, 'a login URL used once';
my $res = $f->{browser}->get($f->{login_url});
is_deeply [error_page_problems($res)], [], '... the same browser again: the error page';
$res = browser()->get($f->{login_url});
is_deeply [error_page_problems($res)], [], '... another browser: the error page';
my $started1 = events_of('hosted_login_started');
is $started1, $started0 + 1, 'only the first visit started a login';

# An expired login id.
$f = CnTest::Flow->new(provider => 'google', login_hint => 'late@example.com', expires_in => 60);
ok $f->auth, 'a login request of 60 s';
is set_expired($f->{id}), 1, '... made to expire in the database';
$res = $f->{browser}->get($f->{login_url});
is_deeply [error_page_problems($res)], [], '/login after expiry: the error page';
ok !(grep { $_->{used_at} } grep { $_->{id_digest} eq Digest::SHA::sha256_hex($f->{id}) } db_rows('login_requests')),
   '... and the login request was not spent';

# cookie_nonce: the login URL only works in the browser holding the cookie.
my $nonce = secret_token('nonce');
$f = CnTest::Flow->new(provider => 'google', login_hint => 'nonce1@example.com', cookie_nonce => $nonce);
$f->auth;
$res = $f->{browser}->get($f->{login_url});
is_deeply [error_page_problems($res)], [], 'cookie_nonce set, no x-cookie-nonce cookie: the error page';
$f = CnTest::Flow->new(provider => 'google', login_hint => 'nonce2@example.com', cookie_nonce => $nonce);
$f->auth;
$f->{browser}->cookie_jar->set_cookie(0, 'x-cookie-nonce', "$nonce-x", '/connect', '127.0.0.1', server_port(), 0, 0, 3600, 0);
$res = $f->{browser}->get($f->{login_url});
is_deeply [error_page_problems($res)], [], '... a different x-cookie-nonce: the error page';
is events_of('hosted_login_started'), $started1, 'no refused /login started a login';

# The integration went away between /auth and /login.
is make_integration('microsoft', app => 'two', scope => [$MAIL])->code, 201, 'app two: a microsoft integration';
$f = CnTest::Flow->new(provider => 'microsoft', app => 'two', login_hint => 'gone@example.com');
ok $f->auth, '... a login request for it';
is api(DELETE => '/integrations/microsoft', undef, app => 'two')->code, 200, '... the integration deleted';
$res = $f->{browser}->get($f->{login_url});
is_deeply [error_page_problems($res, 'integration_no_longer_exists')], [], '/login: the error page, integration_no_longer_exists';

# ---- GET /callback refusals ----------------------------------------------------------
my $grants0 = count('grants');

# No session cookie: a page; the real browser can still finish.
$f = started(login_hint => 'nocookie@example.com', state => 'nc');
ok $f->{callback_url}, 'a flow at its callback';
$res = browser()->get($f->{callback_url});
is_deeply [error_page_problems($res)], [], 'the callback in a browser without the session cookie: the error page';
is exchanges_of($f->{code}), 0, '... the code was not exchanged';
is count('grants'), $grants0, '... no grant';
ok $f->callback, 'the browser that started the flow';
is $f->result->{success}, 'true', '... still completes it';
$grants0 = count('grants');

# Forged or foreign state.
$f = started(login_hint => 'forged@example.com', state => 'fs');
$res = $f->browser_get(with_query($f->{callback_url}, state => 'A' x 43));
is_deeply [error_page_problems($res)], [], 'a forged state: the error page';
$res = $f->browser_get(with_query($f->{callback_url}, state => undef));
is_deeply [error_page_problems($res)], [], 'no state: the error page';
$res = $f->browser_get(with_query($f->{callback_url}, state => ''));
is_deeply [error_page_problems($res)], [], 'an empty state: the error page';
is exchanges_of($f->{code}), 0, '... the code was never exchanged';
my $victim = started(login_hint => 'victim@example.com', state => 'v');
my $attacker = started(login_hint => 'attacker@example.com', state => 'a');
$res = $victim->browser_get($attacker->{callback_url});
is_deeply [error_page_problems($res)], [], 'another browser\'s code and state (login CSRF): the error page';
is exchanges_of($attacker->{code}), 0, '... the attacker\'s code was not exchanged';
is count('grants'), $grants0, 'no grant from any of these';

# Replay: the same callback URL again with the same cookie jar.
$f = started(login_hint => 'replay@example.com', state => 'rp');
my $old_cookie = $f->session_cookie;
ok $old_cookie, 'the session cookie before the callback';
ok $f->callback && $f->result->{success} eq 'true', 'the callback completes';
$grants0 = count('grants');
my $used0 = events_of('hosted_login_used');
$res = $f->browser_get($f->{callback_url});
is_deeply [error_page_problems($res)], [], 'the callback replayed in the same browser: the error page';
is exchanges_of($f->{code}), 1, '... the code was exchanged once only';
is count('grants'), $grants0, '... nothing stored';
is events_of('hosted_login_used'), $used0, '... no second hosted_login_used';

# Replay with the cookie as it was before the callback (a copied cookie).
{
    my $req = HTTP::Request->new(GET => $f->{callback_url});
    $req->header(Cookie => "connect_session=$old_cookie");
    my $res2 = browser()->request($req);
    {
        is_deeply [error_page_problems($res2)], [], 'the callback replayed with the pre-callback cookie: the error page';
        is exchanges_of($f->{code}), 1, '... and the provider is not asked again for the code';
    }
    is count('grants'), $grants0, '... either way nothing new is stored';
}

# The login expired between /login and /callback.
$f = started(login_hint => 'expired@example.com', state => 'ex', expires_in => 60);
ok $f->{callback_url}, 'a flow of 60 s at its callback';
is set_expired($f->{id}), 1, '... its login request expired in the database';
$res = $f->callback;
is_deeply [error_page_problems($f->{callback})], [], 'the callback after expiry: the error page';
is exchanges_of($f->{code}), 0, '... the code was not exchanged';
is count('grants'), $grants0, '... no grant';

# The provider sent neither code nor error.
$f = started(login_hint => 'nocode@example.com', state => 'ncd');
$f->callback(url => with_query($f->{callback_url}, code => undef));
is_deeply $f->result, { success => 'false', error => 'invalid_request', state => 'ncd', provider => 'google' },
    'a callback without code: back to the application with error=invalid_request';
is count('grants'), $grants0, '... no grant';

# ---- faults of the provider ---------------------------------------------------------------
my %fault = (deny => 'oauth_failed', slow => 'provider_not_responding', t500 => 'oauth_provider_error',
             tbadjson => 'oauth_provider_error', thtml => 'oauth_provider_error',
             norefresh => 'provider_code_request_failed', badgrant => 'provider_code_request_failed',
             narrow => 'scopes_conflict');
for my $fault (sort keys %fault) {
    my $type = $fault{$fault};
    my $email = "$fault.user\@example.com";
    my $state = "state-$fault";
    my $at = error_log_offset();
    my $grants = count('grants');
    my $created = events_of('grant_created');
    $f = started(login_hint => $email, state => $state);
    my $cookie = $f->session_cookie;
    my $t = Time::HiRes::time();
    $f->callback;
    my $took = Time::HiRes::time() - $t;
    is $f->{callback} && $f->{callback}->code, 302, "$fault: the callback redirects";
    like $f->{final_url} // '', qr{\A\Q$RU\E\?}, "$fault: to the application";
    is_deeply $f->result, { success => 'false', error => $type, state => $state, provider => 'google' },
        "$fault: success=false&error=$type&state&provider, nothing else";
    is count('grants'), $grants, "$fault: no grant stored";
    is events_of('grant_created'), $created, "$fault: no grant_created event";
    my $log = error_log_since($at);
    like $log, qr/CN00202: hosted google login failed: \Q$type\E \(/, "$fault: the error log names $type";
    my @secret = ('test-google-secret', $f->{id}, $cookie, $f->{code},
                  map { $_->{value} } fake_issued(email => $email));
    push @secret, map { $_->{params}{code_verifier} }
                  grep { ($_->{params}{code} // '') eq ($f->{code} // '-') && $_->{params}{code_verifier} } @{ fake_log() };
    is_deeply [grep { defined && length && index($log, $_) >= 0 } @secret], [],
        "$fault: no secret in the error log (" . scalar(grep { defined } @secret) . ' checked)';
    if ($fault eq 'slow') {
        ok $took >= 1.5 && $took < 4.5, sprintf 'slow: gave up after ConnectProviderTimeout 2 s (%.1f s)', $took;
    }
    if ($fault eq 'deny') {
        is exchanges_of($f->{code}), 0, 'deny: no code exchange';
    }
}

done_testing;
