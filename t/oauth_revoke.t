# What an application does with the OAuth server's tokens besides
# refreshing them: POST /revoke (RFC 7009; the token, its siblings and its
# refresh token; 200 {} whether or not it existed), GET /grants/me with a
# bearer access token (401 with WWW-Authenticate: Bearer error="invalid_token"
# when it is unknown, revoked or expired), GET /tokeninfo; and what deleting
# a grant or an integration does to them.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::OAuth;

reset_db();
my $RU = app_redirect_uri('one');
is make_integration('google')->code, 201, 'google integration (app one)';
is make_integration('microsoft')->code, 201, 'microsoft integration (app one)';
is make_integration('google', app => 'two')->code, 201, 'google integration (app two)';

# A family: a code exchanged with the secret (offline: with a refresh token).
sub family {
    my %o = @_;
    my ($code) = app_code(access_type => 'offline', %o);
    my $r = token(grant_type => 'authorization_code', code => $code, redirect_uri => app_redirect_uri($o{app} || 'one'),
                  _basic => $o{app} || 'one');
    die 'no tokens: ' . $r->as_string unless $r->code == 200;
    return $r->{json};
}
sub works { grant_me(shift)->code == 200 }
sub refreshes {
    my ($rt, $app) = @_;
    my $r = token(grant_type => 'refresh_token', refresh_token => $rt, _basic => $app || 'one');
    return $r->code == 200 ? $r->{json} : undef;
}
sub revoked_ok {
    my ($r, $name) = @_;
    is $r->code, 200, "$name: 200" or diag $r->as_string;
    is $r->content, '{}', '... {}';
    is $r->header('Cache-Control'), 'no-store', '... not cached';
}

# ---- GET /grants/me ----------------------------------------------------------------------------
my $f = family(login_hint => 'me@example.com', state => 'st-me');
my $r = grant_me($f->{access_token});
is $r->code, 200, 'GET /grants/me with a bearer access token: 200';
is_deeply [sort keys %{ $r->{json}{data} || {} }], [grant_keys()], '... the grant in the API\'s shape';
is $r->{json}{data}{id}, $f->{grant_id}, '... the token\'s grant';
is $r->{json}{data}{email}, 'me@example.com', '... its email';
is $r->{json}{data}{state}, 'st-me', '... the state of the authorization request';
$r = grant_me(undef);
is $r->code, 401, 'no Authorization: 401';
is $r->header('WWW-Authenticate'), 'Bearer realm="mod_connect"', '... WWW-Authenticate: Bearer, without an error';
is $r->{json}{error}{type}, 'invalid_token', '... invalid_token';
for my $c (['an unknown token', 'cnat_' . ('Q' x 43)], ['a refresh token', $f->{refresh_token}],
           ['something else', 'hello']) {
    $r = grant_me($c->[1]);
    is $r->code, 401, "$c->[0]: 401";
    like $r->header('WWW-Authenticate') // '', qr/\ABearer realm="mod_connect", error="invalid_token"/,
         '... WWW-Authenticate: Bearer error="invalid_token"';
    is $r->{json}{error}{event_code}, 45008, '... event 45008';
}
$r = api(GET => '/grants/me', undef, app => 'one');
is $r->code, 401, 'Basic credentials of the application are no bearer token: 401';
my $g = family(login_hint => 'expiring@example.com');
ok works($g->{access_token}), 'another token works';
is dbh()->do(q{UPDATE oauth_tokens SET expires_at = ? WHERE digest = ?}, undef, time - 1,
             token_digest($g->{access_token})), 1, 'its expiry moved into the past (in the database)';
$r = grant_me($g->{access_token});
is $r->code, 401, 'an expired access token: 401';
like $r->header('WWW-Authenticate') // '', qr/error="invalid_token"/, '... invalid_token';
ok refreshes($g->{refresh_token}), 'its refresh token still gives a new one';

# ---- GET /tokeninfo -------------------------------------------------------------------------------
$r = tokeninfo('access_token=' . $f->{access_token});
is $r->code, 200, 'GET /tokeninfo?access_token=: 200';
my $d = $r->{json}{data} || {};
is $d->{grant_id}, $f->{grant_id}, '... grant_id';
is $d->{sub}, $f->{grant_id}, '... sub: the grant';
is $d->{client_id}, 'app-one', '... client_id';
is $d->{aud}, 'app-one', '... aud';
is $d->{iss}, url(''), '... iss: ConnectBaseURL';
is $d->{email}, 'me@example.com', '... email';
is $d->{provider}, 'google', '... provider';
is $d->{scope}, $f->{scope}, '... scope';
is $d->{token_type}, 'access_token', '... token_type';
ok $d->{exp} - $d->{iat} == 3600 && abs($d->{iat} - time) < 60, '... iat now, exp an hour later';
$r = tokeninfo('access_token=' . $f->{access_token}, app => 'two');
is $r->code, 400, 'another application\'s token: 400';
is $r->{json}{error}{type}, 'invalid_token', '... invalid_token';
is $r->{json}{error}{event_code}, 45008, '... 45008';
$r = tokeninfo('access_token=cnat_' . ('Z' x 43));
is $r->{json}{error}{event_code}, 45008, 'an unknown token: invalid_token';
$r = tokeninfo('access_token=' . $g->{access_token});
is $r->{json}{error}{event_code}, 45008, 'an expired token: invalid_token';
$r = tokeninfo('access_token=' . $f->{refresh_token});
is $r->{json}{error}{event_code}, 45008, 'a refresh token as access_token: invalid_token';
$r = tokeninfo('');
is $r->code, 400, 'neither access_token nor id_token: 400';
is $r->{json}{error}{type}, 'invalid_query_params', '... invalid_query_params';
$r = tokeninfo('access_token=' . $f->{access_token}, app => undef);
is $r->code, 401, 'without application credentials: 401';

