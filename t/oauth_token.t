# POST /token: authorization codes exchanged with PKCE (S256, plain, the hex
# form of seed 004 and the Nylas SDKs) or the client's secret (in the body or
# by HTTP Basic), form or JSON bodies; refresh tokens that rotate, and whose
# reuse revokes the family; a reused code revoking what it issued; each of
# RFC 7636's failures; expired codes; the client's authentication; RFC 6749
# error bodies with the seed's event code in the log.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::OAuth;

reset_db();
my $RU = app_redirect_uri('one');
my $GMAIL = 'https://www.googleapis.com/auth/gmail.readonly';
is make_integration('google', scope => [$GMAIL])->code, 201, 'google integration (app one)';
is make_integration('google', app => 'two')->code, 201, 'google integration (app two)';
my ($ID, $SECRET) = app_creds('one');
my $at0 = error_log_offset();

sub ok_tokens {
    my ($r, $name, %o) = @_;
    is $r->code, 200, "$name: 200" or diag $r->as_string;
    my $j = $r->{json} || {};
    like $j->{access_token} // '', qr/\Acnat_[A-Za-z0-9_-]{43}\z/, '... an access token';
    is $j->{token_type}, 'Bearer', '... token_type Bearer';
    is $j->{expires_in}, $o{expires_in} // 3600, '... expires_in';
    like $j->{grant_id} // '', qr/\A[0-9a-f-]{36}\z/, '... grant_id';
    if ($o{refresh}) {
        like $j->{refresh_token} // '', qr/\Acnrt_[A-Za-z0-9_-]{43}\z/, '... a refresh token';
    }
    else {
        ok !exists $j->{refresh_token}, '... no refresh token';
    }
    like $j->{id_token} // '', qr/\A[\w-]+\.[\w-]+\.[\w-]+\z/, '... an id_token (the server has a signing key)';
    is_deeply [sort keys %$j],
              [sort qw(access_token expires_in grant_id id_token scope token_type), $o{refresh} ? 'refresh_token' : ()],
              '... and nothing else';
    like $r->header('Content-Type') // '', qr{^application/json}, '... JSON';
    is $r->header('Cache-Control'), 'no-store', '... Cache-Control: no-store';
    is $r->header('Pragma'), 'no-cache', '... Pragma: no-cache';
    return $j;
}

sub err_is {
    my ($r, $status, $error, $name) = @_;
    is $r->code, $status, "$name: $status" or diag $r->as_string;
    is $r->{json}{error}, $error, "... $error";
    like $r->{json}{error_description} // '', qr/\A[\x20-\x21\x23-\x5B\x5D-\x7E]+\z/, '... with an error_description';
    is_deeply [sort keys %{ $r->{json} || {} }], [qw(error error_description)], '... and nothing else';
    is $r->header('Cache-Control'), 'no-store', '... not cached';
    is $r->header('Pragma'), 'no-cache', '... Pragma: no-cache';
}

sub works { my $t = shift; grant_me($t)->code == 200 }

# The kinds of the rows of the family of CODE (what its exchanges stored).
sub family_kinds {
    my $f = token_digest(shift);
    return [sort map { $_->{kind} } grep { $_->{family} eq $f } db_rows('oauth_tokens')];
}

# ---- PKCE S256 (RFC 7636), a public client --------------------------------------------------
my $v = pkce_verifier(64);
my ($code, $a) = app_code(code_challenge => pkce_s256($v), code_challenge_method => 'S256',
                          access_type => 'offline', login_hint => 'pkce.s256@example.com');
my $r = token(grant_type => 'authorization_code', code => $code, redirect_uri => $RU,
              client_id => $ID, code_verifier => $v);
