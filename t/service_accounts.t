# Google app permissions: a serviceaccount credential holds the service
# account's key JSON (sealed); POST /grants {provider google, settings
# {credential_id, email_address, scopes}} signs an RS256 assertion with its
# private key (cjose) and exchanges it at Google's token endpoint
# (jwt-bearer). The fake verifies the signature against the public key the
# test made and registered, and the claims (iss, sub, scope, aud, iat/exp),
# answering Google's error bodies. provider_user_id is the address; the same
# user re-authenticates the grant; its token is minted again once expired;
# bad keys, unknown users, undelegated scopes and a deleted service account
# are refused with the seed's events, nothing stored, no key in the log.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use File::Temp ();
use MIME::Base64 ();
use CnTest qw(:all);
use CnTest::Flow;

reset_db();
is make_integration('google')->code, 201, 'google integration';
my $log_at = error_log_offset();
my $GMAIL = 'https://www.googleapis.com/auth/gmail.readonly';
my $FULL = 'https://mail.google.com/';
my $dir = File::Temp->newdir('sa-XXXXXX', DIR => var_dir(), CLEANUP => 1);

sub count { scalar(my @r = db_rows($_[0])) }
sub grant_row { my $id = shift; (grep { $_->{id} eq $id } db_rows('grants'))[0] || {} }
sub slurp { open my $fh, '<', $_[0] or die "$_[0]: $!"; local $/; scalar <$fh> }
sub b64url_json {
    my $s = shift // '';
    $s =~ tr{-_}{+/};
    $s .= '=' x (-length($s) % 4);
    return json_decode(MIME::Base64::decode_base64($s));
}

# A private key made by openssl: (private PEM, public PEM).
my $n = 0;
sub keypair {
    my @genpkey = @_;
    my $f = "$dir/k" . ++$n;
    system('openssl', 'genpkey', @genpkey, '-out', "$f.pem") == 0 or die 'openssl genpkey failed';
    system('openssl', 'pkey', '-in', "$f.pem", '-pubout', '-out', "$f.pub") == 0 or die 'openssl pkey failed';
    return (slurp("$f.pem"), slurp("$f.pub"));
}
sub rsa { keypair('-algorithm', 'RSA', '-pkeyopt', "rsa_keygen_bits:" . (shift || 2048)) }

# A service account known to the fake (its public key, the scopes its
# domain-wide delegation allows), and its credential here.
sub service_account {
    my (%o) = @_;
    my $email = ($o{name} || 'svc') . '-' . lc(secret_token('s')) . '@proj.iam.gserviceaccount.com';
    my ($private, $public) = $o{private} ? ($o{private}, $o{public}) : rsa();
    my $kid = lc secret_token('kid');
    my $res = fake_ua()->post(fake_url('/_app/serviceaccount'),
                              { client_email => $email, key_id => $kid,
                                public_key => $o{registered_public} || $public,
                                scopes => "$GMAIL $FULL" });
    ok $res->is_success, "service account $email known to the fake";
    my $r = api(POST => '/integrations/google/creds',
                { name => "sa $email", credential_type => 'serviceaccount',
                  credential_data => { type => 'service_account', project_id => 'proj',
                                       private_key_id => $kid, private_key => $private,
                                       client_email => $email, client_id => '1234567890',
                                       token_uri => 'https://oauth2.googleapis.com/token' } });
    is $r->code, 201, '... and its serviceaccount credential' or diag $r->as_string;
    return { id => $r->{json}{data}{id}, email => $email, kid => $kid, private => $private };
}

