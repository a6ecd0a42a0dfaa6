# OpenID Connect discovery and the keys that verify id_tokens: a relying
# party that knows only the issuer (ConnectBaseURL) finds the metadata, from
# it the JWKS, and in the JWKS the public keys of the ConnectSigningKey files
# (t/conf/keys/signing-rsa.pem signs, signing-p256.pem is published too).
# The keys are checked against the PEM files with CryptX (Crypt::PK::*), not
# with anything the module uses; then, on standalone servers, no key at all
# and the keys in the other order.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Spec ();
use MIME::Base64 ();
use Crypt::PK::RSA ();
use Crypt::PK::ECC ();
use CnTest qw(:all);
use CnTest::Httpd;

my $keys_dir = File::Spec->catdir(t_dir(), 'conf', 'keys');
my $rsa_pem = File::Spec->catfile($keys_dir, 'signing-rsa.pem');
my $ec_pem = File::Spec->catfile($keys_dir, 'signing-p256.pem');
my $rsa = Crypt::PK::RSA->new($rsa_pem);
my $ec = Crypt::PK::ECC->new($ec_pem);

# Big-endian hex (as CryptX's key2hash gives it) as base64url, left-padded
# to BYTES when given.
sub b64url_of_hex {
    my ($hex, $bytes) = @_;
    $hex = "0$hex" if length($hex) % 2;
    $hex = ('00' x ($bytes - length($hex) / 2)) . $hex if $bytes && length($hex) / 2 < $bytes;
    return MIME::Base64::encode_base64url(pack 'H*', $hex);
}

my %rsa_pub = (n => b64url_of_hex($rsa->key2hash->{N}), e => b64url_of_hex($rsa->key2hash->{e}));
my %ec_pub = (x => b64url_of_hex($ec->key2hash->{pub_x}, 32),
              y => b64url_of_hex($ec->key2hash->{pub_y}, 32));
my $rsa_kid = $rsa->export_key_jwk_thumbprint('SHA256');
my $ec_kid = $ec->export_key_jwk_thumbprint('SHA256');
my @private = qw(d p q dp dq qi oth k);

my $issuer = url();    # ConnectBaseURL of the test server
my $well_known = '/.well-known';

sub public_get {
    my ($u) = @_;
    my $res = CnTest::ua()->get($u, Accept => 'application/json');
    $res->{json} = CnTest::json_decode($res->content);
    return $res;
}

# The headers of a public, cacheable JSON document.
sub cacheable_ok {
    my ($res, $what) = @_;
    is $res->code, 200, "$what: 200" or diag $res->as_string;
    like $res->header('Content-Type') // '', qr{^application/json\b}, "$what: application/json";
    like $res->header('Cache-Control') // '', qr/^public, max-age=3600$/, "$what: Cache-Control public, max-age=3600";
    unlike $res->header('Cache-Control') // '', qr/no-store/, "$what: not no-store";
    is $res->header('Access-Control-Allow-Origin'), '*', "$what: any origin may read it";
    ok $res->header('X-Request-Id'), "$what: X-Request-Id";
}

# ---- discovery, from the issuer alone ---------------------------------------
my $doc;
{
    my $res = public_get("$issuer$well_known/openid-configuration");
    cacheable_ok($res, 'openid-configuration');
    $doc = $res->{json} || {};
    is $doc->{issuer}, $issuer, 'issuer is ConnectBaseURL';
    is $doc->{authorization_endpoint}, "$issuer/auth", 'authorization_endpoint';
    is $doc->{token_endpoint}, "$issuer/token", 'token_endpoint';
    is $doc->{revocation_endpoint}, "$issuer/revoke", 'revocation_endpoint';
    is $doc->{jwks_uri}, "$issuer$well_known/jwks.json", 'jwks_uri';
    my %lists = (
        response_types_supported => ['code'],
        response_modes_supported => ['query'],
        grant_types_supported => ['authorization_code', 'refresh_token'],
        code_challenge_methods_supported => ['S256', 'plain'],
        token_endpoint_auth_methods_supported => ['client_secret_basic', 'client_secret_post', 'none'],
        revocation_endpoint_auth_methods_supported => ['client_secret_basic', 'client_secret_post', 'none'],
        id_token_signing_alg_values_supported => ['RS256', 'ES256'],
        subject_types_supported => ['public'],
        scopes_supported => ['openid', 'email', 'offline_access'],
        claims_supported => [qw(iss sub aud exp iat auth_time nonce email email_verified provider)],
    );
    is_deeply $doc->{$_}, $lists{$_}, $_ for sort keys %lists;
    ok exists $doc->{request_uri_parameter_supported} && !$doc->{request_uri_parameter_supported},
        'request_uri_parameter_supported false (its default would be true)';

    # Public: no credentials needed, none looked at.
    $res = api(GET => "$well_known/openid-configuration", undef, app => ['nobody', 'wrong-secret-wrong']);
    is $res->code, 200, 'wrong Basic credentials do not matter';
    $res = api(POST => "$well_known/openid-configuration", {});
    is $res->code, 405, 'POST: 405';
    is $res->header('Allow'), 'GET', '... Allow: GET';
    like $res->header('Cache-Control') // '', qr/no-store/, '... and an error is not cached';
}