my $j = ok_tokens($r, 'S256 without a secret');
is $j->{scope}, $GMAIL, '... scope: the integration\'s';
my @rows = grep { $_->{kind} eq 'access' } db_rows('oauth_tokens');
is scalar(@rows), 1, 'one access token stored';
is $rows[0]{digest}, token_digest($j->{access_token}), '... as its SHA-256';
is $rows[0]{app_id}, 'app-one', '... bound to the application';
is $rows[0]{grant_id}, $j->{grant_id}, '... to the grant';
is $rows[0]{family}, token_digest($code), '... and to the family of its code';
is scalar(grep { $_->{kind} eq 'refresh' } db_rows('oauth_tokens')), 0,
    'access_type=offline, but a client without its secret gets no refresh token';
is scalar(db_rows('oauth_tokens')), 1, 'the exchange stored one row (the id_token is not stored)';
my $me = grant_me($j->{access_token});
is $me->code, 200, 'GET /grants/me with it';
is $me->{json}{data}{email}, 'pkce.s256@example.com', '... the grant of the user who signed in';

# ---- plain, and the default method ------------------------------------------------------------
for my $c (['plain', 'plain'], ['PLAIN in capitals', 'PLAIN'], ['no method (plain by default)', undef]) {
    my $pv = pkce_verifier(43);
    my ($pc) = app_code(code_challenge => $pv, code_challenge_method => $c->[1]);
    ok_tokens(token(grant_type => 'authorization_code', code => $pc, redirect_uri => $RU,
                    client_id => $ID, code_verifier => $pv), "PKCE $c->[0]");
}

# ---- the hex form: a 36-character UUID verifier, as the Nylas SDKs send it -----------------------
my $uuid = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
my $hex_challenge = pkce_s256_hex($uuid);
is length($hex_challenge), 86, 'the hex form\'s challenge: 86 characters';
my ($hc, $ha) = app_code(code_challenge => $hex_challenge, code_challenge_method => 's256',
                         access_type => 'offline');
is scalar(dbh()->selectrow_array('SELECT challenge_method FROM oauth_codes WHERE digest = ?', undef,
                                  token_digest($hc))), 'S256', 'the method (s256) stored normalised';
$r = token(_json => 1, grant_type => 'authorization_code', code => $hc, redirect_uri => $RU,
           client_id => $ID, client_secret => $SECRET, code_verifier => $uuid);
$j = ok_tokens($r, 'hex form with a JSON body and the secret', refresh => 1);
is_deeply family_kinds($hc), [qw(access refresh)], '... two rows stored: the access and the refresh token';

# ---- no PKCE: the client's secret, in the body and by Basic -------------------------------------
my ($c1) = app_code(access_type => 'offline', expires_in => 600);
$r = token(grant_type => 'authorization_code', code => $c1, redirect_uri => $RU,
           client_id => $ID, client_secret => $SECRET);
my $body_tokens = ok_tokens($r, 'no PKCE, secret in the body, offline, expires_in 600',
                            refresh => 1, expires_in => 600);
my ($c2) = app_code(access_type => 'offline');
$r = token(grant_type => 'authorization_code', code => $c2, redirect_uri => $RU, _basic => 'one');
my $basic_tokens = ok_tokens($r, 'no PKCE, HTTP Basic', refresh => 1);
my ($c3) = app_code(access_type => 'online');
ok_tokens(token(grant_type => 'authorization_code', code => $c3, redirect_uri => $RU, _basic => 'one'),
          'access_type=online: no refresh token even for an authenticated client');
is_deeply family_kinds($c3), ['access'], '... one row stored';
my ($c4) = app_code();
err_is(token(grant_type => 'authorization_code', code => $c4, redirect_uri => $RU, client_id => $ID),
       401, 'invalid_client', 'no PKCE and no secret');
ok !defined token(grant_type => 'authorization_code', code => $c4, redirect_uri => $RU, client_id => $ID)
    ->header('WWW-Authenticate'), '... without a Basic challenge (the client did not use Basic)';
ok_tokens(token(grant_type => 'authorization_code', code => $c4, redirect_uri => $RU, _basic => 'one'),
          '... the same code with the secret afterwards');

