# The Nylas Node.js SDK (npm `nylas` v8, unchanged; t/nylas/sdk.mjs) against
# the Nylas v3 layout (SetHandler connect-v3 at /v3): the application sets
# only apiUri (this server) and apiKey (its secret). The PKCE sign-in through
# the fake provider, the code exchange with the SDK's verifier, the grants
# (read, list through every page with filters, update, delete), refresh,
# token info, provider detection, custom (native) authentication, revocation,
# and the SDK's error classes with their status and request id.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;

my $sdk = t_dir() . '/nylas/sdk.mjs';
my $modules = t_dir() . '/nylas/node_modules/nylas';
plan skip_all => "the Nylas SDK is not installed ($modules; make deps runs npm ci)" unless -d $modules;

reset_db();
is make_integration('google', scope => ['https://www.googleapis.com/auth/gmail.readonly'])->code, 201,
    'google integration of app one';
my ($id, $secret) = app_creds('one');
my $hint = 'sdk.user@example.com';

# Two more grants of app one, connected through the `connect` layout, so the
# SDK's list has more than one page; a refresh token for its custom auth.
for my $n (1, 2) {
    my $token = secret_token("sdk-rt-$n");
    fake_seed('google', $token, "sdk.other$n\@example.com");
    is api(POST => '/grants', { provider => 'google', settings => { refresh_token => $token } })->code, 201,
        "grant $n through /connect";
}
my $custom_token = secret_token('sdk-custom-rt');
fake_seed('google', $custom_token, 'sdk.custom@example.com');
my $other_app = api(POST => '/integrations', google_integration(), app => 'two');

local $ENV{NODE_EXTRA_CA_CERTS} = conf_value('cn_cafile');
my $cmd = join ' ', map { "'$_'" } 'node', $sdk, base_url(), $secret, $id, app_redirect_uri('one'), $hint,
    $custom_token;
my $json = `$cmd 2>&1`;
my $res = json_decode($json);
ok $res, 'the SDK script printed its report' or diag $json;
$res ||= {};
ok $res->{ok}, 'the SDK got through every step' or diag $res->{error} // $json;
my %step = map { $_->{name} => $_ } @{ $res->{steps} || [] };
my $uuid = qr/\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\z/;

like $step{authorize}{url} // '', qr{\A\Q${\ base_url()}\E/v3/connect/auth\?}, 'the SDK\'s URL is below /v3';
ok $step{authorize}{code}, 'the browser came back to the redirect URI with a code';
is $step{authorize}{state}, 'sdk-state', '... and the state';

