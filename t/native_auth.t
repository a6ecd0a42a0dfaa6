# Native authentication: POST /grants with a refresh token the application
# already holds. The module proves it with a refresh at the provider (the
# fake) before storing anything.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;

reset_db();
my $GMAIL = 'https://www.googleapis.com/auth/gmail.readonly';
is make_integration('google', scope => [$GMAIL])->code, 201, 'google integration';
is make_integration('microsoft')->code, 201, 'microsoft integration';

my @seed = seeded_tokens();
my ($g_plain) = grep { $_->[0] eq 'google' && $_->[2] !~ /[A-Z]/ } @seed;
my ($g_mixed) = grep { $_->[0] eq 'google' && $_->[2] =~ /[A-Z]/ } @seed;
my ($m_plain) = grep { $_->[0] eq 'microsoft' && $_->[2] !~ /[A-Z]/ } @seed;
ok $g_plain && $g_mixed && $m_plain, 'the seed file has google and microsoft refresh tokens'
    or BAIL_OUT('no seeded refresh tokens: is -cn_fakeseed set?');
sub count_grants { scalar(my @g = db_rows('grants')) }
# The token requests with refresh token TOKEN the fake received since this
# test began (other tests of the pass use the seeded tokens too).
my $MARK = scalar @{ fake_log() };
sub token_calls {
    my $token = shift;
    my @log = @{ fake_log() };
    return grep { $_->{method} eq 'POST' && $_->{path} =~ m{/token\z}
                  && ($_->{params}{refresh_token} // '') eq $token } @log[$MARK .. $#log];
}

# ---- a seeded Google refresh token ----------------------------------------------
my $t0 = time;
my $r = api(POST => '/grants', { provider => 'google', settings => { refresh_token => $g_plain->[1] } });
is $r->code, 201, 'POST /grants with a refresh token the provider knows: 201' or diag $r->as_string;
is $r->{json}{success}, JSON::true, 'success';
my $g = $r->{json}{data} || {};
is_deeply [sort keys %$g], [grant_keys()], 'the grant, no token';
is $g->{provider}, 'google', 'provider';
is $g->{email}, $g_plain->[2], 'email: the provider\'s';
is $g->{grant_status}, 'valid', 'valid';
is_deeply $g->{scope}, [$GMAIL], 'scope: the integration\'s by default';
is $g->{provider_user_id}, google_user_id($g_plain->[2]), 'provider_user_id';
is $g->{ip}, '127.0.0.1', 'ip';
is $g->{user_agent}, 'cntest/1', 'user_agent: the caller\'s';
is $g->{state}, undef, 'no state';
ok $g->{created_at} >= $t0, 'created_at';
ok index($r->content, $g_plain->[1]) < 0, 'the refresh token is not in the answer';
my @calls = token_calls($g_plain->[1]);
is scalar(@calls), 1, 'one refresh at the provider';
is $calls[0] && $calls[0]{path}, '/google/token', '... at Google\'s token endpoint';
is $calls[0] && $calls[0]{params}{grant_type}, 'refresh_token', '... grant_type=refresh_token';
is $calls[0] && $calls[0]{params}{client_id}, 'test-google-client', '... as the integration\'s client';
my $first = $g->{id};
my ($row) = grep { $_->{id} eq ($first // '') } db_rows('grants');
like $row->{refresh_token} // '', qr/\Acn1\.[0-9a-f]{8}\./, 'refresh token sealed in the row';
like $row->{access_token} // '', qr/\Acn1\.[0-9a-f]{8}\./, 'access token sealed in the row';
$r = api(GET => "/grants/$first");
is $r->{json}{data}{email}, $g_plain->[2], 'GET /grants/{id} reads it';

# The same token again: the same mailbox, the same grant.
$r = api(POST => '/grants', { provider => 'google', settings => { refresh_token => $g_plain->[1] }, state => 'again' });
is $r->code, 200, 'the same mailbox again: 200 (re-authenticated)';
is $r->{json}{data}{id}, $first, '... the same grant';
is $r->{json}{data}{state}, 'again', '... with the new state';
is count_grants(), 1, 'one grant';

# The revocation on delete uses the token we gave (Google does not rotate it).
$r = api(DELETE => "/grants/$first");
is $r->code, 200, 'DELETE it';
my @rv = grep { $_->{path} eq '/google/revoke' } @{ fake_log() };
is $rv[-1] && $rv[-1]{params}{token}, $g_plain->[1], '... revoked with the refresh token given';

# Mixed case, explicit scope and state.
$r = api(POST => '/grants', { provider => 'google', settings => { refresh_token => $g_mixed->[1] },
                              scope => ['openid', 'email'], state => 'native-state' });
is $r->code, 201, 'a second mailbox: 201';
is $r->{json}{data}{email}, lc $g_mixed->[2], 'its address lowercased';
is_deeply $r->{json}{data}{scope}, ['openid', 'email'], 'the scope given';
is $r->{json}{data}{state}, 'native-state', 'the state given';

# ---- Microsoft --------------------------------------------------------------------------
$r = api(POST => '/grants', { provider => 'microsoft', settings => { refresh_token => $m_plain->[1] } });
is $r->code, 201, 'microsoft refresh token: 201' or diag $r->as_string;
is $r->{json}{data}{provider}, 'microsoft', 'provider';
is $r->{json}{data}{email}, $m_plain->[2], 'email';
is $r->{json}{data}{provider_user_id}, microsoft_user_id($m_plain->[2]), 'provider_user_id';
@calls = token_calls($m_plain->[1]);
is $calls[0] && $calls[0]{path}, '/microsoft/common/oauth2/v2.0/token', 'refreshed at the common tenant\'s token endpoint';

# ---- a token registered with the fake now ------------------------------------------------------
my $fresh = secret_token('rt-native');
fake_seed(google => $fresh, 'Fresh.Native@example.org');
$r = api(POST => '/grants', { provider => 'google', settings => { refresh_token => $fresh } });
is $r->code, 201, 'a token the fake just learned: 201';
is $r->{json}{data}{email}, 'fresh.native@example.org', 'its mailbox';

# ---- a refresh token the fake issued in a hosted flow -----------------------------------------------
is make_integration('google', app => 'two')->code, 201, 'app two: google integration';
my $f = hosted_flow(provider => 'google', login_hint => 'flow.user@example.com');
is $f->result->{success}, 'true', 'a hosted flow of app one';
my ($issued) = fake_issued(email => 'flow.user@example.com', kind => 'refresh');
ok $issued, 'the fake issued its refresh token';
$r = api(POST => '/grants', { provider => 'google', settings => { refresh_token => $issued->{value} } }, app => 'two');
is $r->code, 201, 'app two brings that refresh token: 201';
is $r->{json}{data}{email}, 'flow.user@example.com', '... the same mailbox';
isnt $r->{json}{data}{id}, $f->grant_id, '... in a grant of app two';
$r = api(POST => '/grants', { provider => 'google', settings => { refresh_token => $issued->{value} } });
is $r->code, 200, 'app one brings it: 200';
is $r->{json}{data}{id}, $f->grant_id, '... re-authenticates its grant from the flow';

# ---- refusals ---------------------------------------------------------------------------------------
my $n = count_grants();
my $unknown = secret_token('rt-unknown');
for my $c (
    ['an unknown refresh token', { provider => 'google', settings => { refresh_token => $unknown } }, 400, 'refresh_token_invalid', 25008],
    ['an unknown microsoft token', { provider => 'microsoft', settings => { refresh_token => $unknown } }, 400, 'refresh_token_invalid', 25008],
    ['another provider\'s token', { provider => 'microsoft', settings => { refresh_token => $g_mixed->[1] } }, 400, 'refresh_token_invalid', 25008],
    ['no refresh_token', { provider => 'google', settings => {} }, 400, 'refresh_token_required', 25011],
    ['no settings', { provider => 'google' }, 400, 'refresh_token_required', 25011],
    ['an empty refresh_token', { provider => 'google', settings => { refresh_token => '' } }, 400, 'refresh_token_required', 25011],
    ['no provider', { settings => { refresh_token => $g_plain->[1] } }, 400, 'provider_required', 25010],
    ['an unknown provider', { provider => 'yahoo', settings => { refresh_token => 'x' } }, 400, 'provider_not_supported', 31005],
    ['provider imap with a refresh token', { provider => 'imap', settings => { refresh_token => 'x' } }, 400, 'invalid_request_payload', 700],
    ['an unknown field', { provider => 'google', settings => { refresh_token => 'x' }, email => 'a@b.c' }, 400, 'invalid_request_payload', 700],
    ['refresh_token not a string', { provider => 'google', settings => { refresh_token => 5 } }, 400, 'invalid_request_payload', 700],
) {
    my ($name, $body, $status, $type, $code) = @$c;
    $r = api(POST => '/grants', $body);
    is $r->code, $status, "$name: $status";
    is $r->{json}{error}{type}, $type, "... $type";
    is $r->{json}{error}{event_code}, $code, "... $code";
}
ok scalar(token_calls($unknown)) >= 1, 'the unknown token was tried at the provider';
$r = api(POST => '/grants', { provider => 'microsoft', settings => { refresh_token => $m_plain->[1] } }, app => 'two');
is $r->code, 404, 'an application without that integration: 404';
is $r->{json}{error}{event_code}, 35004, '... integration_not_found';
$r = api(POST => '/grants', { provider => 'google', settings => { refresh_token => $g_plain->[1] } }, app => undef);
is $r->code, 401, 'no credentials: 401';
is count_grants(), $n, 'no refused request stored a grant';

my $log = error_log();
is_deeply [grep { index($log, $_) >= 0 } $unknown, $fresh, map { $_->[1] } @seed], [],
    'no refresh token in the error log';

done_testing;
