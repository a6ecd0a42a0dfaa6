# An independent OpenID Connect relying party against the OAuth 2.0 server:
# openid-client (npm, a certified RP library; t/oidc/rp.mjs) knows only the
# issuer URL (ConnectBaseURL), finds the endpoints by discovery, runs the
# authorization request with PKCE S256, state and nonce through the fake
# provider, exchanges the code, verifies the id_token's signature against
# the JWKS and its claims, asks /tokeninfo about that id_token (found by its
# at_hash, since id_tokens are not stored), refreshes (rotation), sees the old
# refresh token refused, revokes, and sees the revoked one refused and its
# family's id_token unknown.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;

my $rp = t_dir() . '/oidc/rp.mjs';
my $modules = t_dir() . '/oidc/node_modules/openid-client';
plan skip_all => "the RP library is not installed ($modules; make deps runs npm ci)" unless -d $modules;

reset_db();
is make_integration('google', scope => ['https://www.googleapis.com/auth/gmail.readonly'])->code, 201,
    'google integration of app one';
my ($id, $secret) = app_creds('one');
local $ENV{NODE_EXTRA_CA_CERTS} = conf_value('cn_cafile');
my $cmd = join ' ', map { "'$_'" } 'node', $rp, url(''), $id, $secret, app_redirect_uri('one'), 'google',
    'rp.user@example.com';
my $json = `$cmd 2>&1`;
my $res = json_decode($json);
ok $res, 'the relying party printed its report' or diag $json;
$res ||= {};
ok $res->{ok}, 'the relying party got through every step' or diag $res->{error} // $json;
my %step = map { $_->{name} => $_ } @{ $res->{steps} || [] };

is $step{discovery}{issuer}, url(''), 'discovery: the issuer is ConnectBaseURL';
is $step{discovery}{token_endpoint}, url('/token'), '... the token endpoint found';
ok $step{authorize}{returned_to_redirect_uri}, 'the browser came back to the redirect URI with a code';
my $x = $step{code_exchange} || {};
ok $x->{id_token_verified}, 'code exchanged with PKCE; the id_token verified by openid-client (signature, iss, aud, nonce, exp)';
is lc($x->{token_type} // ''), 'bearer', 'token_type Bearer';
ok $x->{has_access_token} && $x->{has_refresh_token}, 'an access token and (offline) a refresh token';
is $x->{claims}{iss}, url(''), 'id_token iss';
is $x->{claims}{aud}, $id, 'id_token aud: the client id';
is $x->{claims}{email}, 'rp.user@example.com', 'id_token email';
is $x->{claims}{sub}, $x->{grant_id}, 'id_token sub: the grant id';
my ($g) = grep { $_->{id} eq ($x->{grant_id} // '') } db_rows('grants');
ok $g, 'the grant exists';
my $ti = $step{tokeninfo} || {};
is $ti->{status}, 200, 'GET /tokeninfo?id_token= of the id_token openid-client verified: 200';
is $ti->{token_type}, 'id_token', '... token_type id_token';
is $ti->{grant_id}, $x->{grant_id}, '... its grant';
ok $step{refresh}{new_access_token} && $step{refresh}{rotated}, 'refresh: a new access token and a rotated refresh token';
is $step{refresh_reuse}{result}, 'invalid_grant', 'the rotated refresh token is refused: invalid_grant';
is $step{revoke}{refresh_after_revoke}, 'invalid_grant', 'after /revoke the refresh token is refused';
is $step{revoke}{tokeninfo}{status}, 400, '... and the family\'s id_token is unknown to /tokeninfo: 400';
is $step{revoke}{tokeninfo}{event_code}, 45008, '... 45008';

done_testing;