sub sa_grant { api(POST => '/grants', { provider => 'google', settings => { @_ } }) }
sub assertions { grep { $_->{method} eq 'POST' && ($_->{params}{grant_type} // '') =~ /jwt-bearer/ } @{ fake_log() } }

my $sa = service_account();

# ---- a grant --------------------------------------------------------------------------------
my $t0 = time;
my $r = sa_grant(credential_id => $sa->{id}, email_address => 'Sam.SA@Example.com', scopes => [$GMAIL]);
is $r->code, 201, 'POST /grants with a serviceaccount credential: 201' or diag $r->as_string;
my $g = $r->{json}{data} || {};
my $gid = $g->{id} // '';
is $g->{provider}, 'google', '... google';
is $g->{email}, 'sam.sa@example.com', '... the user, lowercased';
is $g->{provider_user_id}, 'sam.sa@example.com', '... provider_user_id: the address';
is_deeply $g->{scope}, [$GMAIL], '... the scopes asked';
my @a = assertions();
is $a[-1]{path}, '/google/token', "the assertion went to Google's token endpoint";
my ($h64, $c64, $s64) = split /\./, $a[-1]{params}{assertion} // '';
my ($head, $claims) = (b64url_json($h64), b64url_json($c64));
is $head->{alg}, 'RS256', '... RS256';
is $head->{kid}, $sa->{kid}, '... kid: the private_key_id';
is $claims->{iss}, $sa->{email}, '... iss: the client_email';
is $claims->{sub}, 'sam.sa@example.com', '... sub: the user';
is $claims->{scope}, $GMAIL, '... scope';
is $claims->{aud}, fake_url('/google/token'), '... aud: the token endpoint';
ok $claims->{iat} >= $t0 - 5 && $claims->{iat} <= time + 5, '... iat: now';
is $claims->{exp} - $claims->{iat}, 3600, '... exp: an hour later';
my $row = grant_row($gid);
is $row->{credential_id}, $sa->{id}, 'the grant remembers its credential';
is $row->{refresh_token}, undef, '... no refresh token stored';
like $row->{access_token} // '', sealed_re(), '... the access token sealed';
my ($issued) = grep { $_->{email} eq 'sam.sa@example.com' } reverse fake_issued(kind => 'access');
$r = sa_grant(credential_id => $sa->{id}, email_address => 'sam.sa@example.com', scopes => [$GMAIL, $FULL]);
is $r->code, 200, 'the same user again: 200';
is $r->{json}{data}{id}, $gid, '... the same grant, re-authenticated';
is_deeply $r->{json}{data}{scope}, [$GMAIL, $FULL], '... with the scopes asked now';
($issued) = grep { $_->{email} eq 'sam.sa@example.com' } reverse fake_issued(kind => 'access');

# ---- refusals: the seed's events, nothing stored -------------------------------------------
my ($ec_private, $ec_public) = keypair('-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256');
my ($weak_private, $weak_public) = rsa(1024);
my ($other_private) = rsa();
my $ec = service_account(name => 'ec', private => $ec_private, public => $ec_public);
my $weak = service_account(name => 'weak', private => $weak_private, public => $weak_public);
my $junk = service_account(name => 'junk', private => "-----BEGIN PRIVATE KEY-----\nX\n-----END PRIVATE KEY-----\n",
                           public => $ec_public);
my $other = service_account(name => 'other', private => $other_private, registered_public => (rsa())[1]);
my $gone = service_account(name => 'gone');
ok fake_ua()->post(fake_url('/_app/serviceaccount/revoke'), { client_email => $gone->{email} })->is_success,
    'a service account deleted at Google';
my $grants = count('grants');
my $sent = scalar(my @x = assertions());
for my $c (
    ['an EC key', { credential_id => $ec->{id} }, 35012, 'credential_missing_param', qr/not an RSA key/, 0],
    ['an RSA key of 1024 bits', { credential_id => $weak->{id} }, 35012, 'credential_missing_param', qr/too weak/, 0],
    ['a private key that is no key', { credential_id => $junk->{id} }, 35012, 'credential_missing_param', qr/not an unencrypted PEM private key/, 0],
) {
    my ($name, $settings, $code, $type, $why) = @$c;
    $r = sa_grant(email_address => 'sam.sa@example.com', scopes => [$GMAIL], %$settings);
    is $r->code, 400, "POST /grants, $name: 400";
    is $r->{json}{error}{event_code}, $code, "... $type ($code)";
    like $r->{json}{error}{message} // '', $why, '... saying why';
}
is scalar(my @y = assertions()), $sent, '... and nothing was sent to Google for a bad key';
for my $c (
    ['a key Google does not know', { credential_id => $other->{id} }, 45004, 'invalid_grant', qr/Invalid JWT Signature/],
    ['a deleted service account', { credential_id => $gone->{id} }, 45004, 'invalid_grant', qr/account not found/],
    ['an unknown user', { credential_id => $sa->{id}, email_address => 'nouser.z@example.com' }, 45004, 'invalid_grant', qr/Invalid email or User ID/],
    ['a scope not delegated', { credential_id => $sa->{id}, scopes => ['https://www.googleapis.com/auth/drive'] }, 45003, 'invalid_client', qr/unauthorized_client/],
    ['an unknown credential', { credential_id => 'nope' }, 35010, 'credential_not_found', qr//],
    ['no email_address', { credential_id => $sa->{id}, email_address => undef }, 700, 'invalid_request_payload', qr/email_address/],
    ['scopes not an array', { credential_id => $sa->{id}, scopes => $GMAIL }, 700, 'invalid_request_payload', qr/scopes/],
) {
    my ($name, $settings, $code, $type, $why) = @$c;
    my %s = (email_address => 'sam.sa@example.com', scopes => [$GMAIL], %$settings);
    delete $s{$_} for grep { !defined $s{$_} } keys %s;
    $r = sa_grant(%s);
    is $r->code, 400, "POST /grants, $name: 400";
    is $r->{json}{error}{event_code}, $code, "... $type ($code)";
    like $r->{json}{error}{message} // '', $why, '... with the reason';
}
is count('grants'), $grants, 'no refused grant stored anything';
$r = sa_grant(credential_id => $sa->{id}, email_address => 'una@example.com', scopes => []);
is $r->code, 201, 'no scopes asked: 201' or diag $r->as_string;
is_deeply $r->{json}{data}{scope}, [$GMAIL], "... with the integration's scopes";
is b64url_json((split /\./, (assertions())[-1]{params}{assertion} // '')[1])->{scope}, $GMAIL,
    '... asked of Google';

# ---- access_token: the stored token, then minted again ------------------------------------
$sent = scalar(@y = assertions());
$r = api(POST => "/grants/$gid/access_token");
is $r->code, 200, 'POST /grants/{id}/access_token: 200' or diag $r->as_string;
is $r->{json}{data}{access_token}, $issued->{value}, '... the token of the grant';
is $r->{json}{data}{imap}{host}, 'imap.gmail.com', '... and the IMAP settings';
is scalar(@y = assertions()), $sent, '... without asking Google';
dbh()->do('UPDATE grants SET access_expires_at = ? WHERE id = ?', undef, time + 60, $gid);
$r = api(POST => "/grants/$gid/access_token");
is $r->code, 200, 'a minute from expiry: 200' or diag $r->as_string;
my $new = $r->{json}{data}{access_token} // '';
isnt $new, $issued->{value}, '... a new token';
@a = assertions();
is scalar(@a), $sent + 1, '... from one new assertion';
$claims = b64url_json((split /\./, $a[-1]{params}{assertion} // '')[1]);
is $claims->{sub}, 'sam.sa@example.com', "... for the grant's user";
is $claims->{scope}, "$GMAIL $FULL", "... with the grant's scopes";
ok $r->{json}{data}{expires_at} > time + 3000, '... valid about an hour';
is grant_row($gid)->{refresh_token}, undef, '... still no refresh token';
is api(POST => "/grants/$gid/access_token")->{json}{data}{access_token}, $new, 'asked again: the stored new token';

# the service account deleted at Google: the grant becomes invalid
ok fake_ua()->post(fake_url('/_app/serviceaccount/revoke'), { client_email => $sa->{email} })->is_success,
    'the service account deleted at Google';
dbh()->do('UPDATE grants SET access_expires_at = ? WHERE id = ?', undef, 0, $gid);
$r = api(POST => "/grants/$gid/access_token");
is $r->code, 400, 'expired, its service account gone: 400';
is $r->{json}{error}{type}, 'grant_expired', '... grant_expired';
is grant_row($gid)->{grant_status}, 'invalid', '... the grant is invalid';

# the credential deleted: a grant made with it cannot be minted either
my $sa2 = service_account(name => 'deleted');
$r = sa_grant(credential_id => $sa2->{id}, email_address => 'tess@example.com', scopes => [$GMAIL]);
is $r->code, 201, 'another grant' or diag $r->as_string;
my $gid2 = $r->{json}{data}{id} // '';
is api(DELETE => "/integrations/google/creds/$sa2->{id}")->code, 200, '... whose credential is deleted';
dbh()->do('UPDATE grants SET access_expires_at = ? WHERE id = ?', undef, 0, $gid2);
$r = api(POST => "/grants/$gid2/access_token");
is $r->{json}{error}{type}, 'grant_expired', '... then its expired token: grant_expired';
is grant_row($gid2)->{grant_status}, 'invalid', '... the grant invalid';

# ---- nothing secret in the log or at rest -------------------------------------------------
my $log = error_log_since($log_at);
(my $key_line) = grep { length > 40 && !/-----/ } split /\n/, $sa->{private};
unlike $log, qr/\Q$key_line\E/, 'no private key in the error log';
unlike $log, qr/\Q$s64\E/, 'no assertion in the error log';
unlike $log, qr/\Q$new\E/, 'no access token in the error log';
like $log, qr/CN04002: grant \Q$gid\E: app-permission token minted \(serviceaccount\)/, 'the mint is logged (CN04002)';
my ($data) = map { $_->{credential_data} } grep { $_->{id} eq $sa->{id} } db_rows('credentials');
like $data, sealed_re(), 'the key JSON sealed at rest';

done_testing();
