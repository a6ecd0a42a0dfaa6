# The id_token of POST /token, checked as a relying party would, with an
# implementation the module does not use (Crypt::JWT over CryptX): the
# issuer's discovery document names the JWKS, the JWKS has the key that
# verifies the signature, and the claims are the grant's (sub), the
# application's (aud), the authorization request's nonce, the sign-in's
# auth_time, the grant's verified email and its provider.
#
# The id_token is not stored: an exchange stores its access token (and its
# refresh token), and /tokeninfo and /revoke verify an id_token's signature
# and find its access token by at_hash. Tokens the module must not know are
# made here with Crypt::JWT: tampered, signed by another key, alg none,
# expired (signed with the test server's own key file, so that only exp is
# wrong), another application's; an access token expired in the database
# and a revoked family take their id_tokens with them.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Crypt::JWT ();
use Crypt::PK::ECC ();
use Crypt::PK::RSA ();
use File::Spec ();
use MIME::Base64 ();
use Digest::SHA ();
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::OAuth;

reset_db();
my $RU = app_redirect_uri('one');
is make_integration('google')->code, 201, 'google integration';

# What a relying party knows: the issuer. From it, the metadata and the keys.
my $issuer = url();
my $meta = CnTest::json_decode(CnTest::ua()->get("$issuer/.well-known/openid-configuration")->content) || {};
is $meta->{issuer}, $issuer, 'discovery: the issuer';
is $meta->{token_endpoint}, "$issuer/token", 'discovery: the token endpoint';
is $meta->{authorization_endpoint}, "$issuer/auth", 'discovery: the authorization endpoint';
my $jwks_res = CnTest::ua()->get($meta->{jwks_uri} // "$issuer/.well-known/jwks.json");
is $jwks_res->code, 200, 'the JWKS';
my $jwks = CnTest::json_decode($jwks_res->content);
ok $jwks && @{ $jwks->{keys} || [] }, '... with keys';

sub verify {
    my ($token, %o) = @_;
    return eval {
        Crypt::JWT::decode_jwt(token => $token, kid_keys => $jwks, accepted_alg => ['RS256', 'ES256'],
                               verify_iss => $issuer, verify_aud => $o{aud} // 'app-one', verify_exp => 1,
                               verify_iat => 1, leeway => 5, decode_header => 1);
    };
}

my $t0 = time;
my ($code) = app_code(nonce => 'n-0S6_WzA2Mj', access_type => 'offline', login_hint => 'Id.Token@Example.com',
                      expires_in => 900);
my $r = token(grant_type => 'authorization_code', code => $code, redirect_uri => $RU, _basic => 'one');
is $r->code, 200, 'POST /token: 200';
my $j = $r->{json} || {};
my $id_token = $j->{id_token};
like $id_token // '', qr/\A[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\z/, '... an id_token, a JWS';
my ($header, $claims) = verify($id_token);
ok $claims, 'the signature verifies with the JWKS (Crypt::JWT)' or diag $@;
$claims ||= {};
is $header->{alg}, 'RS256', '... RS256 (the first ConnectSigningKey)';
is $header->{kid}, $jwks->{keys}[0]{kid}, '... by the first key of the JWKS';
is $claims->{iss}, $issuer, 'iss: ConnectBaseURL';
is $claims->{sub}, $j->{grant_id}, 'sub: the grant';
is $claims->{aud}, 'app-one', 'aud: the client';
is $claims->{nonce}, 'n-0S6_WzA2Mj', 'nonce: the authorization request\'s';
is $claims->{email}, 'id.token@example.com', 'email: the grant\'s';
ok $claims->{email_verified} && "$claims->{email_verified}" eq '1', 'email_verified: true';
is $claims->{provider}, 'google', 'provider';
ok $claims->{iat} >= $t0 && $claims->{iat} <= time, 'iat: now';
is $claims->{exp} - $claims->{iat}, 900, 'exp: iat + the access token\'s lifetime (expires_in 900)';
ok $claims->{auth_time} >= $t0 && $claims->{auth_time} <= $claims->{iat}, 'auth_time: the sign-in';
is $claims->{at_hash}, MIME::Base64::encode_base64url(substr(Digest::SHA::sha256($j->{access_token}), 0, 16)),
   'at_hash: the left half of the access token\'s SHA-256';

# What must not verify.
ok !verify($id_token, aud => 'app-two'), 'not for another audience';
my @parts = split /\./, $id_token;
my $payload = MIME::Base64::decode_base64url($parts[1]);
(my $forged = $payload) =~ s/"sub":"[^"]+"/"sub":"someone-else"/;
isnt $forged, $payload, 'a forged payload';
ok !verify(join '.', $parts[0], MIME::Base64::encode_base64url($forged), $parts[2]),
   '... does not verify';
