# GET /auth, the OAuth 2.0 authorization request: until the application,
# its integration and an exact match of the redirect URI are known, every
# failure is an HTML page and never a redirect (RFC 6749 §4.1.2.1, RFC 9700
# §4.1; the OpenID conformance suite's redirect-URI cases); after that,
# failures go back to the application with error, error_description and
# state; a good request runs the provider's sign-in and ends with
# redirect_uri?code=…&state=….
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Digest::SHA ();
use URI::Escape ();
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::OAuth;

reset_db();
my $RU = app_redirect_uri('one');
my $WITH_QUERY = 'https://app-one.example/oauth/q?x=1';
my $GMAIL = 'https://www.googleapis.com/auth/gmail.readonly';
is make_integration('google', redirect_uris => [$RU, $WITH_QUERY])->code, 201, 'google integration';
is make_integration('microsoft', scope => ['https://graph.microsoft.com/Mail.Read'])->code, 201,
    'microsoft integration';
is make_integration('google', app => 'two', scope => [])->code, 201, 'app two: google without scopes';

sub count { scalar(my @r = db_rows($_[0])) }

# ---- the application is not known: pages -----------------------------------------
my $logins = count('login_requests');
for my $c (
    ['no client_id', { client_id => undef }, 'invalid_client', 400],
    ['an unknown client_id', { client_id => 'app-nobody' }, 'invalid_client', 400],
    ['no provider', { provider => undef }, 'provider_required', 400],
    ['provider imap without an imap integration', { provider => 'imap' }, 'integration_not_found', 404],
    ['provider yahoo', { provider => 'yahoo' }, 'provider_not_supported', 400],
    ['no integration for the provider', { app => 'two', provider => 'microsoft' }, 'integration_not_found', 404],
    ['no redirect_uri', { redirect_uri => undef }, 'redirect_uri_not_allowed', 400],
    # the OpenID conformance suite's redirect-URI cases
    ['redirect_uri with a query added', { redirect_uri => "$RU?foo=bar" }, 'redirect_uri_not_allowed', 400],
    ['redirect_uri with its query changed', { redirect_uri => 'https://app-one.example/oauth/q?x=2' }, 'redirect_uri_not_allowed', 400],
    ['redirect_uri without its query', { redirect_uri => 'https://app-one.example/oauth/q' }, 'redirect_uri_not_allowed', 400],
    ['an unregistered redirect_uri', { redirect_uri => 'https://evil.example/cb' }, 'redirect_uri_not_allowed', 400],
    ['redirect_uri in another case', { redirect_uri => 'https://APP-ONE.example/oauth/done' }, 'redirect_uri_not_allowed', 400],
    ['redirect_uri, path in another case', { redirect_uri => 'https://app-one.example/OAuth/done' }, 'redirect_uri_not_allowed', 400],
    ['redirect_uri with a trailing slash', { redirect_uri => "$RU/" }, 'redirect_uri_not_allowed', 400],
    ['redirect_uri with a fragment', { redirect_uri => "$RU#x" }, 'redirect_uri_not_allowed', 400],
    ['app two naming app one\'s redirect_uri', { app => 'two', redirect_uri => $RU }, 'redirect_uri_not_allowed', 400],
    ['a bad redirect_uri and a bad response_type', { redirect_uri => "$RU/", response_type => 'token' }, 'redirect_uri_not_allowed', 400],
    ['redirect_uri twice', { query => 'redirect_uri=' . URI::Escape::uri_escape($RU) }, 'invalid_request', 400],
    ['client_id twice', { query => 'client_id=app-two' }, 'invalid_request', 400],
) {
    my ($name, $q, $type, $status) = @$c;
    my $res = browser()->get(authorize_url(state => 'st-page', %$q));
    is $res->code, $status, "GET /auth, $name: $status";
    ok !defined $res->header('Location'), '... no redirect';
    like $res->header('Content-Type') // '', qr{^text/html}, '... an HTML page';
    like $res->content, qr/\Q$type\E/, "... naming $type";
    is_deeply [page_header_problems($res)], [], '... with the page headers';
}
is count('login_requests'), $logins, 'no refused request stored anything';

