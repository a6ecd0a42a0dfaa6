# The id_token of POST /token, checked as a relying party would, with an
# implementation the module does not use (Crypt::JWT over CryptX): the
# issuer's discovery document names the JWKS, the JWKS has the key that
# verifies the signature, and the claims are the grant's (sub), the
# application's (aud), the authorization request's nonce, the sign-in's
# auth_time, the grant's verified email and its provider.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Crypt::JWT ();
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

my $log = error_log();
ok index($log, $id_token) < 0 && index($log, $k->{id_token}) < 0, 'no id_token in the error log';

done_testing;
