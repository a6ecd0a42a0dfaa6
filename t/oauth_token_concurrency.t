# POST /token under concurrent callers: exchanges that arrive together in
# one child share one transaction on SQLite (the group commit) and each still
# gets its own answer. Every code presented twice at once is spent once: one
# caller gets tokens, the other invalid_grant, and that replay revokes what
# the first got. Refresh tokens rotated at once each rotate once. The group
# commit's counters (connect_database_transactions_total and
# connect_database_transaction_works_total) count every exchange on SQLite,
# and none on PostgreSQL, whose transactions run side by side.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use Time::HiRes ();
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::OAuth;

reset_db();
my $RU = app_redirect_uri('one');
is make_integration('google')->code, 201, 'google integration';
my ($ID, $SECRET) = app_creds('one');

sub counter {
    my $name = shift;
    my $res = CnTest::ua()->request(HTTP::Request->new(GET => base_url() . '/metrics'));
    return $res->content =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
}

# Each of JOBS (code refs answering an HTTP::Response) in a child of its own,
# all released at the same instant; their answers as [code, json].
sub at_once {
    my @jobs = map { my $job = $_; sub { my $res = $job->(); $res->code . "\n" . $res->content } } @_;
    return map {
        my ($code, $body) = split /\n/, $_ // "0\n", 2;
        [$code, json_decode($body // '')];
    } concurrently(\@jobs, at => Time::HiRes::time() + 1.5);
}

my $sqlite = db_driver() ne 'pgsql';
my $tx0 = counter('connect_database_transactions_total');
my $works0 = counter('connect_database_transaction_works_total');
ok defined $tx0 && defined $works0, 'the group commit\'s counters are in the metrics';

# ---- twelve codes, each presented twice at once ---------------------------------------------
my @codes = map {
    scalar app_code(access_type => 'offline', login_hint => "twice$_\@example.com")
} 1 .. 12;
my @answers = at_once(map {
    my $code = $_;
    (sub { token(grant_type => 'authorization_code', code => $code, redirect_uri => $RU, _basic => 'one') }) x 2
} @codes);
my ($spent_once, $winners) = (0, 0);
for my $i (0 .. $#codes) {
    my ($a, $b) = @answers[2 * $i, 2 * $i + 1];
    my @ok = grep { $_->[0] == 200 } $a, $b;
    my @refused = grep { $_->[0] == 400 && ($_->[1]{error} // '') eq 'invalid_grant' } $a, $b;
    $spent_once++ if @ok == 1 && @refused == 1;
    next unless @ok == 1;
    # The replay revoked the family: the winner's tokens no longer work.
    $winners++ if grant_me($ok[0][1]{access_token})->code == 401
               && token(grant_type => 'refresh_token', refresh_token => $ok[0][1]{refresh_token},
                        _basic => 'one')->code == 400;
}
is $spent_once, 12, 'twelve codes each presented twice at once: one 200 and one invalid_grant each';
is $winners, 12, '... and each replay revoked the tokens the other caller got';
is scalar(grep { my $r = $_; grep { $r->{family} eq token_digest($_) } @codes } db_rows('oauth_tokens')), 0,
    '... none of their tokens is left in the store';
is scalar(grep { $_->{used_at} } db_rows('oauth_codes')), 12, '... and every code is spent';

# ---- ten refresh tokens rotated at once ----------------------------------------------------
my @refresh = map {
    my $code = app_code(access_type => 'offline', login_hint => "rotate$_\@example.com");
    token(grant_type => 'authorization_code', code => $code, redirect_uri => $RU, _basic => 'one')->{json}{refresh_token}
} 1 .. 10;
is scalar(grep { defined } @refresh), 10, 'ten refresh tokens';
@answers = at_once(map {
    my $rt = $_;
    sub { token(grant_type => 'refresh_token', refresh_token => $rt, _basic => 'one') }
} @refresh);
is scalar(grep { $_->[0] == 200 && $_->[1]{access_token} && $_->[1]{refresh_token} } @answers), 10,
    'ten refreshes at once: ten answers with new tokens';
my %new = map { ($_->[1]{refresh_token} // '') => 1 } @answers;
is scalar(keys %new), 10, '... each its own refresh token';
is scalar(grep { grant_me($_->[1]{access_token} // 'x')->code == 200 } @answers), 10,
    '... and its own access token, which works';
my %digest = map { token_digest($_) => 1 } @refresh;
is scalar(grep { $digest{ $_->{digest} } && $_->{rotated_at} } db_rows('oauth_tokens')), 10,
    '... every presented refresh token marked rotated';

# ---- the group commit's counters -------------------------------------------------------------
# Every POST /token that got past its parameters is one work: 24 codes
# presented, 12 revoked refresh tokens tried, 10 codes, 10 refreshes.
my $tx = counter('connect_database_transactions_total') - $tx0;
my $works = counter('connect_database_transaction_works_total') - $works0;
if ($sqlite) {
    is $works, 56, 'SQLite: every exchange ran in a transaction of the group commit';
    ok $tx >= 1 && $tx <= $works, "... in $tx transaction(s)";
}
else {
    is $works, 0, 'PostgreSQL: no group commit (its transactions run side by side)';
    is $tx, 0, '... no transaction counted';
}

done_testing();
