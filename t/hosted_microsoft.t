# Hosted authentication with Microsoft (v2.0 endpoints, the integration's
# tenant, Graph /me when the id token has no address), against the fake.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Digest::SHA ();
use MIME::Base64 ();
use CnTest qw(:all);
use CnTest::Flow;

reset_db();
my $MAIL = 'https://graph.microsoft.com/Mail.Read';
my $TENANT = 'contoso.onmicrosoft.com';
my $r = make_integration('microsoft', tenant => $TENANT, scope => [$MAIL]);
is $r->code, 201, 'microsoft integration of app one, tenant ' . $TENANT or diag $r->as_string;
is $r->{json}{data}{settings}{tenant}, $TENANT, '... the tenant is kept';
$r = make_integration('microsoft', app => 'two', scope => [$MAIL]);
is $r->code, 201, 'microsoft integration of app two, default tenant' or diag $r->as_string;

sub words { [ sort split ' ', shift // '' ] }
sub b64url_sha256 {
    my $b = MIME::Base64::encode_base64(Digest::SHA::sha256(shift), '');
    $b =~ tr{+/}{-_};
    $b =~ s/=+\z//;
    return $b;
}

my $hint = 'Bob.Smith@Contoso.example';
my $state = 'ms-' . secret_token('st');
my $t0 = time;
my $f = hosted_flow(provider => 'microsoft', login_hint => $hint, state => $state);
is $f->{error}, undef, 'every hop answered as the next one needs';
is $f->{auth}->code, 200, 'POST /auth: 200';
is_deeply $f->{auth}{json}{data}{request},
    { redirect_uri => app_redirect_uri('one'), provider => 'microsoft', scope => [$MAIL],
      login_hint => $hint, state => $state }, 'the request as stored';

# /login → the tenant's authorize endpoint.
is $f->{login}->code, 302, 'GET /login: 302';
like $f->{authorize_url}, qr{\A\Q${\ fake_url("/microsoft/$TENANT/oauth2/v2.0/authorize?") }\E},
    'to /{tenant}/oauth2/v2.0/authorize with the integration\'s tenant';
my $q = $f->{authorize_query};
is $q->{client_id}, 'test-ms-client', 'client_id';
is $q->{redirect_uri}, url('/callback'), 'redirect_uri: <ConnectBaseURL>/callback';
is $q->{response_type}, 'code', 'response_type=code';
is $q->{response_mode}, 'query', 'response_mode=query';
is_deeply words($q->{scope}), [sort $MAIL, qw(openid email offline_access)],
    'scope: requested + openid email offline_access';
like $q->{state} // '', qr/\A[A-Za-z0-9_-]{43}\z/, 'state: 43 random characters';
like $q->{code_challenge} // '', qr/\A[A-Za-z0-9_-]{43}\z/, 'code_challenge';
is $q->{code_challenge_method}, 'S256', 'S256';
is $q->{login_hint}, $hint, 'login_hint';
ok !exists $q->{$_}, "no $_ (Google only)" for qw(access_type include_granted_scopes);
is $q->{prompt}, 'select_account', 'prompt=select_account: a signed-in browser still asks which account';
is_deeply [page_header_problems($f->{login})], [], 'page headers on the redirect';
ok scalar(grep { /^connect_session=[^;]{40,}/ } $f->{login}->header('Set-Cookie')), '/login sets the session cookie';
ok !$f->session_cookie, 'the callback empties it';

# The exchange at the tenant's token endpoint, with PKCE.
my @token = grep { ($_->{params}{code} // '') eq ($f->{code} // '-') && $_->{method} eq 'POST' } @{ fake_log() };
is scalar(@token), 1, 'one code exchange';
is $token[0] && $token[0]{path}, "/microsoft/$TENANT/oauth2/v2.0/token", '... at the tenant\'s token endpoint';
is $token[0] && $token[0]{params}{client_id}, 'test-ms-client', '... as the integration\'s client';
is b64url_sha256($token[0] ? $token[0]{params}{code_verifier} // '' : ''), $q->{code_challenge}, '... with the verifier behind the challenge';

# Back to the application.
is $f->{callback}->code, 302, 'GET /callback: 302';
like $f->{final_url}, qr{\A\Q${\ app_redirect_uri('one') }\E\?}, 'to the redirect_uri';
my $res = $f->result;
is_deeply [sort keys %$res], [qw(email grant_id provider state success)], 'the parameters of a success';
is $res->{success}, 'true', 'success=true';
like $res->{grant_id} // '', qr/\A[0-9a-f-]{36}\z/, 'grant_id';
is $res->{state}, $state, 'state';
is $res->{provider}, 'microsoft', 'provider=microsoft';
is $res->{email}, 'bob.smith@contoso.example', 'email, lowercased';
is_deeply [page_header_problems($f->{callback})], [], 'page headers on the redirect';

$r = api(GET => '/grants/' . ($f->grant_id // 'none'));
my $g = $r->{json}{data} || {};
is_deeply [sort keys %$g], [grant_keys()], 'the grant, no token';
is $g->{provider}, 'microsoft', 'provider';
is $g->{email}, 'bob.smith@contoso.example', 'email';
is $g->{provider_user_id}, microsoft_user_id($hint), 'provider_user_id: the id token\'s oid';
is_deeply $g->{scope}, [$MAIL], 'scope';
is $g->{ip}, '127.0.0.1', 'ip';
is $g->{state}, $state, 'state';
ok $g->{created_at} >= $t0, 'created_at';
my $first_grant = $f->grant_id;

# ---- no email claim: Graph /me ------------------------------------------------------
my $n = scalar @{ fake_log() };
$f = hosted_flow(provider => 'microsoft', login_hint => 'noemail.Carol@contoso.example', state => 'ne');
is $f->result->{success}, 'true', 'no email in the id token: success';
is $f->result->{email}, 'noemail.carol@contoso.example', 'the address from Graph /me, lowercased';
my @log = @{ fake_log() };
my @me = grep { $_->{path} eq '/microsoft/graph/v1.0/me' } @log[$n .. $#log];
is scalar(@me), 1, 'Graph /me was asked once';
$r = api(GET => '/grants/' . ($f->grant_id // 'none'));
is $r->{json}{data}{provider_user_id}, microsoft_user_id('noemail.Carol@contoso.example'), 'provider_user_id: Graph\'s id';

# ---- explicit scopes: Microsoft's OpenID scopes are not doubled ------------------------
$f = hosted_flow(provider => 'microsoft', login_hint => 'scoped@contoso.example',
                 scope => ['openid', 'offline_access', 'Calendars.Read']);
is_deeply words($f->{authorize_query}{scope}), [sort qw(openid offline_access Calendars.Read email)],
    'requested scopes + the missing email, each once';
is $f->result->{success}, 'true', 'success';

# ---- re-authentication of the same mailbox ---------------------------------------------
$f = hosted_flow(provider => 'microsoft', login_hint => 'BOB.SMITH@contoso.example', state => 'again');
is $f->result->{success}, 'true', 'the same mailbox again';
is $f->grant_id, $first_grant, '... the same grant';

# ---- app two: the default tenant "common", its own grants ---------------------------------
$f = hosted_flow(provider => 'microsoft', app => 'two', login_hint => $hint, state => 'two');
like $f->{authorize_url} // '', qr{\A\Q${\ fake_url('/microsoft/common/oauth2/v2.0/authorize?') }\E},
    'app two: the default tenant common';
is $f->result->{success}, 'true', 'app two signs the same mailbox in';
like $f->{final_url} // '', qr{\A\Q${\ app_redirect_uri('two') }\E\?}, '... back to app two';
isnt $f->grant_id, $first_grant, '... into a grant of its own';
$r = api(GET => '/grants/' . ($f->grant_id // 'none'), undef, app => 'two');
is $r->code, 200, 'app two reads its grant';
$r = api(GET => '/grants/' . ($f->grant_id // 'none'));
is $r->code, 404, 'app one does not see it';

# ---- prompt: select_account by default, consent when the integration says so ------------------
$r = api(PATCH => '/integrations/microsoft', { settings => { prompt => 'sometimes' } }, app => 'two');
is $r->code, 400, 'settings.prompt other than select_account or consent: 400';
$r = api(PATCH => '/integrations/microsoft', { settings => { prompt => 'consent' } }, app => 'two');
is $r->code, 200, 'settings.prompt consent: 200' or diag $r->content;
$f = hosted_flow(provider => 'microsoft', app => 'two', login_hint => 'consent@contoso.example');
is $f->{authorize_query}{prompt}, 'consent', 'then the sign-in asks prompt=consent';
is $f->result->{success}, 'true', '... and completes';

# ---- failures at Microsoft end at the application ----------------------------------------------
for my $case ([deny => 'oauth_failed'], [badgrant => 'provider_code_request_failed'],
              [narrow => 'scopes_conflict'], [t500 => 'oauth_provider_error'],
              [norefresh => 'provider_code_request_failed']) {
    my ($fault, $type) = @$case;
    my $at = error_log_offset();
    my $email = "$fault.ms\@contoso.example";
    $f = hosted_flow(provider => 'microsoft', login_hint => $email, state => "f-$fault");
    is_deeply $f->result, { success => 'false', error => $type, state => "f-$fault", provider => 'microsoft' },
        "$fault: success=false&error=$type&state&provider";
    ok !(grep { $_->{email} eq lc $email } db_rows('grants')), "$fault: no grant stored";
    like error_log_since($at), qr/CN00202: hosted microsoft login failed: \Q$type\E \(/, "$fault: the error log names $type";
}

my $log = error_log();
is_deeply [grep { index($log, $_->{value}) >= 0 } fake_issued()], [], 'no issued code or token in the error log';
ok index($log, 'test-ms-secret') < 0, 'no client secret in the error log';

done_testing;