my $x = $step{code_exchange} || {};
like $x->{grant_id} // '', $uuid, 'exchangeCodeForToken with the SDK\'s verifier: a grant id';
is $x->{email}, $hint, '... email';
is $x->{provider}, 'google', '... provider';
is lc($x->{token_type} // ''), 'bearer', '... token_type';
ok $x->{has_access_token} && $x->{has_refresh_token} && $x->{has_id_token}, '... access, refresh and id tokens';
my ($g) = grep { $_->{id} eq ($x->{grant_id} // '') } db_rows('grants');
ok $g, 'the grant is stored';

my $f = $step{find} || {};
is $f->{id}, $x->{grant_id}, 'grants.find: the grant';
is $f->{email}, $hint, '... its email';
is $f->{grant_status}, 'valid', '... valid';
like $f->{request_id} // '', $uuid, '... requestId';

my $l = $step{list} || {};
is scalar @{ $l->{pages} || [] }, 2, 'grants.list, limit 2: the iterator read two pages and stopped';
is_deeply [map { $_->{n} } @{ $l->{pages} || [] }], [2, 1], '... of 2 and 1 grants';
is $l->{pages}[0]{next_cursor}, '2', '... the first with next_cursor';
ok !defined $l->{pages}[1]{next_cursor}, '... the last without';
my %listed = map { $_ => 1 } @{ $l->{ids} || [] };
is scalar(keys %listed), 3, '... three different grants';
ok $listed{ $x->{grant_id} // '' }, '... the signed-in one among them';
is_deeply $l->{filtered}, [$hint], 'email filter: the one grant';
is $l->{none}, 0, 'provider=microsoft: none';

is $step{update}{id}, $x->{grant_id}, 'grants.update: the grant';
is_deeply $step{update}{scope}, ['openid', 'email'], '... its new scope';

my $r = $step{refresh} || {};
ok $r->{new_access_token} && $r->{rotated}, 'refreshAccessToken: a new access token, a rotated refresh token';
is $r->{grant_id}, $x->{grant_id}, '... of the grant';
is $r->{email}, $hint, '... email in the answer';

my $ti = $step{id_token_info} || {};
is $ti->{iss}, url(''), 'idTokenInfo: iss is ConnectBaseURL';
is $ti->{aud}, $id, '... aud the client id';
is $ti->{sub}, $x->{grant_id}, '... sub the grant';
is $ti->{email}, $hint, '... email';
ok $ti->{iat} && $ti->{exp} && $ti->{exp} > $ti->{iat}, '... iat < exp';
is $step{access_token_info}{sub}, $x->{grant_id}, 'accessTokenInfo: sub the grant';

my $d = $step{detect} || {};
is $d->{emailAddress}, 'someone@gmail.com', 'detectProvider: emailAddress';
is $d->{provider}, 'google', '... google';
is $d->{type}, 'google', '... type';
ok $d->{detected}, '... detected';
is $d->{other}{provider}, 'microsoft', 'detectProvider of an outlook.com address: microsoft';
ok !$d->{other}{detected}, '... not detected (app one has no microsoft integration)';

my $c = $step{custom} || {};
like $c->{id} // '', $uuid, 'customAuthentication with a provider refresh token: a grant';
is $c->{email}, 'sdk.custom@example.com', '... the provider\'s address';
is $c->{state}, 'custom-state', '... the state';

ok $step{revoke}{revoked}, 'auth.revoke: true';
ok $step{revoke}{info_after}{thrown}, '... the access token is unknown afterwards';
ok $step{revoke}{refresh_after}{oauth_error}, '... and its refresh token refused: NylasOAuthError';
is $step{revoke}{refresh_after}{error}, 'invalid_grant', '... invalid_grant';

like $step{destroy}{request_id} // '', $uuid, 'grants.destroy: requestId';
ok $step{destroy}{find_after}{api_error}, '... the grant is gone: NylasApiError';
is $step{destroy}{find_after}{status}, 404, '... 404';
ok !(grep { $_->{id} eq ($c->{id} // '') } db_rows('grants')), '... and not stored';

my $e = $step{errors} || {};
for ([wrong_key => 'a wrong API key', 1, 401], [unknown_grant => 'an unknown grant', 1, 404],
     [bad_code => 'a bad code', 0, 400], [wrong_key_token => 'a code exchange with a wrong key', 0, 401]) {
    my ($k, $what, $api, $status) = @$_;
    my $err = $e->{$k} || {};
    ok $err->{thrown}, "$what: the SDK throws";
    ok $api ? $err->{api_error} : $err->{oauth_error}, '... a ' . ($api ? 'NylasApiError' : 'NylasOAuthError');
    is $err->{status}, $status, "... status $status";
    like $err->{request_id} // '', $uuid, '... with the requestId';
}
is $e->{unknown_grant}{type}, 'grant_not_found', 'unknown grant: type grant_not_found';
is $e->{bad_code}{error}, 'invalid_grant', 'bad code: error invalid_grant';
ok $e->{bad_code}{error_code}, '... and an error_code';
is $e->{wrong_key_token}{error}, 'invalid_client', 'a code exchange with a wrong key: invalid_client';

# The other application's integration was never seen, nor its grants.
is $other_app->code, 201, 'app two has an integration too';
ok !(grep { ($_->{app_id} // '') ne $id } db_rows('grants')), 'every grant is app one\'s';

done_testing;
