# Microsoft app permissions: the admin consent round trip (GET /auth with
# response_type=adminconsent: pages until the application, its integration
# and the redirect URI hold; the credential's app at the fake's adminconsent
# endpoint with <ConnectBaseURL>/callback; the consented tenant recorded; the
# application told admin_consent=true&tenant=…&state=…, or the error), then
# app-permission grants (POST /grants with an adminconsent credential:
# client credentials at the consented tenant, Graph /users/{email}) and their
# tokens minted again by POST /grants/{id}/access_token once expired. Refusals
# (a declined or withdrawn consent, an unknown user, a consent without the
# permission to read users, the wrong tenant, a wrong secret) are the seed's
# events; nothing is stored on a failure; no secret reaches the log.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use URI ();
use POSIX ();
use File::Temp ();
use CnTest qw(:all);
use CnTest::Flow;

reset_db();
my $RU = app_redirect_uri('one');
is make_integration('microsoft')->code, 201, 'microsoft integration (tenant common)';
is make_integration('google')->code, 201, 'google integration';
my $log_at = error_log_offset();

sub count { scalar(my @r = db_rows($_[0])) }
sub cred_row { my $id = shift; (grep { $_->{id} eq $id } db_rows('credentials'))[0] || {} }
sub grant_row { my $id = shift; (grep { $_->{id} eq $id } db_rows('grants'))[0] || {} }
sub fake_post { fake_ua()->post(fake_url(shift), {@_}) }