# ---- the redirect URI is the application's: errors go back to it ---------------------------
for my $c (
    ['no response_type', { response_type => undef }, 'invalid_request'],
    ['response_type=token', { response_type => 'token' }, 'unsupported_response_type'],
    ['response_type=adminconsent', { response_type => 'adminconsent', credential_id => 'c1' }, 'unsupported_response_type'],
    ['access_type=forever', { access_type => 'forever' }, 'invalid_request'],
    ['code_challenge_method=S512', { code_challenge => pkce_s256(pkce_verifier()), code_challenge_method => 'S512' }, 'invalid_request'],
    ['a method without a challenge', { code_challenge_method => 'S256' }, 'invalid_request'],
    ['an S256 challenge of 42 characters', { code_challenge => substr(pkce_s256('x' x 43), 0, 42), code_challenge_method => 'S256' }, 'invalid_request'],
    ['a plain challenge of 42 characters', { code_challenge => 'a' x 42 }, 'invalid_request'],
    ['a plain challenge of 129 characters', { code_challenge => 'a' x 129, code_challenge_method => 'plain' }, 'invalid_request'],
    ['expires_in 299', { expires_in => 299 }, 'invalid_request'],
    ['expires_in 86401', { expires_in => 86401 }, 'invalid_request'],
    ['expires_in "1h"', { expires_in => '1h' }, 'invalid_request'],
    ['a scope with a quote', { scope => 'openid "email"' }, 'invalid_scope'],
    ['scope twice', { scope => 'openid', query => 'scope=email' }, 'invalid_request'],
    ['no scope anywhere (app two)', { app => 'two' }, 'invalid_scope'],
) {
    my ($name, $q, $error) = @$c;
    my $res = browser()->get(authorize_url(state => 'st-' . length($name), %$q));
    my $app = $q->{app} || 'one';
    is $res->code, 302, "GET /auth, $name: 302";
    my $loc = $res->header('Location') // '';
    like $loc, qr{\A\Q${\ app_redirect_uri($app) }\E\?}, '... back to the application';
    my $back = query_of($loc);
    is $back->{error}, $error, "... error=$error";
    is $back->{state}, 'st-' . length($name), '... with its state';
    like $back->{error_description} // '', qr/\A[\x20-\x21\x23-\x5B\x5D-\x7E]+\z/, '... and an error_description';
    ok !exists $back->{code}, '... and no code';
}
is count('login_requests'), $logins, 'nothing stored for them either';
my $res = browser()->get(authorize_url(response_type => 'token', state => 'x' x 1025));
is query_of($res->header('Location'))->{error}, 'invalid_request', 'a state over 1024 bytes: invalid_request';
ok !exists query_of($res->header('Location'))->{state}, '... and it is not sent back';

# ---- HEAD: nothing stored ---------------------------------------------------------------------
$res = browser()->head(authorize_url(state => 'h'));
is $res->code, 200, 'HEAD /auth of a good request: 200';
is count('login_requests'), $logins, '... and nothing stored';

# ---- a good request, with PKCE S256 ---------------------------------------------------------
my $v = pkce_verifier();
my $t0 = time;
my $a = authorize(login_hint => 'Ann.OAuth@Example.com', state => 'app-state-1', scope => $GMAIL,
                  code_challenge => pkce_s256($v), code_challenge_method => 'S256',
                  nonce => 'n-0S6_WzA2Mj', access_type => 'online');
