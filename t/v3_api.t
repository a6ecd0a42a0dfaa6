# The Nylas v3 layout (SetHandler connect-v3 at /v3): its authentication
# rules (an application's secret as API key, Basic too; an OAuth access
# token on /grants/me only) and its shapes (request_id in every body and in
# X-Request-Id, {request_id, data}, next_cursor lists and page_token, the
# v3 error body, RFC 6749 errors with error_code, detection and token info
# fields), beside the `connect` layout, which answers as before.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::OAuth;
use HTTP::Request ();

# v3(METHOD, PATH below /v3, BODY, key => 'one' | 'two' | a string | undef,
#    basic => 'one', headers => {...}, query => 'a=b')
sub v3 {
    my ($method, $path, $body, %o) = @_;
    my $u = base_url() . '/v3' . $path . (defined $o{query} ? "?$o{query}" : '');
    my $req = HTTP::Request->new($method => $u);
    my $key = exists $o{key} ? $o{key} : 'one';
    if ($o{basic}) {
        $req->authorization_basic(app_creds($o{basic}));
    }
    elsif (defined $key) {
        my $k = $key =~ /\A(one|two)\z/ ? (app_creds($key))[1] : $key;
        $req->header(Authorization => "Bearer $k");
    }
    if (defined $body) {
        $req->content(json_encode($body));
        $req->header('Content-Type' => 'application/json');
    }
    $req->header('Content-Length' => length($req->content // '')) if $method =~ /^(POST|PATCH)$/;
    while (my ($k, $v) = each %{ $o{headers} || {} }) { $req->header($k => $v) }
    my $res = CnTest::ua()->request($req);
    $res->{json} = json_decode($res->content);
    return $res;
}

my $uuid = qr/\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\z/;

# The request id of an answer: in the body and the header, the same.
sub request_id_ok {
    my ($res, $what) = @_;
    my $id = $res->{json} && $res->{json}{request_id};
    like $id // '', $uuid, "$what: request_id in the body";
    is $res->header('X-Request-Id'), $id, '... the same in X-Request-Id';
}

# The v3 error body of RES: status, type.
sub v3_error_ok {
    my ($res, $status, $type, $what) = @_;
    is $res->code, $status, "$what: $status";
    my $j = $res->{json} || {};
    is_deeply [sort keys %$j], [qw(error request_id)], '... {request_id, error}';
    is_deeply [sort keys %{ $j->{error} || {} }], [qw(message provider_error type)],
        '... error {type, message, provider_error}';
    is $j->{error}{type}, $type, "... type $type" if defined $type;
    ok exists $j->{error}{provider_error} && !defined $j->{error}{provider_error}, '... provider_error null';
    is $res->header('X-Request-Id'), $j->{request_id}, '... request_id in the header too';
}

reset_db();
is make_integration('google')->code, 201, 'google integration of app one';
is make_integration('google', app => 'two')->code, 201, 'google integration of app two';
my @tokens = map { secret_token("v3-rt-$_") } 1 .. 3;
fake_seed('google', $tokens[$_], "v3.user$_\@example.com") for 0 .. 2;
my @ids;
for my $i (0 .. 1) {
    my $r = v3(POST => '/connect/custom', { provider => 'google', settings => { refresh_token => $tokens[$i] } });
    is $r->code, 201, "POST /v3/connect/custom (native auth) with a refresh token: 201" or diag $r->content;
    request_id_ok($r, '... ');
    is_deeply [sort keys %{ $r->{json} || {} }], [qw(data request_id)], '... {request_id, data}, no success';
    is $r->{json}{data}{email}, "v3.user$i\@example.com", '... the grant of the provider\'s address';
    push @ids, $r->{json}{data}{id};
}
my $r = v3(POST => '/connect/custom', { provider => 'google', settings => { refresh_token => $tokens[2] } }, key => 'two');
is $r->code, 201, 'app two connects one by its own key';
my $two_id = $r->{json}{data}{id};

# ---- authentication ----------------------------------------------------------------
$r = v3(GET => "/grants/$ids[0]");
is $r->code, 200, 'GET /v3/grants/{id} with the API key (Bearer <secret>): 200';
request_id_ok($r, 'a grant');
is_deeply [sort keys %{ $r->{json} }], [qw(data request_id)], '... {request_id, data}';
is $r->{json}{data}{id}, $ids[0], '... the grant';
is v3(GET => "/grants/$ids[0]", undef, basic => 'one')->code, 200, 'Basic is still accepted';
v3_error_ok(v3(GET => "/grants/$ids[0]", undef, key => undef), 401, undef, 'no credentials');
like v3(GET => '/grants', undef, key => undef)->header('WWW-Authenticate') // '', qr/\ABearer /,
    '... the challenge is Bearer';
v3_error_ok(v3(GET => "/grants/$ids[0]", undef, key => 'not-an-application-secret'), 401, undef, 'a wrong key');
v3_error_ok(v3(GET => "/grants/$ids[0]", undef, key => 'two'), 404, 'grant_not_found',
            'another application\'s key: its grant is not found');
is v3(GET => "/grants/$two_id", undef, key => 'two')->code, 200, '... its own is';
is api(GET => "/grants/$ids[0]", undef, app => undef,
       headers => { Authorization => 'Bearer ' . (app_creds('one'))[1] })->code, 401,
    'the `connect` layout takes no API key: Basic only';

# An access token of the OAuth server: on /grants/me only.
my $v = pkce_verifier();
my $a = authorize(login_hint => 'v3.oauth@example.com', access_type => 'offline',
                  code_challenge => pkce_s256($v), code_challenge_method => 'S256');
ok $a->{code}, 'a code from GET /connect/auth';
$r = v3(POST => '/connect/token', { grant_type => 'authorization_code', code => $a->{code},
                                    redirect_uri => app_redirect_uri(), client_id => 'app-one',
                                    code_verifier => $v });
is $r->code, 200, 'POST /v3/connect/token with the API key: 200' or diag $r->content;
request_id_ok($r, 'the token answer');
my $tok = $r->{json} || {};
is $tok->{email}, 'v3.oauth@example.com', '... email';
is $tok->{provider}, 'google', '... provider';
like $tok->{grant_id} // '', $uuid, '... grant_id';
is $r->header('Cache-Control'), 'no-store', '... no-store';
$r = v3(GET => '/grants/me', undef, key => $tok->{access_token});
is $r->code, 200, 'GET /v3/grants/me with the access token: 200';
is $r->{json}{data}{id}, $tok->{grant_id}, '... its grant';
request_id_ok($r, '... ');
v3_error_ok(v3(GET => '/grants', undef, key => $tok->{access_token}), 401, undef,
            'the access token anywhere else');
v3_error_ok(v3(GET => '/grants/me'), 401, undef, 'the API key on /grants/me');

# ---- token info, detection ---------------------------------------------------------
$r = v3(GET => '/connect/tokeninfo', undef, query => "id_token=$tok->{id_token}");
is $r->code, 200, 'GET /v3/connect/tokeninfo?id_token=: 200';
my $ti = $r->{json}{data} || {};
ok !grep({ !exists $ti->{$_} } qw(iss aud iat exp sub email)), '... iss, aud, iat, exp, sub, email';
is $ti->{iss}, url(''), '... iss';
is $ti->{aud}, 'app-one', '... aud';
is $ti->{sub}, $tok->{grant_id}, '... sub';
v3_error_ok(v3(GET => '/connect/tokeninfo', undef, key => 'two', query => "id_token=$tok->{id_token}"),
            400, undef, 'another application\'s id_token');

$r = v3(POST => '/providers/detect', undef, query => 'email=someone%40gmail.com');
is $r->code, 200, 'POST /v3/providers/detect: 200';
my $d = $r->{json}{data} || {};
is $d->{email_address}, 'someone@gmail.com', '... email_address';
is $d->{provider}, 'google', '... provider';
is $d->{type}, 'google', '... type';
is $d->{detected}, JSON::true, '... detected (app one has a google integration)';
request_id_ok($r, '... ');
v3_error_ok(v3(POST => '/providers/detect', undef, query => 'email=nope'), 400, undef, 'a bad address');

# ---- lists --------------------------------------------------------------------------
$r = v3(GET => '/grants', undef, query => 'limit=2');
is $r->code, 200, 'GET /v3/grants?limit=2';
is_deeply [sort keys %{ $r->{json} }], [qw(data next_cursor request_id)], '... {request_id, data, next_cursor}';
is scalar @{ $r->{json}{data} }, 2, '... two grants';
is $r->{json}{next_cursor}, '2', '... next_cursor 2';
request_id_ok($r, 'a list');
my %seen = map { $_->{id} => 1 } @{ $r->{json}{data} };
$r = v3(GET => '/grants', undef, query => 'limit=2&page_token=2');
is $r->code, 200, '... page_token=2';
is scalar @{ $r->{json}{data} }, 1, '... the last grant';
ok !exists $r->{json}{next_cursor}, '... the last page has no next_cursor';
$seen{ $_->{id} } = 1 for @{ $r->{json}{data} };
is scalar keys %seen, 3, '... every grant of app one once';
ok !$seen{$two_id}, '... none of app two';
$r = v3(GET => '/grants', undef, query => 'email=v3.user1%40example.com');
is_deeply [map { $_->{id} } @{ $r->{json}{data} || [] }], [$ids[1]], 'the seed\'s filters: email';
v3_error_ok(v3(GET => '/grants', undef, query => 'page_token=minus'), 400, undef, 'a page_token that is no offset');

# ---- update, delete -----------------------------------------------------------------
$r = v3(PATCH => "/grants/$ids[0]", { scope => ['openid', 'email'] });
is $r->code, 200, 'PATCH /v3/grants/{id}: 200';
is_deeply [sort keys %{ $r->{json} }], [qw(data request_id)], '... {request_id, data}';
is_deeply $r->{json}{data}{scope}, ['openid', 'email'], '... the new scope';
v3_error_ok(v3(PATCH => "/grants/$ids[0]", undef, headers => { 'Content-Type' => 'application/json' }),
            400, 'invalid_request_payload', 'PATCH without a body');
$r = v3(DELETE => "/grants/$ids[1]");
is $r->code, 200, 'DELETE /v3/grants/{id}: 200';
request_id_ok($r, '... ');
v3_error_ok(v3(GET => "/grants/$ids[1]"), 404, 'grant_not_found', '... then it is not found');

# ---- the OAuth endpoints' errors ----------------------------------------------------
$r = v3(POST => '/connect/token', { grant_type => 'authorization_code', code => 'cnac_nothing',
                                    redirect_uri => app_redirect_uri(), client_id => 'app-one' });
is $r->code, 400, 'a bad code: 400';
is $r->{json}{error}, 'invalid_grant', '... RFC 6749 error invalid_grant';
ok length($r->{json}{error_description} // ''), '... error_description';
like $r->{json}{error_code} // '', qr/\A\d+\z/, '... error_code';
request_id_ok($r, '... ');
$r = v3(POST => '/connect/token', { grant_type => 'refresh_token', refresh_token => $tok->{refresh_token} },
        key => 'not-an-application-secret');
is $r->code, 401, 'a wrong API key on /connect/token: 401';
is $r->{json}{error}, 'invalid_client', '... invalid_client';
$r = v3(POST => '/connect/token', { grant_type => 'refresh_token', refresh_token => $tok->{refresh_token},
                                    client_id => 'app-two' });
is $r->{json}{error}, 'invalid_request', 'a client_id that is not the key\'s: invalid_request';
$r = v3(POST => '/connect/revoke', undef, query => "token=$tok->{access_token}", key => 'two');
is $r->code, 400, 'another application revokes the token: refused' or diag $r->content;
is v3(GET => '/grants/me', undef, key => $tok->{access_token})->code, 200, '... the token still works';
$r = v3(POST => '/connect/revoke', undef, query => "token=$tok->{access_token}");
is $r->code, 200, 'POST /v3/connect/revoke?token= with the API key: 200';
request_id_ok($r, '... ');
is v3(GET => '/grants/me', undef, key => $tok->{access_token})->code, 401, '... the token is revoked';
$r = v3(POST => '/connect/revoke');
is $r->{json}{error}, 'invalid_request', 'no token: invalid_request';
ok $r->{json}{error_code}, '... with error_code';

# ---- routing ------------------------------------------------------------------------
v3_error_ok(v3(GET => '/integrations'), 404, undef, 'a route of `connect` only');
v3_error_ok(v3(PUT => "/grants/$ids[0]"), 405, undef, 'a wrong method');
$r = v3(GET => '/connect/auth', undef, key => undef,
        query => 'client_id=app-one&redirect_uri=' . app_redirect_uri() . '&response_type=code&provider=google');
is $r->code, 302, 'GET /v3/connect/auth sends the browser to the provider';
my $q = query_of($r->header('Location'));
is $q->{redirect_uri}, url('/callback'), '... whose redirect comes back to <ConnectBaseURL>/callback';
like $r->header('Set-Cookie') // '', qr/connect_session=.*path=\/connect/i, '... with the session cookie of /connect';

# ---- the `connect` layout is as it was ----------------------------------------------
$r = api(GET => '/grants', undef, query => 'limit=1');
is_deeply [sort keys %{ $r->{json} }], [qw(data limit offset)], '/connect/grants: {data, limit, offset}';
$r = api(GET => "/grants/$ids[0]");
is_deeply [sort keys %{ $r->{json} }], [qw(data)], '/connect/grants/{id}: {data}';
$r = api(GET => '/grants/00000000-0000-4000-8000-000000000000');
is_deeply [sort keys %{ $r->{json}{error} || {} }], [qw(event_code http_code message request_id type)],
    '/connect errors: the seed\'s envelope';
$r = api(GET => '/providers/detect', undef, query => 'email=someone%40gmail.com');
is $r->{json}{data}{email}, 'someone@gmail.com', '/connect/providers/detect: email as the seed has it';

# ---- metrics: the table is counted ---------------------------------------------------
my $m = CnTest::ua()->get(base_url() . '/metrics');
like $m->content, qr/api="connect-v3"[^\n]*route="\/grants\/\{id\}"/, 'the metrics count the connect-v3 routes';

# A path that is not valid percent-encoding: the v3 error shape, not httpd's page.
{
    my $res = v3(GET => '/grants/%zz');
    v3_error_ok($res, 400, undef, 'GET /v3/grants/%zz');
    like $res->header('Content-Type') // '', qr{\Aapplication/json}, '... as JSON';
    like $res->{json}{error}{message} // '', qr/percent-encoding/, '... saying why';
}

done_testing;