# ---- refresh: rotation, and the family revoked on reuse ---------------------------------------------
my $rt1 = $body_tokens->{refresh_token};
my $at1 = $body_tokens->{access_token};
$r = token(grant_type => 'refresh_token', refresh_token => $rt1, client_id => $ID, client_secret => $SECRET);
my $j2 = ok_tokens($r, 'refresh', refresh => 1, expires_in => 600);
is_deeply family_kinds($c1), [qw(access access refresh refresh)], '... two rows more in the family';
isnt $j2->{refresh_token}, $rt1, '... a new refresh token';
isnt $j2->{access_token}, $at1, '... a new access token';
is $j2->{grant_id}, $body_tokens->{grant_id}, '... of the same grant';
is $j2->{scope}, $GMAIL, '... with the same scope';
ok works($at1), 'the first access token still works';
$r = token(grant_type => 'refresh_token', refresh_token => $j2->{refresh_token}, _basic => 'one', scope => 'openid');
err_is($r, 400, 'invalid_scope', 'refresh asking for more scope');
$r = token(grant_type => 'refresh_token', refresh_token => $j2->{refresh_token}, _basic => 'one', scope => $GMAIL);
my $j3 = ok_tokens($r, 'refresh with the same scope', refresh => 1, expires_in => 600);
err_is(token(grant_type => 'refresh_token', refresh_token => $rt1, _basic => 'one'), 400, 'invalid_grant',
       'the first (rotated) refresh token again');
ok !works($at1) && !works($j2->{access_token}) && !works($j3->{access_token}),
    '... every access token of the family is revoked';
err_is(token(grant_type => 'refresh_token', refresh_token => $j3->{refresh_token}, _basic => 'one'), 400,
       'invalid_grant', '... and the newest refresh token too');
ok works($basic_tokens->{access_token}), 'another family of the same grant is untouched';
my $rt = $basic_tokens->{refresh_token};
err_is(token(grant_type => 'refresh_token', refresh_token => $rt, client_id => $ID), 400, 'unauthorized_client',
       'refresh without the secret');
err_is(token(grant_type => 'refresh_token', refresh_token => $rt, _basic => 'two'), 400, 'invalid_grant',
       'refresh by another application');
err_is(token(grant_type => 'refresh_token', _basic => 'one'), 400, 'invalid_request', 'refresh without refresh_token');
err_is(token(grant_type => 'refresh_token', refresh_token => 'cnrt_' . ('A' x 43), _basic => 'one'), 400,
       'invalid_grant', 'an unknown refresh token');
ok_tokens(token(grant_type => 'refresh_token', refresh_token => $rt, _basic => 'one'),
          'the refresh token still works after those refusals', refresh => 1);

# ---- a code used twice revokes what it issued ----------------------------------------------------------
my ($rc) = app_code(access_type => 'offline');
my $first = ok_tokens(token(grant_type => 'authorization_code', code => $rc, redirect_uri => $RU, _basic => 'one'),
                      'a code', refresh => 1);
ok works($first->{access_token}), '... its access token works';
err_is(token(grant_type => 'authorization_code', code => $rc, redirect_uri => $RU, _basic => 'one'), 400,
       'invalid_grant', 'the same code again');
ok !works($first->{access_token}), '... the access token it issued is revoked';
err_is(token(grant_type => 'refresh_token', refresh_token => $first->{refresh_token}, _basic => 'one'), 400,
       'invalid_grant', '... and its refresh token');

