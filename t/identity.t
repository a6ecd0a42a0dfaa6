# A grant belongs to a provider identity (Google sub; Microsoft tid + oid),
# never to an email string: another account showing the same address gets
# a grant of its own (or nothing), never the victim's. Email addresses are
# taken only when the provider vouches for them. Against the fake, whose
# login_hint "who|email" is another account showing EMAIL.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;

reset_db();
is make_integration('google')->code, 201, 'google integration';
is make_integration('microsoft')->code, 201, 'microsoft integration (tenant common)';

sub row_of {
    my $id = shift // '';
    my ($row) = grep { $_->{id} eq $id } db_rows('grants');
    return $row || {};
}
sub grants_of_email { scalar grep { $_->{email} eq $_[0] } db_rows('grants') }
sub events_of {
    my ($type, $grant) = @_;
    return scalar grep { $_->{type} eq $type && index($_->{data}, $grant // 'none') >= 0 } db_rows('events');
}

# ---- Google: same address, another subject ----------------------------------------------
my $victim = hosted_flow(provider => 'google', login_hint => 'ann.victim@example.com', state => 'victim');
is $victim->result->{success}, 'true', 'the victim signs in with Google';
my $g = $victim->grant_id;
my $before = row_of($g);
is $before->{subject}, google_user_id('ann.victim@example.com'), 'the grant is keyed by the id token\'s sub';

my $attacker = hosted_flow(provider => 'google', login_hint => 'mallory|ANN.Victim@example.com',
                           state => 'attacker');
is $attacker->result->{success}, 'true', 'another Google account showing the same address (other case) signs in';
isnt $attacker->grant_id, $g, '... it does not get the victim\'s grant id';
is $attacker->result->{email}, 'ann.victim@example.com', '... its own grant shows the same address';
my $after = row_of($g);
is $after->{refresh_token}, $before->{refresh_token}, 'the victim\'s refresh token is untouched';
is $after->{access_token}, $before->{access_token}, 'the victim\'s access token is untouched';
is $after->{revision}, $before->{revision}, 'the victim\'s grant did not change at all';
is events_of(grant_reauthenticated => $g), 0, 'no grant_reauthenticated for the victim\'s grant';
is row_of($attacker->grant_id)->{subject}, google_user_id('ANN.Victim@example.com', 'mallory'),
    'the other account\'s grant has its own subject';
is grants_of_email('ann.victim@example.com'), 2, 'two grants, one per identity, with the same address';

# The victim again: the victim's grant.
my $again = hosted_flow(provider => 'google', login_hint => 'Ann.Victim@example.com', state => 'again');
is $again->grant_id, $g, 'the victim\'s next sign-in re-authenticates the victim\'s grant';

# grant_id re-authentication by another identity: refused, nothing changes.
$before = row_of($g);
my $re = hosted_flow(provider => 'google', login_hint => 'trudy|ann.victim@example.com', grant_id => $g,
                     state => 're');
is_deeply $re->result, { success => 'false', error => 'reauth_email_invalid', state => 're', provider => 'google' },
    'grant_id re-auth signed in by another subject with the same address: reauth_email_invalid';
is row_of($g)->{refresh_token}, $before->{refresh_token}, '... the grant keeps its tokens';
is grants_of_email('ann.victim@example.com'), 2, '... and no grant is added';

# ---- Google: an address Google has not verified ---------------------------------------------
my $n = scalar db_rows('grants');
my $unv = hosted_flow(provider => 'google', login_hint => 'unverified.dan@example.com', state => 'unv');
is_deeply $unv->result, { success => 'false', error => 'oauth_provider_error', state => 'unv', provider => 'google' },
    'email_verified false (id token and userinfo): the sign-in fails';
is scalar(db_rows('grants')), $n, '... no grant';
like error_log(), qr/CN00202: hosted google login failed: oauth_provider_error \(45010\): Google has not verified/,
    '... the error log says why';

# ---- Microsoft: the nOAuth pattern ---------------------------------------------------------
my $carol = hosted_flow(provider => 'microsoft', login_hint => 'carol@contoso.example', state => 'carol');
is $carol->result->{success}, 'true', 'Carol signs in with Microsoft (email with xms_edov)';
my $m = $carol->grant_id;
is $carol->result->{email}, 'carol@contoso.example', '... her verified address';
is row_of($m)->{subject}, microsoft_tenant_id() . '/' . microsoft_user_id('carol@contoso.example'),
    '... the grant is keyed by tid/oid';
$before = row_of($m);
my $at = scalar @{ fake_log() };
my $evil = hosted_flow(provider => 'microsoft', login_hint => 'evilcorp|carol@contoso.example', state => 'evil');
is $evil->result->{success}, 'true', 'a user of another tenant whose admin set email/mail to Carol\'s address signs in';
isnt $evil->grant_id, $m, '... not into Carol\'s grant';
is $evil->result->{email}, 'carol@evilcorp.onmicrosoft.example',
    '... the unverified email claim and mail are ignored: the userPrincipalName from Graph /me';
my @me = grep { $_->{path} eq '/microsoft/graph/v1.0/me' } @{ fake_log() }[$at .. $#{ fake_log() }];
is scalar(@me), 1, '... which was asked for';
is row_of($m)->{refresh_token}, $before->{refresh_token}, 'Carol\'s grant is untouched';
is row_of($evil->grant_id)->{subject},
    microsoft_tenant_id('evilcorp') . '/' . microsoft_user_id('carol@contoso.example', 'evilcorp'),
    'the other tenant\'s user has a grant keyed by its own tid/oid';

# Unverified email claim, own account: the userPrincipalName.
my $erin = hosted_flow(provider => 'microsoft', login_hint => 'unverified.erin@contoso.example', state => 'erin');
is $erin->result->{success}, 'true', 'an email claim without xms_edov: still a sign-in';
is $erin->result->{email}, 'unverified.erin@contoso.example', '... with the userPrincipalName';

# No tenant in the id token: no identity.
$n = scalar db_rows('grants');
my $notid = hosted_flow(provider => 'microsoft', login_hint => 'notid.fay@contoso.example', state => 'nt');
is $notid->result->{error}, 'oauth_provider_error', 'an id token without tid: oauth_provider_error';
is scalar(db_rows('grants')), $n, '... no grant';

# A grant of schema 4 has the bare oid as subject: the same identity finds it
# and the key is upgraded.
dbh()->do('UPDATE grants SET subject = ? WHERE id = ?', undef, microsoft_user_id('carol@contoso.example'), $m);
my $carol2 = hosted_flow(provider => 'microsoft', login_hint => 'Carol@Contoso.example', state => 'c2');
is $carol2->grant_id, $m, 'a grant keyed by the oid alone (before schema 5) is re-authenticated by its user';
is row_of($m)->{subject}, microsoft_tenant_id() . '/' . microsoft_user_id('carol@contoso.example'),
    '... and its key becomes tid/oid';

# ---- native authentication keys the same way ------------------------------------------------
my $tok = secret_token('rt-native-id');
fake_seed(google => $tok, 'oscar|ann.victim@example.com');
my $r = api(POST => '/grants', { provider => 'google', settings => { refresh_token => $tok } });
is $r->code, 201, 'a refresh token of another account showing the victim\'s address: a new grant (201)';
isnt $r->{json}{data}{id}, $g, '... not the victim\'s';
my $tok2 = secret_token('rt-native-id');
fake_seed(google => $tok2, 'Ann.Victim@example.com');
$r = api(POST => '/grants', { provider => 'google', settings => { refresh_token => $tok2 } });
is $r->code, 200, 'a refresh token of the victim\'s own account: 200';
is $r->{json}{data}{id}, $g, '... re-authenticates the victim\'s grant';

# Grants show provider_user_id, never the subject key itself.
$r = api(GET => "/grants/$m");
ok !exists $r->{json}{data}{subject}, 'the grant object has no subject field';
is $r->{json}{data}{provider_user_id}, microsoft_user_id('carol@contoso.example'), 'provider_user_id: the oid';

done_testing;