# ---- POST /revoke -------------------------------------------------------------------------------------
# An access token in the query, no credentials: its family goes.
my $h = family(login_hint => 'revoke@example.com');
my ($code2) = app_code(access_type => 'offline', login_hint => 'revoke@example.com');
my $other = token(grant_type => 'authorization_code', code => $code2, redirect_uri => $RU, _basic => 'one')->{json};
my $sib = refreshes($h->{refresh_token});
ok $sib && works($h->{access_token}) && works($sib->{access_token}), 'a family of two access tokens';
my $ev0 = scalar grep { $_->{type} eq 'session_revoke_success' } db_rows('events');
revoked_ok(revoke(_query => 'token=' . $h->{access_token}), 'POST /revoke?token=<access token>');
ok !works($h->{access_token}), '... the token is revoked';
ok !works($sib->{access_token}), '... its sibling too';
ok !refreshes($sib->{refresh_token}), '... and the family\'s refresh token';
ok works($other->{access_token}), 'another family of the same grant is untouched';
is scalar(grep { $_->{type} eq 'session_revoke_success' } db_rows('events')), $ev0 + 1,
   'session_revoke_success recorded';
revoked_ok(revoke(_query => 'token=' . $h->{access_token}), 'the same token again');
revoked_ok(revoke(_query => 'token=cnat_' . ('W' x 43)), 'an unknown token');
revoked_ok(revoke(_query => 'token=whatever'), 'something that is no token');

# A refresh token in a form body with a hint, with Basic credentials.
my $k = family(login_hint => 'hint@example.com');
revoked_ok(revoke(token => $k->{refresh_token}, token_type_hint => 'refresh_token', _basic => 'one'),
           'POST /revoke token=<refresh token>&token_type_hint=refresh_token, Basic');
ok !works($k->{access_token}), '... its access token is revoked';
ok !refreshes($k->{refresh_token}), '... and it';

# Credentials, when given, must be right and the token's.
my $m = family(login_hint => 'mine@example.com');
$r = revoke(token => $m->{access_token}, _basic => ['app-one', 'wrong']);
is $r->code, 401, 'wrong credentials: 401';
is $r->{json}{error}, 'invalid_client', '... invalid_client';
$r = revoke(token => $m->{access_token}, _basic => 'two');
is $r->code, 400, 'another application\'s credentials: 400';
is $r->{json}{error}, 'unauthorized_client', '... unauthorized_client';
ok works($m->{access_token}), '... and the token still works';
$r = revoke(token => $m->{access_token}, client_id => 'app-two');
is $r->{json}{error}, 'unauthorized_client', 'another application\'s client_id: unauthorized_client';
revoked_ok(revoke(token => $m->{access_token}, client_id => 'app-one'), 'its own client_id');
ok !works($m->{access_token}), '... revoked';
$r = revoke(_basic => 'one');
is $r->code, 400, 'no token: 400';
is $r->{json}{error}, 'invalid_request', '... invalid_request';
$r = revoke(token => 'a', _query => 'token=b');
is $r->{json}{error}, 'invalid_request', 'two different tokens: invalid_request';
$r = revoke(_raw => '{"token":"x"}', _content_type => 'application/json');
is $r->code, 200, 'a JSON body: 200';

# The tokens of app two are app two's.
my $two = family(app => 'two', login_hint => 'two@example.com');
ok works($two->{access_token}), 'app two\'s token works';
$r = tokeninfo('access_token=' . $two->{access_token}, app => 'two');
is $r->{json}{data}{client_id}, 'app-two', '... /tokeninfo names app two';

# ---- deleting a grant or an integration takes its tokens ---------------------------------------------
my $n = family(login_hint => 'deleted@example.com');
my @before = grep { $_->{grant_id} eq $n->{grant_id} } db_rows('oauth_tokens');
is_deeply [sort map { $_->{kind} } @before], [qw(access refresh)],
    'a grant with an access and a refresh token (its id_token is not stored)';
is api(DELETE => "/grants/$n->{grant_id}")->code, 200, 'DELETE /grants/{id}';
is scalar(grep { $_->{grant_id} eq $n->{grant_id} } db_rows('oauth_tokens')), 0, '... its tokens are gone';
is scalar(grep { $_->{grant_id} eq $n->{grant_id} } db_rows('oauth_codes')), 0, '... and its codes';
is grant_me($n->{access_token})->code, 401, '... GET /grants/me: 401';
ok !refreshes($n->{refresh_token}), '... no refresh';

my $ms = family(provider => 'microsoft', login_hint => 'ms.user@example.com');
ok works($ms->{access_token}), 'a Microsoft grant\'s token works';
is api(DELETE => '/integrations/microsoft')->code, 200, 'DELETE /integrations/microsoft';
ok !works($ms->{access_token}), '... the tokens of its grants are gone';
is scalar(grep { $_->{grant_id} eq $ms->{grant_id} } db_rows('oauth_tokens')), 0, '... from the store';
ok works($other->{access_token}), 'the Google grant\'s token still works';

my $log = error_log();
is scalar(grep { index($log, $_) >= 0 } map { ($_->{access_token}, $_->{refresh_token}) } $f, $h, $k, $m, $n),
   0, 'no token in the error log';

done_testing;