# ---- RFC 7636 failures ------------------------------------------------------------------------------
{
    my $sv = pkce_verifier(64);
    my @cases = (
        ['a verifier without a challenge', {}, { code_verifier => $sv }],
        ['a challenge without a verifier', { code_challenge => pkce_s256($sv), code_challenge_method => 'S256' }, {}],
        ['a wrong verifier', { code_challenge => pkce_s256($sv), code_challenge_method => 'S256' },
         { code_verifier => pkce_verifier(64) }],
        ['the challenge as verifier', { code_challenge => pkce_s256($sv), code_challenge_method => 'S256' },
         { code_verifier => pkce_s256($sv) }],
        ['a verifier of 42 characters', { code_challenge => pkce_s256('v' x 42), code_challenge_method => 'S256' },
         { code_verifier => 'v' x 42 }],
        ['a verifier of 129 characters', { code_challenge => pkce_s256('v' x 129), code_challenge_method => 'S256' },
         { code_verifier => 'v' x 129 }],
        ['a verifier with a space', { code_challenge => pkce_s256(('v' x 42) . ' '), code_challenge_method => 'S256' },
         { code_verifier => ('v' x 42) . ' ' }],
        ['a hex-form verifier of 31 characters', { code_challenge => pkce_s256_hex('h' x 31), code_challenge_method => 'S256' },
         { code_verifier => 'h' x 31 }],
        ['an S256 verifier sent for a plain challenge', { code_challenge => pkce_s256($sv), code_challenge_method => 'plain' },
         { code_verifier => $sv }],
    );
    for my $c (@cases) {
        my ($name, $auth, $tok) = @$c;
        my ($pc) = app_code(%$auth);
        # the client authenticates too: PKCE is checked whenever it was asked for
        err_is(token(grant_type => 'authorization_code', code => $pc, redirect_uri => $RU, _basic => 'one', %$tok),
               400, 'invalid_grant', "PKCE: $name");
    }
    my ($pc) = app_code(code_challenge => pkce_s256($sv), code_challenge_method => 'S256');
    err_is(token(grant_type => 'authorization_code', code => $pc, redirect_uri => $RU, client_id => $ID,
                 code_verifier => pkce_verifier(64)), 400, 'invalid_grant', 'a wrong verifier');
    ok_tokens(token(grant_type => 'authorization_code', code => $pc, redirect_uri => $RU, client_id => $ID,
                    code_verifier => $sv), 'the right one afterwards: a failed check does not spend the code');
}

# ---- the code's other checks -------------------------------------------------------------------------
{
    my ($ec) = app_code();
    is dbh()->do('UPDATE oauth_codes SET expires_at = ? WHERE digest = ?', undef, time - 1, token_digest($ec)), 1,
       'a code made to expire (in the database)';
    err_is(token(grant_type => 'authorization_code', code => $ec, redirect_uri => $RU, _basic => 'one'), 400,
           'invalid_grant', 'an expired code');
    my ($mc) = app_code();
    err_is(token(grant_type => 'authorization_code', code => $mc, redirect_uri => "$RU/", _basic => 'one'), 400,
           'invalid_grant', 'another redirect_uri');
    err_is(token(grant_type => 'authorization_code', code => $mc, _basic => 'one'), 400,
           'invalid_grant', 'no redirect_uri');
    err_is(token(grant_type => 'authorization_code', code => $mc, redirect_uri => $RU, _basic => 'two'), 400,
           'invalid_grant', 'the code of another application');
    ok_tokens(token(grant_type => 'authorization_code', code => $mc, redirect_uri => $RU, _basic => 'one'),
              'the code, untouched by those refusals');
    err_is(token(grant_type => 'authorization_code', redirect_uri => $RU, _basic => 'one'), 400,
           'invalid_request', 'no code');
    err_is(token(grant_type => 'authorization_code', code => 'cnac_' . ('x' x 43), redirect_uri => $RU,
                 _basic => 'one'), 400, 'invalid_grant', 'an unknown code');
    err_is(token(grant_type => 'authorization_code', code => 'not-a-code', redirect_uri => $RU,
                 _basic => 'one'), 400, 'invalid_grant', 'something that is no code');
}