is $a->{error}, undef, 'GET /auth → the provider → /callback → the application';
is $a->{auth}->code, 302, 'GET /auth: 302';
is_deeply [page_header_problems($a->{auth})], [], '... with the page headers';
my $up = $a->{authorize_query} || {};
is $up->{client_id}, 'test-google-client', 'upstream: the integration\'s client';
is $up->{redirect_uri}, url('/callback'), 'upstream: <ConnectBaseURL>/callback';
is $up->{login_hint}, 'Ann.OAuth@Example.com', 'upstream: the login_hint';
is $up->{access_type}, 'offline', 'upstream: access_type=offline though the application asked online';
is $up->{prompt}, 'consent', 'upstream: prompt=consent';
like $up->{scope}, qr/\Q$GMAIL\E/, 'upstream: the requested scope';
isnt $up->{state}, 'app-state-1', 'upstream: our own state';
isnt $up->{code_challenge}, pkce_s256($v), 'upstream: our own PKCE challenge, not the application\'s';
is $up->{code_challenge_method}, 'S256', 'upstream: S256';
is $a->{callback}->code, 302, 'GET /callback: 302';
is_deeply [sort keys %{ $a->{result} || {} }], [qw(code state)], 'the application gets code and state only';
is $a->{result}{state}, 'app-state-1', 'state: the application\'s';
like $a->{code} // '', qr/\Acnac_[A-Za-z0-9_-]{43}\z/, 'code: cnac_ and 256 random bits';
my @codes = db_rows('oauth_codes');
is scalar(@codes), 1, 'one code stored';
is $codes[0]{digest}, token_digest($a->{code}), '... as its SHA-256';
is $codes[0]{app_id}, 'app-one', '... for the application';
is $codes[0]{redirect_uri}, $RU, '... with the redirect URI';
is $codes[0]{challenge}, pkce_s256($v), '... the challenge';
is $codes[0]{challenge_method}, 'S256', '... its method';
is $codes[0]{nonce}, 'n-0S6_WzA2Mj', '... the nonce';
is $codes[0]{scope}, $GMAIL, '... the scope';
is $codes[0]{offline}, 0, '... online';
ok $codes[0]{expires_at} >= $t0 + 600 && $codes[0]{expires_at} <= time + 600, '... for 10 minutes';
ok !defined $codes[0]{used_at}, '... unused';
my @l = grep { $_->{kind} eq 'authorize' } db_rows('login_requests');
is scalar(@l), 1, 'the request was kept as a login request of kind authorize';
ok defined $l[0]{used_at} && defined $l[0]{callback_at}, '... spent and called back';
my @g = db_rows('grants');
is scalar(@g), 1, 'one grant';
is $g[0]{email}, 'ann.oauth@example.com', '... of the user who signed in';
is $codes[0]{grant_id}, $g[0]{id}, 'the code is the grant\'s';
is_deeply [sort map { $_->{type} } db_rows('events')], [qw(grant_created hosted_login_started hosted_login_used)],
    'events: the login started and used, the grant created';

# the same mailbox again (its login_hint): the grant is re-authenticated
my $again = authorize(login_hint => 'ann.oauth@example.com', state => 'again');
ok $again->{code}, 'the same user again: a code';
is scalar(db_rows('grants')), 1, '... for the same grant';
is scalar(grep { $_->{type} eq 'grant_reauthenticated' } db_rows('events')), 1, '... re-authenticated';

# Microsoft
my $ms = authorize(provider => 'microsoft', login_hint => 'carol@contoso.example', state => 'ms');
like $ms->{code} // '', qr/\Acnac_/, 'Microsoft: a code';
like $ms->{authorize_query}{scope} // '', qr/\boffline_access\b/, 'upstream: offline_access';

# a redirect URI registered with a query: the code is added to it
my $wq = authorize(redirect_uri => $WITH_QUERY, login_hint => 'q@example.com', state => 'wq');
like $wq->{final_url} // '', qr{\A\Qhttps://app-one.example/oauth/q?x=1&code=cnac_\E}, 'a registered query is kept, code added';

# ---- failures after the provider ------------------------------------------------------------
for my $c (['the user refuses consent', 'deny@example.com', 'access_denied', 'oauth_failed'],
           ['the provider\'s token endpoint fails', 't500@example.com', 'server_error', 'oauth_provider_error'],
           ['a scope is not granted', 'narrow@example.com', 'access_denied', 'scopes_conflict']) {
    my ($name, $hint, $error, $event) = @$c;
    my $f = authorize(login_hint => $hint, state => "st-$hint");
    is $f->{callback}->code, 302, "$name: /callback redirects";
    is $f->{result}{error}, $error, "... error=$error";
    is $f->{result}{state}, "st-$hint", '... with the application\'s state';
    like $f->{result}{error_description} // '', qr/\A\Q$event\E \(\d+\)/, "... error_description names $event";
    ok !exists $f->{result}{code}, '... no code';
}
is scalar(db_rows('oauth_codes')), 4, 'codes only for the good requests';

# ---- nothing secret in the logs ----------------------------------------------------------------
my $log = error_log();
is scalar(grep { index($log, $_->{code} // 'none') >= 0 } $a, $again, $ms, $wq), 0, 'no code in the error log';
ok index($log, $v) < 0 && index($log, pkce_s256($v)) < 0, 'nor the verifier or the challenge';
like $log, qr/CN01311: authorization request failed: oauth_failed/, 'a failure is logged with its event';
like $log, qr/CN01312: authorization code issued for grant/, 'an issued code is logged (without it)';

done_testing;