# An adminconsent credential for the fake's Microsoft app CLIENT_ID (its
# secret is "<client_id>-secret" unless given).
sub ms_credential {
    my ($client_id, %o) = @_;
    my $r = api(POST => '/integrations/microsoft/creds',
                { name => $o{name} || "consent $client_id", credential_type => 'adminconsent',
                  credential_data => { client_id => $client_id,
                                       client_secret => $o{secret} // "$client_id-secret" } });
    is $r->code, 201, "adminconsent credential for $client_id" or diag $r->as_string;
    return $r->{json}{data}{id};
}

sub consent_url {
    my %o = @_;
    my %q = (client_id => 'app-one', provider => 'microsoft', redirect_uri => $RU,
             response_type => 'adminconsent', state => 'st-consent');
    for (keys %o) { if (defined $o{$_}) { $q{$_} = $o{$_} } else { delete $q{$_} } }
    my $u = URI->new(url('/auth'));
    $u->query_form(map { ($_ => $q{$_}) } sort keys %q);
    return $u->as_string;
}

my $CID = 'msapp-' . lc secret_token('a');
my $TID = microsoft_tenant_id($CID);
my $cred = ms_credential($CID);

# ---- before the application, the integration and the redirect URI hold: pages ----------
my $logins = count('login_requests');
for my $c (
    ['no client_id', { client_id => undef }, 'invalid_client'],
    ['an unknown client_id', { client_id => 'app-nobody' }, 'invalid_client'],
    ['no provider', { provider => undef }, 'provider_required'],
    ['no redirect_uri', { redirect_uri => undef }, 'redirect_uri_not_allowed'],
    ['an unregistered redirect_uri', { redirect_uri => 'https://evil.example/cb' }, 'redirect_uri_not_allowed'],
    ['app two (no microsoft integration)', { client_id => 'app-two' }, 'integration_not_found'],
) {
    my ($name, $q, $type) = @$c;
    my $res = browser()->get(consent_url(credential_id => $cred, %$q));
    ok $res->code >= 400 && $res->code < 500, "admin consent, $name: a page (" . $res->code . ')';
    ok !defined $res->header('Location'), '... no redirect';
    like $res->content, qr/\Q$type\E/, "... naming $type";
}
is count('login_requests'), $logins, '... nothing stored';

# ---- after: errors go back to the application ---------------------------------------------
my $gcred = api(POST => '/integrations/google/creds',
                { name => 'g-int', credential_type => 'integration',
                  credential_data => { client_id => 'cred-g1', client_secret => 'cred-g1-secret' } })
    ->{json}{data}{id};
my $icred = api(POST => '/integrations/microsoft/creds',
                { name => 'm-int', credential_type => 'integration',
                  credential_data => { client_id => 'cred-m1', client_secret => 'cred-m1-secret' } })
    ->{json}{data}{id};
for my $c (
    ['no credential_id', {}, 'invalid_request', qr/credential_id is required/],
    ['an unknown credential_id', { credential_id => 'nope' }, 'invalid_request', qr/credential_not_found \(35010\)/],
    ["another integration's credential", { credential_id => $gcred }, 'invalid_request', qr/credential_not_found/],
    ['an integration credential', { credential_id => $icred }, 'invalid_request', qr/adminconsent credential/],
    ['provider google', { provider => 'google', credential_id => $cred }, 'unsupported_response_type', qr/microsoft/],
) {
    my ($name, $q, $error, $why) = @$c;
    my $res = browser()->get(consent_url(%$q));
    is $res->code, 302, "admin consent, $name: 302";
    my $back = query_of($res->header('Location'));
    like $res->header('Location') // '', qr{\A\Q$RU\E\?}, '... to the application';
    is $back->{error}, $error, "... error=$error";
    like $back->{error_description} // '', $why, '... saying why';
    is $back->{state}, 'st-consent', '... with its state';
}
is count('login_requests'), $logins, '... nothing stored';

# ---- the round trip ---------------------------------------------------------------------------
my $b = browser();
my $res = $b->get(consent_url(credential_id => $cred, state => 'admin-1'));
is $res->code, 302, 'GET /auth?response_type=adminconsent: 302';
my $to = $res->header('Location') // '';
like $to, qr{\A\Q${\ fake_url('/microsoft/common/v2.0/adminconsent?') }\E},
    "... to the adminconsent endpoint of the integration's tenant";
my $q = query_of($to);
is $q->{client_id}, $CID, "... as the credential's app";
is $q->{redirect_uri}, url('/callback'), '... back to <ConnectBaseURL>/callback';
is $q->{scope}, 'https://graph.microsoft.com/.default', '... scope .default';
like $q->{state} // '', qr/\A[A-Za-z0-9_-]{43}\z/, "... the flow's own state";
is_deeply [page_header_problems($res)], [], '... page headers';
$res = $b->get($to);
is $res->code, 302, 'the admin consents at the fake';
my $cb = $res->header('Location') // '';
is query_of($cb)->{tenant}, $TID, '... for its tenant';
is cred_row($cred)->{consented_tenant}, undef, 'nothing recorded before the callback';
$res = $b->get($cb);
is $res->code, 302, 'GET /callback: 302';
like $res->header('Location') // '', qr{\A\Q$RU\E\?}, '... to the application';
is_deeply query_of($res->header('Location')),
    { admin_consent => 'true', tenant => $TID, state => 'admin-1' },
    '... with admin_consent=true, the tenant and its state';
is cred_row($cred)->{consented_tenant}, $TID, 'the consented tenant is recorded on the credential';
ok cred_row($cred)->{consented_at} >= time - 60, '... with its time';
$res = $b->get($cb);
is $res->code, 400, 'the callback again: a page';
ok !defined $res->header('Location'), '... no redirect';

# ---- a declined consent: the error, nothing recorded -------------------------------------
my $DECLINE = 'msapp-decline-' . lc secret_token('d');
my $dcred = ms_credential($DECLINE);
$b = browser();
$res = $b->get(consent_url(credential_id => $dcred, state => 'admin-2'));
$res = $b->get($res->header('Location') // '');
$res = $b->get($res->header('Location') // '');
is $res->code, 302, 'a declined consent: 302';
my $back = query_of($res->header('Location'));
is $back->{error}, 'access_denied', '... error=access_denied';
is $back->{admin_consent}, 'false', '... admin_consent=false';
like $back->{error_description} // '', qr/oauth_failed \(45002\).*AADSTS65004/, '... oauth_failed, with Microsoft\'s reason';
is $back->{state}, 'admin-2', '... and the state';
is cred_row($dcred)->{consented_tenant}, undef, '... nothing recorded';

# ---- an expired consent request: a page, nothing recorded --------------------------------
my $LATE = 'msapp-late-' . lc secret_token('l');
my $lcred = ms_credential($LATE);
$b = browser();
$res = $b->get(consent_url(credential_id => $lcred));
$res = $b->get($res->header('Location') // '');
dbh()->do(q{UPDATE login_requests SET expires_at = ? WHERE kind = 'adminconsent'}, undef, time - 1);
$res = $b->get($res->header('Location') // '');
is_deeply [error_page_problems($res)], [], 'the callback after the consent request expired: the login_id_invalid page';
is cred_row($lcred)->{consented_tenant}, undef, '... nothing recorded';

# ---- app-permission grants --------------------------------------------------------------------
sub ms_grant { api(POST => '/grants', { provider => 'microsoft', settings => { @_ } }) }
my $grants = count('grants');
my $r = ms_grant(credential_id => $cred, email_address => 'Ann.App@Contoso.example');
is $r->code, 201, 'POST /grants with the consented credential: 201' or diag $r->as_string;
my $g = $r->{json}{data} || {};
is $g->{provider}, 'microsoft', '... microsoft';
is $g->{email}, 'ann.app@contoso.example', '... the user, lowercased';
is $g->{provider_user_id}, microsoft_user_id('ann.app@contoso.example', $TID), "... provider_user_id: Graph's id of the user";
is $g->{grant_status}, 'valid', '... valid';
is_deeply $g->{scope}, ['https://graph.microsoft.com/.default'], '... scope .default';
my $gid = $g->{id} // '';
my @calls = grep { $_->{method} eq 'POST' && ($_->{params}{grant_type} // '') eq 'client_credentials' } @{ fake_log() };
is $calls[-1]{path}, "/microsoft/$TID/oauth2/v2.0/token", '... client credentials at the consented tenant';
is $calls[-1]{params}{client_id}, $CID, "... as the credential's app";
is $calls[-1]{params}{scope}, 'https://graph.microsoft.com/.default', '... scope .default';
ok scalar(grep { $_->{path} =~ m{\A/microsoft/graph/v1\.0/users/ann\.app(\@|%40)contoso\.example\z} } @{ fake_log() }),
    '... Graph /users/{email} asked';
my $row = grant_row($gid);
is $row->{credential_id}, $cred, 'the grant remembers its credential';
is $row->{refresh_token}, undef, '... no refresh token stored';
like $row->{access_token} // '', sealed_re(), '... the access token sealed';
is count('grants'), $grants + 1, 'one grant';
$r = ms_grant(credential_id => $cred, email_address => 'ann.app@contoso.example');
is $r->code, 200, 'the same user again: 200';
is $r->{json}{data}{id}, $gid, '... the same grant, re-authenticated';
ok scalar(grep { $_->{type} eq 'grant_reauthenticated' && index($_->{data}, $gid) >= 0 } db_rows('events')),
    '... grant_reauthenticated recorded';
my ($minted) = grep { $_->{provider} eq 'microsoft' && $_->{email} eq $CID } reverse fake_issued(kind => 'access');

# ---- refusals: the seed's events, nothing stored -------------------------------------------
my $NOROLES = 'msapp-noroles-' . lc secret_token('n');
my $ncred = ms_credential($NOROLES);
$b = browser();
$res = $b->get(consent_url(credential_id => $ncred));
$res = $b->get($res->header('Location') // '');
$res = $b->get($res->header('Location') // '');
is query_of($res->header('Location'))->{admin_consent}, 'true', 'consent for an app without the permission to read users';
my $fresh = ms_credential($CID, name => 'never consented');
my $badsecret = ms_credential($CID, name => 'wrong secret', secret => 'not-the-secret');
dbh()->do('UPDATE credentials SET consented_tenant = ? WHERE id = ?', undef, $TID, $badsecret);
my $wrong = ms_credential($CID, name => 'wrong tenant');
dbh()->do('UPDATE credentials SET consented_tenant = ? WHERE id = ?', undef, microsoft_tenant_id('elsewhere'), $wrong);
$grants = count('grants');
for my $c (
    ['an unknown user', { credential_id => $cred, email_address => 'nouser.x@contoso.example' }, 400, 45004, 'invalid_grant', qr/Request_ResourceNotFound/],
    ['a consent without User.Read.All', { credential_id => $ncred, email_address => 'bo@contoso.example' }, 400, 45002, 'oauth_failed', qr/Authorization_RequestDenied/],
    ['no consent yet', { credential_id => $fresh, email_address => 'bo@contoso.example' }, 400, 45002, 'oauth_failed', qr/admin consent/],
    ['the wrong tenant', { credential_id => $wrong, email_address => 'bo@contoso.example' }, 400, 45003, 'invalid_client', qr/AADSTS700016/],
    ['a wrong client secret', { credential_id => $badsecret, email_address => 'bo@contoso.example' }, 400, 45003, 'invalid_client', qr/AADSTS7000215/],
    ['an unknown credential', { credential_id => 'nope', email_address => 'bo@contoso.example' }, 400, 35010, 'credential_not_found', qr//],
    ["the google integration's credential", { credential_id => $gcred, email_address => 'bo@contoso.example' }, 400, 35010, 'credential_not_found', qr//],
    ['no email_address', { credential_id => $cred }, 400, 700, 'invalid_request_payload', qr/email_address/],
    ['an email_address that is none', { credential_id => $cred, email_address => 'bo' }, 400, 700, 'invalid_request_payload', qr/email_address/],
    ['an unknown setting', { credential_id => $cred, email_address => 'bo@contoso.example', x => 1 }, 400, 700, 'invalid_request_payload', qr/'x'/],
) {
    my ($name, $settings, $status, $code, $type, $why) = @$c;
    $r = ms_grant(%$settings);
    is $r->code, $status, "POST /grants, $name: $status";
    is $r->{json}{error}{event_code}, $code, "... $type ($code)";
    is $r->{json}{error}{type}, $type, "... $type";
    like $r->{json}{error}{message} // '', $why, '... with the reason';
}
is count('grants'), $grants, 'no refused grant stored anything';

# ---- access_token: the stored token, then minted again ------------------------------------
sub app_calls { scalar grep { $_->{method} eq 'POST' && ($_->{params}{grant_type} // '') eq 'client_credentials' } @{ fake_log() } }
sub refreshes { scalar grep { $_->{method} eq 'POST' && ($_->{params}{grant_type} // '') eq 'refresh_token' } @{ fake_log() } }
my ($calls0, $refreshes0) = (app_calls(), refreshes());
$r = api(POST => "/grants/$gid/access_token");
is $r->code, 200, 'POST /grants/{id}/access_token: 200' or diag $r->as_string;
is $r->{json}{data}{access_token}, $minted->{value}, '... the token of the grant';
is $r->{json}{data}{imap}{host}, 'outlook.office365.com', '... and the IMAP settings';
is app_calls(), $calls0, '... without asking the provider';
dbh()->do('UPDATE grants SET access_expires_at = ? WHERE id = ?', undef, time - 10, $gid);
$r = api(POST => "/grants/$gid/access_token");
is $r->code, 200, 'expired: 200' or diag $r->as_string;
my $new = $r->{json}{data}{access_token} // '';
isnt $new, $minted->{value}, '... a new token';
is app_calls(), $calls0 + 1, '... minted by client credentials once';
is refreshes(), $refreshes0, '... no refresh';
ok $r->{json}{data}{expires_at} > time + 3000, '... for about an hour';
$row = grant_row($gid);
ok $row->{access_expires_at} > time + 3000, '... its expiry stored';
is $row->{refresh_token}, undef, '... still no refresh token';
is $row->{refresh_lease_until}, 0, '... the lease given back';
is api(POST => "/grants/$gid/access_token")->{json}{data}{access_token}, $new, 'asked again: the stored new token';

# ---- ten callers at once for the expired token: one mint ------------------------------------
dbh()->do('UPDATE grants SET access_expires_at = ? WHERE id = ?', undef, 0, $gid);
my $calls1 = app_calls();
my $dir = File::Temp->newdir('consent-XXXXXX', DIR => var_dir(), CLEANUP => 1);
my @pids;
for my $w (1 .. 10) {
    my $pid = fork;
    BAIL_OUT("fork: $!") unless defined $pid;
    if (!$pid) {
        CnTest::ua()->conn_cache(undef);
        my $res = api(POST => "/grants/$gid/access_token");
        open my $fh, '>', "$dir/w$w" or POSIX::_exit(2);
        print $fh $res->code, ' ', ($res->{json}{data}{access_token} // ''), "\n";
        close $fh;
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
waitpid($_, 0) for @pids;
my (%codes, %tokens);
for my $w (1 .. 10) {
    open my $fh, '<', "$dir/w$w" or next;
    my ($code, $tok) = split ' ', scalar(<$fh>) // '';
    $codes{$code // 0}++;
    $tokens{$tok // ''}++;
}
is_deeply \%codes, { 200 => 10 }, 'ten concurrent callers of an expired app grant: ten 200s';
is scalar(keys %tokens), 1, '... all with one token';
is app_calls(), $calls1 + 1, '... minted once';

# ---- the admin withdraws the consent: the grant becomes invalid ---------------------------
ok fake_post('/_app/msconsent/revoke', client_id => $CID)->is_success, 'the admin withdraws the consent';
dbh()->do('UPDATE grants SET access_expires_at = ? WHERE id = ?', undef, 0, $gid);
$r = api(POST => "/grants/$gid/access_token");
is $r->code, 400, 'expired, consent withdrawn: 400';
is $r->{json}{error}{type}, 'grant_expired', '... grant_expired';
is grant_row($gid)->{grant_status}, 'invalid', '... the grant is invalid';
ok scalar(grep { $_->{type} eq 'grant_expired' && index($_->{data}, $gid) >= 0 } db_rows('events')),
    '... grant_expired recorded';

# ---- new credential data: the consent was for the old app ------------------------------------
$r = api(GET => "/integrations/microsoft/creds/$ncred");
ok !exists $r->{json}{data}{credential_data}, 'GET of a credential: no credential_data';
unlike $r->content, qr/\Q$NOROLES-secret\E/, '... and no secret anywhere';
isnt cred_row($ncred)->{consented_tenant}, undef, 'a consented credential';
$r = api(PATCH => "/integrations/microsoft/creds/$ncred", { name => 'renamed' });
is $r->code, 200, '... renamed: 200';
isnt cred_row($ncred)->{consented_tenant}, undef, '... keeps its consent';
$r = api(PATCH => "/integrations/microsoft/creds/$ncred",
         { credential_data => { client_id => 'msapp-other', client_secret => 'msapp-other-secret' } });
is $r->code, 200, '... given another app: 200';
is cred_row($ncred)->{consented_tenant}, undef, '... forgets the consent given to the old app';

# ---- nothing secret in the log ----------------------------------------------------------------
my $log = error_log_since($log_at);
like $log, qr/CN04020: admin consent of tenant \Q$TID\E recorded/, 'the consent is logged (CN04020)';
like $log, qr/CN04001: grant \Q$gid\E/, 'the refused mint is logged (CN04001)';
unlike $log, qr/\Q$CID-secret\E|not-the-secret/, 'no client secret in the error log';
unlike $log, qr/\Q$new\E|\Q$minted->{value}\E/, 'no access token in the error log';
unlike cred_row($cred)->{credential_data}, qr/secret/, 'the credential data sealed at rest';

done_testing();