my $sig = MIME::Base64::decode_base64url($parts[2]);
substr($sig, 10, 1) = chr(ord(substr($sig, 10, 1)) ^ 1);
ok !verify(join '.', @parts[0, 1], MIME::Base64::encode_base64url($sig)), 'a changed signature does not verify';

# A refresh: a new id_token for the same sign-in, without the nonce.
$r = token(grant_type => 'refresh_token', refresh_token => $j->{refresh_token}, _basic => 'one');
my (undef, $c2) = verify($r->{json}{id_token} // '');
ok $c2, 'the refreshed id_token verifies';
$c2 ||= {};
is $c2->{sub}, $claims->{sub}, '... the same sub';
is $c2->{auth_time}, $claims->{auth_time}, '... the same auth_time';
isnt $c2->{at_hash}, $claims->{at_hash}, '... the new access token\'s at_hash';
ok !exists $c2->{nonce}, '... no nonce';

# The id_token is known to /tokeninfo and /revoke.
$r = tokeninfo('id_token=' . $r->{json}{id_token});
is $r->code, 200, 'GET /tokeninfo?id_token=: 200';
is $r->{json}{data}{token_type}, 'id_token', '... token_type id_token';
is $r->{json}{data}{sub}, $claims->{sub}, '... its grant';
my ($code2) = app_code(access_type => 'offline');
my $k = token(grant_type => 'authorization_code', code => $code2, redirect_uri => $RU, _basic => 'one')->{json};
is revoke(token => $k->{id_token}, _basic => 'one')->code, 200, 'POST /revoke with an id_token';
is grant_me($k->{access_token})->code, 401, '... revokes its family';
is tokeninfo('id_token=' . $k->{id_token})->{json}{error}{event_code}, 45008, '... the id_token too';

# ---- not stored; known by its at_hash ---------------------------------------------------------
my $at0 = error_log_offset();
my ($code3) = app_code(access_type => 'offline', login_hint => 'rows@example.com');
my $x = token(grant_type => 'authorization_code', code => $code3, redirect_uri => $RU, _basic => 'one')->{json};
my @fam = grep { $_->{family} eq token_digest($code3) } db_rows('oauth_tokens');
is_deeply [sort map { $_->{kind} } @fam], [qw(access refresh)],
    'a code exchange with a refresh token stores two rows: the access and the refresh token';
is scalar(grep { $_->{digest} eq token_digest($x->{id_token}) } db_rows('oauth_tokens')), 0,
   '... none for the id_token';
is scalar(grep { $_->{kind} eq 'id' } db_rows('oauth_tokens')), 0, 'no row of kind id at all';
my (undef, $xc) = verify($x->{id_token});
$xc ||= {};
is unpack('H*', MIME::Base64::decode_base64url($xc->{at_hash} // '')), substr(token_digest($x->{access_token}), 0, 32),
   'at_hash in hex: the first half of the access token\'s stored digest';

sub info_ok {
    my ($token, $name, %o) = @_;
    my $r = tokeninfo('id_token=' . $token, %o);
    is $r->code, 200, "$name: 200" or diag $r->as_string;
    is $r->{json}{data}{token_type}, 'id_token', '... token_type id_token';
    return $r->{json}{data} || {};
}
sub info_refused {
    my ($token, $name, %o) = @_;
    my $r = tokeninfo('id_token=' . $token, %o);
    is $r->code, 400, "$name: 400" or diag $r->as_string;
    is $r->{json}{error}{type}, 'invalid_token', '... invalid_token';
    is $r->{json}{error}{event_code}, 45008, '... 45008';
}
my $d = info_ok($x->{id_token}, 'GET /tokeninfo?id_token= of a fresh exchange');
is $d->{grant_id}, $x->{grant_id}, '... its grant';
is $d->{sub}, $x->{grant_id}, '... sub';
is $d->{client_id}, 'app-one', '... client_id';
is $d->{aud}, 'app-one', '... aud';
is $d->{iss}, $issuer, '... iss';
is $d->{email}, 'rows@example.com', '... email';
is $d->{provider}, 'google', '... provider';
is $d->{scope}, $x->{scope}, '... scope';
is $d->{iat}, $xc->{iat}, '... iat: the id_token\'s';
is $d->{exp}, $xc->{exp}, '... exp: the id_token\'s';

# Tampered: one byte of the signature, one byte of the payload.
my @xp = split /\./, $x->{id_token};
my $xsig = MIME::Base64::decode_base64url($xp[2]);
substr($xsig, 100, 1) = chr(ord(substr($xsig, 100, 1)) ^ 0x20);
my $bad_sig = join '.', @xp[0, 1], MIME::Base64::encode_base64url($xsig);
my $xpay = MIME::Base64::decode_base64url($xp[1]);
my $i = index($xpay, '"sub":"') + 7;
substr($xpay, $i, 1) = substr($xpay, $i, 1) eq 'a' ? 'b' : 'a';
my $bad_payload = join '.', $xp[0], MIME::Base64::encode_base64url($xpay), $xp[2];
info_refused($bad_sig, 'one byte of the signature changed');
info_refused($bad_payload, 'one byte of the payload changed (sub)');

# Another key, with its own kid and with the kid of ours.
my $stranger = Crypt::PK::ECC->new;
$stranger->generate_key('secp256r1');
my %xclaims = %$xc;
my $by_stranger = Crypt::JWT::encode_jwt(payload => \%xclaims, alg => 'ES256', key => $stranger,
                                         extra_headers => { kid => $stranger->export_key_jwk_thumbprint('SHA256'),
                                                            typ => 'JWT' });
my ($ec_jwk) = grep { $_->{kty} eq 'EC' } @{ $jwks->{keys} };
my $stranger_our_kid = Crypt::JWT::encode_jwt(payload => \%xclaims, alg => 'ES256', key => $stranger,
                                              extra_headers => { kid => $ec_jwk->{kid}, typ => 'JWT' });
info_refused($by_stranger, 'signed by another key');
info_refused($stranger_our_kid, 'signed by another key, with the kid of ours');

# alg none: the payload unchanged, no signature.
my $none = join '.', MIME::Base64::encode_base64url('{"alg":"none","typ":"JWT"}'), $xp[1], '';
info_refused($none, 'alg none');

# The test server's own key (t/conf/keys/signing-rsa.pem) signs with
# Crypt::JWT: the same claims verify; expired, they do not.
my $rsa = Crypt::PK::RSA->new(File::Spec->catfile(t_dir(), 'conf', 'keys', 'signing-rsa.pem'));
sub sign_ours {
    my %c = (%xclaims, @_);
    return Crypt::JWT::encode_jwt(payload => \%c, alg => 'RS256', key => $rsa,
                                  extra_headers => { kid => $jwks->{keys}[0]{kid}, typ => 'JWT' });
}
info_ok(sign_ours(), 'the same claims signed with the server\'s key by Crypt::JWT');
info_refused(sign_ours(iat => time - 3700, exp => time - 100), '... expired 100 s ago');
info_refused(sign_ours(iss => 'https://elsewhere.example/connect'), '... of another issuer');

# Another application's: as unknown as one never issued.
info_refused($x->{id_token}, 'app two asks for app one\'s id_token', app => 'two');

# Its access token expired (in the database) before it: not known.
my ($code4) = app_code(login_hint => 'expires@example.com');
my $y = token(grant_type => 'authorization_code', code => $code4, redirect_uri => $RU, _basic => 'one')->{json};
is_deeply [map { $_->{kind} } grep { $_->{family} eq token_digest($code4) } db_rows('oauth_tokens')], ['access'],
    'a code exchange without a refresh token stores one row, the access token';
info_ok($y->{id_token}, 'its id_token');
is dbh()->do(q{UPDATE oauth_tokens SET expires_at = ? WHERE digest = ?}, undef, time - 1,
             token_digest($y->{access_token})), 1, 'its access token expired (in the database)';
info_refused($y->{id_token}, 'the id_token of an expired access token');

# A revoked family: its id_tokens go with it, whichever token revoked it.
$r = token(grant_type => 'refresh_token', refresh_token => $x->{refresh_token}, _basic => 'one');
is $r->code, 200, 'a refresh of the family';
my $x2 = $r->{json};
is scalar(grep { $_->{family} eq token_digest($code3) } db_rows('oauth_tokens')), 4,
   '... two rows more (access and refresh)';
info_ok($x2->{id_token}, 'the refreshed id_token');
info_ok($x->{id_token}, 'the first id_token still (its access token lives)');

# /revoke: an id_token that is not ours is a no-op; ours revokes its family.
for my $c (['tampered signature', $bad_sig], ['tampered payload', $bad_payload], ['another key', $by_stranger],
           ['another key with our kid', $stranger_our_kid], ['alg none', $none]) {
    $r = revoke(token => $c->[1], _basic => 'one');
    is $r->code, 200, "POST /revoke with an id_token of $c->[0]: 200";
    is $r->content, '{}', '... {}';
}
ok grant_me($x2->{access_token})->code == 200 && grant_me($x->{access_token})->code == 200,
   '... and the family\'s tokens still work';
$r = revoke(token => $x->{id_token}, _basic => 'two');
is $r->code, 400, 'POST /revoke with app one\'s id_token and app two\'s credentials: 400';
is $r->{json}{error}, 'unauthorized_client', '... unauthorized_client';
is revoke(token => $x->{id_token}, _basic => 'one')->code, 200, 'POST /revoke with the first id_token';
is grant_me($x2->{access_token})->code, 401, '... the family\'s newest access token no longer works (GET /grants/me)';
is grant_me($x->{access_token})->code, 401, '... nor the first';
is token(grant_type => 'refresh_token', refresh_token => $x2->{refresh_token}, _basic => 'one')->{json}{error},
   'invalid_grant', '... nor its refresh token';
is scalar(grep { $_->{family} eq token_digest($code3) } db_rows('oauth_tokens')), 0, '... no row of the family left';
info_refused($x2->{id_token}, 'the refreshed id_token of the revoked family');
info_refused($x->{id_token}, 'the first id_token of the revoked family');

my $since = error_log_since($at0);
like $since, qr/CN01303: an id_token was refused: a signature that does not verify/,
     'the log says why an id_token was refused (CN01303): its signature';
like $since, qr/CN01303: an id_token was refused: alg none/, '... alg none';
like $since, qr/CN01303: an id_token was refused: a kid of no ConnectSigningKey/, '... another key';
like $since, qr/CN01303: an id_token was refused: it has expired/, '... expired';
like $since, qr/CN01303: an id_token was refused: it was issued to another application/, '... another application';
ok !grep({ index($since, $_) >= 0 } $x->{id_token}, $x2->{id_token}, $y->{id_token}, $bad_sig, $none),
   '... never the token';

my $log = error_log();
ok index($log, $id_token) < 0 && index($log, $k->{id_token}) < 0, 'no id_token in the error log';

done_testing;