# ---- the JWKS, found through the discovery document --------------------------
{
    my $res = public_get($doc->{jwks_uri} // "$issuer$well_known/jwks.json");
    cacheable_ok($res, 'jwks.json');
    my $keys = ($res->{json} || {})->{keys} || [];
    is scalar @$keys, 2, 'both ConnectSigningKey keys are published';
    is_deeply [sort keys %{ $res->{json} || {} }], ['keys'], 'a JWK set: {"keys":[...]}';
    my ($k_rsa, $k_ec) = @$keys;

    is $k_rsa->{kty}, 'RSA', 'first: the RSA key (the one that signs)';
    is $k_rsa->{kid}, $rsa_kid, '... kid is its RFC 7638 thumbprint';
    is $k_rsa->{alg}, 'RS256', '... alg RS256';
    is $k_rsa->{use}, 'sig', '... use sig';
    is $k_rsa->{n}, $rsa_pub{n}, '... n is the modulus of signing-rsa.pem';
    is $k_rsa->{e}, $rsa_pub{e}, '... e its public exponent';

    is $k_ec->{kty}, 'EC', 'second: the P-256 key';
    is $k_ec->{crv}, 'P-256', '... crv P-256';
    is $k_ec->{kid}, $ec_kid, '... kid is its RFC 7638 thumbprint';
    is $k_ec->{alg}, 'ES256', '... alg ES256';
    is $k_ec->{use}, 'sig', '... use sig';
    is $k_ec->{x}, $ec_pub{x}, '... x of signing-p256.pem';
    is $k_ec->{y}, $ec_pub{y}, '... y of signing-p256.pem';

    for my $k ($k_rsa, $k_ec) {
        my @leaked = grep { exists $k->{$_} } @private;
        is "@leaked", '', "$k->{kty}: no private member";
    }
    unlike $res->content, qr/\Q@{[MIME::Base64::encode_base64url(pack 'H*', $rsa->key2hash->{d})]}\E/,
        'the RSA private exponent is nowhere in the answer';

    # A JWK library reads each served key back as the PEM's public key.
    my $rsa_back = eval { Crypt::PK::RSA->new($k_rsa) };
    is $rsa_back && $rsa_back->export_key_der('public'), $rsa->export_key_der('public'),
        'the served RSA JWK is the public key of signing-rsa.pem';
    my $ec_back = eval { Crypt::PK::ECC->new($k_ec) };
    is $ec_back && $ec_back->export_key_der('public'), $ec->export_key_der('public'),
        'the served EC JWK is the public key of signing-p256.pem';

    $res = CnTest::ua()->head("$issuer$well_known/jwks.json");
    is $res->code, 200, 'HEAD: 200';
    is $res->content, '', '... without a body';

    like error_log(), qr/CN00030: ConnectSigningKey: 2 key\(s\) published; id_tokens are signed RS256 with kid \Q$rsa_kid\E/,
        'start-up says which key signs';
}

# ---- standalone servers: without keys, and the keys in the other order -------
SKIP: {
    skip 'standalone servers run on SQLite, in the sqlite pass', 1 if db_driver() ne 'sqlite3';

    my $h = CnTest::Httpd->new;
    $h->write_conf;
    ok $h->start, 'no ConnectSigningKey: starts' or diag $h->output;
    my $res = $h->api(GET => "$well_known/jwks.json", undef, app => 0);
    is $res->code, 200, 'no key: the JWKS answers';
    is $res->content, '{"keys":[]}', '... an empty key set';
    $res = $h->api(GET => "$well_known/openid-configuration", undef, app => 0);
    is_deeply $res->{json}{id_token_signing_alg_values_supported}, [],
        '... and discovery lists no algorithm (the member is there, empty)';
    is $res->{json}{issuer}, $h->base_url . '/connect', '... its issuer is its ConnectBaseURL';
    ok $h->stop, 'stopped';

    # Rotation: the P-256 key signs now, the RSA key is still published.
    $h->write_conf(extra => "ConnectSigningKey file:$ec_pem $rsa_pem");
    ok $h->start, '[P-256, RSA]: starts' or diag $h->output;
    $res = $h->api(GET => "$well_known/jwks.json", undef, app => 0);
    is_deeply [map { $_->{kid} } @{ $res->{json}{keys} || [] }], [$ec_kid, $rsa_kid],
        '... the JWKS in the configured order';
    $res = $h->api(GET => "$well_known/openid-configuration", undef, app => 0);
    is_deeply $res->{json}{id_token_signing_alg_values_supported}, ['ES256', 'RS256'],
        '... ES256 first';
    like $h->error_log, qr/ConnectSigningKey: 2 key\(s\) published; id_tokens are signed ES256 with kid \Q$ec_kid\E/,
        '... and start-up says the P-256 key signs';
    ok $h->stop, 'stopped';
}

done_testing;