# ---- client authentication -----------------------------------------------------------------------------
{
    my ($cc) = app_code();
    my @p = (grant_type => 'authorization_code', code => $cc, redirect_uri => $RU);
    $r = token(@p, _basic => [$ID, 'wrong-secret']);
    err_is($r, 401, 'invalid_client', 'a wrong secret by Basic');
    is $r->header('WWW-Authenticate'), 'Basic realm="mod_connect"', '... WWW-Authenticate: Basic';
    $r = token(@p, client_id => $ID, client_secret => 'wrong-secret');
    err_is($r, 401, 'invalid_client', 'a wrong secret in the body');
    ok !defined $r->header('WWW-Authenticate'), '... no Basic challenge';
    err_is(token(@p, client_id => 'app-nobody', client_secret => $SECRET), 401, 'invalid_client', 'an unknown client');
    err_is(token(@p, client_id => 'app-nobody'), 401, 'invalid_client', 'an unknown client without a secret');
    err_is(token(@p), 401, 'invalid_client', 'no client at all');
    err_is(token(@p, client_secret => $SECRET), 401, 'invalid_client', 'a secret without client_id');
    err_is(token(@p, client_secret => $SECRET, _basic => 'one'), 400, 'invalid_request',
           'Basic and a secret in the body');
    err_is(token(@p, client_id => 'app-two', _basic => 'one'), 400, 'invalid_request',
           'Basic and another client_id in the body');
    ok_tokens(token(@p, client_id => $ID, _basic => 'one'), 'Basic and the same client_id in the body');
}

# ---- malformed requests ------------------------------------------------------------------------------------
err_is(token(code => 'x', _basic => 'one'), 400, 'invalid_request', 'no grant_type');
err_is(token(grant_type => 'password', username => 'u', password => 'p', _basic => 'one'), 400,
       'unsupported_grant_type', 'grant_type=password');
err_is(token(grant_type => 'client_credentials', _basic => 'one'), 400, 'unsupported_grant_type',
       'grant_type=client_credentials');
err_is(token(_raw => 'grant_type=authorization_code&code=%zz', _basic => 'one'), 400, 'invalid_request',
       'a form that is not percent-encoding');
err_is(token(_raw => 'grant_type=refresh_token&grant_type=authorization_code', _basic => 'one'), 400,
       'invalid_request', 'a parameter twice');
err_is(token(_raw => 'grant_type=refresh_token', _content_type => 'text/plain', _basic => 'one'), 400,
       'invalid_request', 'a text/plain body');
err_is(token(_raw => '{"grant_type":"refresh_token","refresh_token":5}', _content_type => 'application/json',
             _basic => 'one'), 400, 'invalid_request', 'JSON with a number');
err_is(token(_raw => 'a=' . ('x' x 70000), _basic => 'one'), 413, 'invalid_request', 'a body over ConnectMaxBody');
$r = CnTest::ua()->get(url('/token'));
is $r->code, 405, 'GET /token: 405';

# ---- the error log: the seed's event codes, and no secret ------------------------------------------------
my $log = error_log_since($at0);
like $log, qr/CN00301: POST \/token -> 400 invalid_grant: invalid_grant \(45004\)/, 'invalid_grant logged with 45004';
like $log, qr/CN00301: POST \/token -> 401 invalid_client: invalid_client \(45003\)/, 'invalid_client with 45003';
like $log, qr/CN00301: POST \/token -> 400 unsupported_grant_type: unsupported_grant_type \(45007\)/,
     'unsupported_grant_type with 45007';
like $log, qr/CN00301: POST \/token -> 400 invalid_request: invalid_request \(45005\)/, 'invalid_request with 45005';
like $log, qr/CN01301: refresh token of grant \S+ presented again: \d+ token\(s\) issued from it revoked/,
     'a replayed refresh token is logged';
like $log, qr/CN01301: code of grant \S+ presented again/, 'a replayed code is logged';
my @secrets = ($code, $hc, $c1, $c2, $rc, $v, $uuid, $SECRET, $rt1, $at1, $j2->{refresh_token},
               $first->{access_token}, $basic_tokens->{refresh_token});
is scalar(grep { index($log, $_) >= 0 } @secrets), 0, 'no code, verifier, secret or token in the error log';
my $access = access_log_since(0);
is scalar(grep { index($access, $_) >= 0 } @secrets), 0, '... nor in the access log';

done_testing;
