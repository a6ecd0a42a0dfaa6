# Integration credentials (seed "Credentials": another provider app of one
# integration): a hosted authentication (POST /auth), an authorization
# request (GET /auth) or a native grant (POST /grants) naming credential_id
# uses the credential's client_id and client_secret instead of the
# integration's own, and so does every later refresh of the grant's tokens;
# the fake sees the credential's client id at each hop. An unknown
# credential, or one of another kind, is refused (credential_not_found
# 35010, invalid_request_payload); a grant made again without the credential
# goes back to the integration's own app.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::OAuth;

reset_db();
is make_integration('google')->code, 201, 'google integration (the fake\'s own client)';
my $log_at = error_log_offset();
my $CLIENT = 'cred-' . lc secret_token('c');

sub grant_row { my $id = shift; (grep { $_->{id} eq $id } db_rows('grants'))[0] || {} }
sub credential {
    my ($type, $data) = @_;
    my $r = api(POST => '/integrations/google/creds',
                { name => "$type " . secret_token('n'), credential_type => $type, credential_data => $data });
    is $r->code, 201, "a $type credential" or diag $r->as_string;
    return $r->{json}{data}{id};
}
my $cred = credential(integration => { client_id => $CLIENT, client_secret => "$CLIENT-secret" });
my $badsecret = credential(integration => { client_id => $CLIENT, client_secret => 'wrong' });
my $sa = credential(serviceaccount => { private_key_id => 'k', private_key => 'x', client_email => 'a@b.example' });
sub last_post { my $gt = shift; (grep { $_->{method} eq 'POST' && ($_->{params}{grant_type} // '') eq $gt } @{ fake_log() })[-1] || {} }

# ---- a hosted authentication with the credential --------------------------------------------
my $f = hosted_flow(provider => 'google', login_hint => 'ivy@example.com', body => { credential_id => $cred });
is $f->result->{success}, 'true', 'POST /auth with credential_id: the hosted flow succeeds' or diag $f->{error};
is $f->{auth}{json}{data}{request}{credential_id}, $cred, '... the request names the credential';
is $f->{authorize_query}{client_id}, $CLIENT, "... the provider's authorize page sees the credential's client id";
my $x = last_post('authorization_code');
is $x->{params}{client_id}, $CLIENT, '... and so does the code exchange';
my $gid = $f->grant_id // '';
is grant_row($gid)->{credential_id}, $cred, 'the grant remembers the credential';

# its refresh: as the credential's client
dbh()->do('UPDATE grants SET access_expires_at = ? WHERE id = ?', undef, 0, $gid);
my $r = api(POST => "/grants/$gid/access_token");
is $r->code, 200, 'an expired token: 200' or diag $r->as_string;
is last_post('refresh_token')->{params}{client_id}, $CLIENT, "... refreshed as the credential's client";
is grant_row($gid)->{grant_status}, 'valid', '... the grant stays valid';

# made again without the credential: the integration's own app
$f = hosted_flow(provider => 'google', login_hint => 'ivy@example.com');
is $f->grant_id, $gid, 'the same user without credential_id: the same grant';
is $f->{authorize_query}{client_id}, 'test-google-client', "... through the integration's own app";
is grant_row($gid)->{credential_id}, undef, '... which it uses from now on';

# a wrong secret: the provider refuses the exchange, the application hears it
$f = hosted_flow(provider => 'google', login_hint => 'jo@example.com', body => { credential_id => $badsecret });
is $f->result->{success}, 'false', 'a credential with a wrong secret: success=false';
is $f->result->{error}, 'invalid_client', '... error=invalid_client';

# ---- refusals of POST /auth -------------------------------------------------------------------
for my $c (
    ['an unknown credential', { provider => 'google', credential_id => 'nope' }, 35010],
    ['a serviceaccount credential', { provider => 'google', credential_id => $sa }, 700],
    ['no provider (the login screen)', { prompt => 'select_provider', credential_id => $cred }, 700],
    ['a credential_id that is no string', { provider => 'google', credential_id => 7 }, 700],
) {
    my ($name, $body, $code) = @$c;
    $r = api(POST => '/auth', { redirect_uri => app_redirect_uri(), %$body });
    is $r->code, 400, "POST /auth with $name: 400";
    is $r->{json}{error}{event_code}, $code, "... $code";
}

# ---- an authorization request (GET /auth) ---------------------------------------------------
my $a = authorize(login_hint => 'kai@example.com', state => 'cs', credential_id => $cred);
is $a->{error}, undef, 'GET /auth with credential_id: through the provider back to the application';
ok $a->{code}, '... with a code';
is query_of($a->{auth}->header('Location'))->{client_id}, $CLIENT,
    "... the provider's authorize page saw the credential's client id";
is last_post('authorization_code')->{params}{client_id}, $CLIENT, '... and so did the code exchange';
for my $c (['an unknown credential', 'nope', qr/credential_not_found/],
           ['a serviceaccount credential', $sa, qr/integration credential/]) {
    my ($name, $id, $why) = @$c;
    my $res = browser()->get(authorize_url(state => 'cx', credential_id => $id));
    my $back = query_of($res->header('Location'));
    is $back->{error}, 'invalid_request', "GET /auth with $name: error=invalid_request";
    like $back->{error_description} // '', $why, '... saying why';
}

# ---- native authentication ------------------------------------------------------------------
my $rt = 'rt-' . secret_token('native');
fake_seed('google', $rt, 'nat@example.com');
$r = api(POST => '/grants', { provider => 'google', settings => { credential_id => $cred, refresh_token => $rt } });
is $r->code, 201, 'POST /grants with an integration credential and a refresh token: 201' or diag $r->as_string;
is last_post('refresh_token')->{params}{client_id}, $CLIENT, "... proven by a refresh as the credential's client";
is grant_row($r->{json}{data}{id} // '')->{credential_id}, $cred, '... the grant remembers the credential';
$r = api(POST => '/grants', { provider => 'google', settings => { credential_id => $cred } });
is $r->{json}{error}{event_code}, 25011, 'no refresh_token: refresh_token_required';

unlike error_log_since($log_at), qr/\Q$CLIENT-secret\E/, 'the client secret is never logged';

done_testing();
