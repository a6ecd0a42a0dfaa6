# Hosted authentication with Google: POST /auth → GET /login → the provider's
# consent (the fake) → GET /callback → back to the application, hop by hop.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Digest::SHA ();
use MIME::Base64 ();
use CnTest qw(:all);
use CnTest::Flow;

reset_db();
my $GMAIL = 'https://www.googleapis.com/auth/gmail.readonly';
my $USERINFO = 'https://www.googleapis.com/auth/userinfo.email';
my $r = make_integration('google', scope => [$GMAIL], expires_in => 43200);
is $r->code, 201, 'google integration with the fake client' or diag $r->as_string;
my $integration_id = $r->{json}{data}{id};

sub b64url_sha256 {
    my $b = MIME::Base64::encode_base64(Digest::SHA::sha256(shift), '');
    $b =~ tr{+/}{-_};
    $b =~ s/=+\z//;
    return $b;
}
sub words { [ sort split ' ', shift // '' ] }

# ---- the whole dance ---------------------------------------------------------
my $app_state = 'app-state-' . secret_token('s');
my $hint = 'Ann.Lee@Example.COM';
my $t0 = time;
my $f = hosted_flow(provider => 'google', login_hint => $hint, state => $app_state);
my $t1 = time;
is $f->{error}, undef, 'every hop answered as the next one needs';

# POST /auth
my $auth = $f->{auth};
is $auth->code, 200, 'POST /auth: 200';
my $ja = $auth->{json} || {};
is $ja->{success}, JSON::true, 'success flag';
is_deeply [sort keys %{ $ja->{data} || {} }], [qw(expires_at id request url)], 'data: url, id, expires_at, request';
my $id = $ja->{data}{id} // '';
like $id, qr/\A[A-Za-z0-9_-]{43}\z/, 'the login id: 43 characters of base64url';
is $ja->{data}{url}, url("/login?id=$id"), 'url: <ConnectBaseURL>/login?id=ID';
ok $ja->{data}{expires_at} >= $t0 + 43200 && $ja->{data}{expires_at} <= $t1 + 43200,
   'expires_at: now + the integration\'s expires_in (43200 < 86400)';
is_deeply $ja->{data}{request},
    { redirect_uri => app_redirect_uri('one'), provider => 'google', scope => [$GMAIL],
      login_hint => $hint, state => $app_state },
    'request: redirect_uri, provider, the integration\'s scope, login_hint, state';

# The login id is stored only as its SHA-256.
my @logins = db_rows('login_requests');
is scalar(@logins), 1, 'one login request stored';
is $logins[0]{id_digest}, Digest::SHA::sha256_hex($id), 'stored as SHA-256 hex of the id';
my $dbh = dbh();
my @tables = db_driver() eq 'sqlite3'
    ? @{ $dbh->selectcol_arrayref(q{SELECT name FROM sqlite_master WHERE type = 'table'}) }
    : @{ $dbh->selectcol_arrayref(q{SELECT tablename FROM pg_tables WHERE schemaname = current_schema()}) };
my @raw_id = grep { defined $_ && index($_, $id) >= 0 }
             map { @$_ } map { @{ $dbh->selectall_arrayref(qq{SELECT * FROM "$_"}) } } @tables;
is scalar(@raw_id), 0, 'the raw login id is in no column of any table';

# GET /login
my $login = $f->{login};
is $login->code, 302, 'GET /login: 302';
like $login->header('Location'), qr{\A\Q${\ fake_url('/google/authorize?') }\E}, '... to the (fake) Google authorize endpoint';
my $q = $f->{authorize_query} || {};
is $q->{client_id}, 'test-google-client', 'client_id';
is $q->{redirect_uri}, url('/callback'), 'redirect_uri: <ConnectBaseURL>/callback';
is $q->{response_type}, 'code', 'response_type=code';
is_deeply words($q->{scope}), [sort $GMAIL, 'openid', $USERINFO], 'scope: requested + openid + userinfo.email';
like $q->{state} // '', qr/\A[A-Za-z0-9_-]{43}\z/, 'state: 43 random characters';
isnt $q->{state}, $app_state, '... not the application\'s state';
like $q->{code_challenge} // '', qr/\A[A-Za-z0-9_-]{43}\z/, 'code_challenge';
is $q->{code_challenge_method}, 'S256', 'code_challenge_method=S256';
is $q->{login_hint}, $hint, 'login_hint passed on as given';
is $q->{access_type}, 'offline', 'access_type=offline';
is $q->{prompt}, 'consent', 'prompt=consent';
is $q->{include_granted_scopes}, 'true', 'include_granted_scopes=true';
ok !exists $q->{response_mode}, 'no response_mode for Google';
is_deeply [page_header_problems($login)], [], 'the redirect carries CSP, X-Frame-Options, Referrer-Policy, no-store';
my @cookies = grep { /^connect_session=/ } $login->header('Set-Cookie');
is scalar(@cookies), 1, 'the session cookie connect_session is set';
my $cookie = $cookies[0] // '';
like $cookie, qr/;\s*path=\/connect\b/i, '... for /connect';
like $cookie, qr/;\s*HttpOnly\b/i, '... HttpOnly';
like $cookie, qr/;\s*SameSite=Lax\b/i, '... SameSite=Lax';
my ($cookie_value) = $cookie =~ /^connect_session=([^;]*)/;
ok length($cookie_value // '') > 40, '... with a value';
# The module seals each value; mod_session_crypto, when loaded (the pass
# sqlite-crypto), encrypts the whole cookie again (see t/session_crypto.t).
my @open = grep { !/\Aconnect-flow-[0-9a-f]{8}=cn1\.[0-9a-f]{8}\./ } grep { /\Aconnect-/ } split /&/, $cookie_value;
is_deeply \@open, [], '... each connect-* value in it sealed by the module';
unlike $cookie_value, qr/connect-/, '... the whole value encrypted by mod_session_crypto'
    if conf_value('cn_sessioncrypto');
ok index($cookie_value, $q->{state} // 'x') < 0, '... nor the provider state';

# The provider: auto-consent, back to /callback with code and the same state.
is $f->{authorize}->code, 302, 'the fake authorize answers 302';
like $f->{callback_url}, qr{\A\Q${\ url('/callback?') }\E}, '... to <ConnectBaseURL>/callback';
is $f->{callback_query}{state}, $q->{state}, '... with our state';
ok length($f->{code} // '') > 10, '... and a code';

# The code exchange, as the fake saw it: PKCE with the verifier behind the challenge.
my @token = grep { $_->{path} eq '/google/token' && ($_->{params}{code} // '') eq ($f->{code} // '') } @{ fake_log() };
is scalar(@token), 1, 'one code exchange with this code';
my $tp = $token[0] ? $token[0]{params} : {};
is $tp->{grant_type}, 'authorization_code', 'grant_type=authorization_code';
is $tp->{redirect_uri}, url('/callback'), 'the same redirect_uri';
is $tp->{client_id}, 'test-google-client', 'client_id';
is $tp->{client_secret}, '<secret>', 'a client_secret was sent (the fake checked it)';
is b64url_sha256($tp->{code_verifier} // ''), $q->{code_challenge}, 'SHA-256 of the code_verifier is the code_challenge';

# GET /callback → the application.
my $cb = $f->{callback};
is $cb->code, 302, 'GET /callback: 302';
like $f->{final_url} // '', qr{\A\Q${\ app_redirect_uri('one') }\E\?}, '... to the application\'s redirect_uri';
my $res = $f->{result};
is_deeply [sort keys %$res], [qw(email grant_id provider state success)], 'success, grant_id, state, provider, email; no error';
is $res->{success}, 'true', 'success=true';
like $res->{grant_id} // '', qr/\A[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\z/, 'grant_id: a UUID';
is $res->{state}, $app_state, 'state: the application\'s';
is $res->{provider}, 'google', 'provider=google';
is $res->{email}, 'ann.lee@example.com', 'email, lowercased';
is_deeply [page_header_problems($cb)], [], 'the redirect carries the page headers';
ok !$f->session_cookie, 'the browser keeps no sign-in state afterwards';

# The grant.
my $grant_id = $res->{grant_id};
$r = api(GET => "/grants/$grant_id");
is $r->code, 200, 'GET /grants/{id}';
my $g = $r->{json}{data} || {};
is_deeply [sort keys %$g], [grant_keys()], 'the grant\'s fields, no token';
is $g->{id}, $grant_id, 'id';
is $g->{provider}, 'google', 'provider';
is $g->{email}, 'ann.lee@example.com', 'email';
is $g->{grant_status}, 'valid', 'grant_status valid';
is_deeply $g->{scope}, [$GMAIL], 'scope: the requested one';
is $g->{user_agent}, 'Mozilla/5.0 (cntest browser)', 'user_agent: the browser\'s';
is $g->{ip}, '127.0.0.1', 'ip';
is $g->{state}, $app_state, 'state';
is $g->{provider_user_id}, google_user_id($hint), 'provider_user_id: the id token\'s sub';
ok $g->{created_at} >= $t0 && $g->{created_at} <= time, 'created_at: now';
is $g->{updated_at}, $g->{created_at}, 'updated_at = created_at';
my @issued = fake_issued(email => $hint);
ok scalar(grep { $_->{kind} eq 'refresh' } @issued), 'the fake issued a refresh token';
is_deeply [grep { index($r->content . $cb->as_string, $_->{value}) >= 0 } @issued], [],
    'no code or token the fake issued appears in the answers';

my @grants = db_rows('grants');
is scalar(@grants), 1, 'one grant row';
is $grants[0]{integration_id}, $integration_id, '... of the integration';
like $grants[0]{refresh_token} // '', qr/\Acn1\.[0-9a-f]{8}\./, 'refresh token sealed';
like $grants[0]{access_token} // '', qr/\Acn1\.[0-9a-f]{8}\./, 'access token sealed';

# ---- the login id is single use --------------------------------------------
$r = $f->{browser}->get($f->{login_url});
is_deeply [error_page_problems($r)], [], 'the same login URL again: the HTML error page';

# ---- no login_hint: the fake's default user -------------------------------------
$f = hosted_flow(provider => 'google', state => 'no-hint');
is $f->{error}, undef, 'a flow without login_hint';
ok !exists $f->{authorize_query}{login_hint}, 'no login_hint sent to the provider';
is $f->result->{email}, 'user@example.com', 'the user the provider chose';
is $f->result->{success}, 'true', 'success';

# ---- requested scopes instead of the integration's ------------------------------
my $CAL = 'https://www.googleapis.com/auth/calendar.readonly';
$f = hosted_flow(provider => 'google', login_hint => 'scoped@example.com', scope => ['email', $CAL]);
is_deeply $f->{auth}{json}{data}{request}{scope}, ['email', $CAL], 'POST /auth echoes the requested scope';
is_deeply words($f->{authorize_query}{scope}), [sort 'email', $CAL, 'openid'],
    'upstream: requested + openid (email already there)';
is $f->result->{success}, 'true', 'success';
$r = api(GET => '/grants/' . ($f->grant_id // 'none'));
is_deeply $r->{json}{data}{scope}, ['email', $CAL], 'the grant has the requested scopes';

# ---- noemail: the address comes from userinfo ------------------------------------
my $log_n = scalar @{ fake_log() };
$f = hosted_flow(provider => 'google', login_hint => 'noemail.Zoe@example.com', state => 'ne');
is $f->result->{success}, 'true', 'no email in the id token: still success';
is $f->result->{email}, 'noemail.zoe@example.com', 'the email from userinfo, lowercased';
my @ui = grep { $_->{path} eq '/google/userinfo' } @{ fake_log() }[$log_n .. $#{ fake_log() }];
is scalar(@ui), 1, 'userinfo was asked once';
$r = api(GET => '/grants/' . ($f->grant_id // 'none'));
is $r->{json}{data}{provider_user_id}, google_user_id('noemail.Zoe@example.com'),
    'provider_user_id: the sub (userinfo agrees)';

# ---- the same mailbox again: the same grant, re-authenticated --------------------
$f = hosted_flow(provider => 'google', login_hint => 'ANN.LEE@example.com', state => 'again');
is $f->result->{success}, 'true', 'a second sign-in of the same mailbox';
is $f->grant_id, $grant_id, '... re-authenticates the same grant';
is $f->result->{state}, 'again', '... with the new state';
is scalar(grep { $_->{email} eq 'ann.lee@example.com' } db_rows('grants')), 1, 'still one grant for that mailbox';
$r = api(GET => "/grants/$grant_id");
is $r->{json}{data}{state}, 'again', 'the grant\'s state is the latest';

# ---- grant_id: re-authentication of a given grant --------------------------------
$f = hosted_flow(provider => 'google', login_hint => 'ann.lee@example.com', grant_id => $grant_id, state => 're');
is $f->{auth}{json}{data}{request}{grant_id}, $grant_id, 'POST /auth echoes grant_id';
is $f->result->{success}, 'true', 're-auth of the grant by the same mailbox';
is $f->grant_id, $grant_id, '... same grant_id';

my $before = scalar db_rows('grants');
$f = hosted_flow(provider => 'google', login_hint => 'somebody.else@example.com', grant_id => $grant_id, state => 'other');
is $f->result->{success}, 'false', 're-auth of the grant by another mailbox fails';
is $f->result->{error}, 'reauth_email_invalid', '... reauth_email_invalid';
is $f->result->{state}, 'other', '... with the application\'s state';
ok !exists $f->result->{grant_id}, '... and no grant_id';
is scalar(db_rows('grants')), $before, 'no grant stored for the other mailbox';
$r = api(GET => "/grants/$grant_id");
is $r->{json}{data}{email}, 'ann.lee@example.com', 'the grant still belongs to its mailbox';

# ---- cookie_nonce: the login URL works only in the browser holding the cookie ----
my $nonce = secret_token('nonce');
$f = CnTest::Flow->new(provider => 'google', login_hint => 'nonce@example.com', cookie_nonce => $nonce);
$f->auth;
ok !exists $f->{auth}{json}{data}{request}{cookie_nonce}, 'cookie_nonce is not echoed';
ok index($f->{auth}->content, $nonce) < 0, '... anywhere in the answer';
my $port = server_port();
$f->{browser}->cookie_jar->set_cookie(0, 'x-cookie-nonce', $nonce, '/connect', '127.0.0.1', $port, 0, 0, 3600, 0);
$f->login && $f->authorize && $f->callback;
is $f->{error}, undef, 'with the x-cookie-nonce cookie the dance completes';
is $f->result->{success}, 'true', '... successfully';

# ---- expires_in of the login request --------------------------------------------
$r = api(POST => '/auth', { provider => 'google', redirect_uri => app_redirect_uri('one'), expires_in => 60 });
ok abs($r->{json}{data}{expires_at} - (time + 60)) <= 2, 'expires_in 60 → expires_at now + 60';
$r = api(POST => '/auth', { provider => 'google', redirect_uri => app_redirect_uri('one'), expires_in => 86400 });
ok abs($r->{json}{data}{expires_at} - (time + 86400)) <= 2, 'expires_in 86400 → now + 86400';
$r = api(PATCH => '/integrations/google', { expires_in => 200000 });
is $r->code, 200, 'the integration\'s expires_in raised to 200000';
$r = api(POST => '/auth', { provider => 'google', redirect_uri => app_redirect_uri('one') });
ok abs($r->{json}{data}{expires_at} - (time + 86400)) <= 2, 'default: min(integration expires_in, 86400)';

# ---- nothing secret in the error log ------------------------------------------------
my $log = error_log();
my @all_issued = fake_issued();
is_deeply [map { "$_->{kind} of $_->{email}" } grep { index($log, $_->{value}) >= 0 } @all_issued], [],
    'no code or token the fake issued is in the error log (' . scalar(@all_issued) . ' checked)';
ok index($log, 'test-google-secret') < 0, 'nor the client secret';
ok index($log, $id) < 0, 'nor the login id';

done_testing;
