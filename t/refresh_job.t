# The refresh job of the running server (ConnectRefreshInterval 2,
# ConnectRefreshUnusedDays 30 in t/conf/extra.conf.in): mod_watchdog's
# thread takes the "refresh" lease in the database and refreshes at the
# provider the tokens of valid OAuth grants unused (no refresh, no sign-in)
# for 30 days — their refreshed_at aged here in the database, no sleeping for
# a month — within a few seconds and without a restart. A grant used lately
# is left alone; a refresh token the provider refuses makes the grant invalid
# (grant_expired); a provider failing puts the grant in its cool-down. On
# SQLite and PostgreSQL.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Time::HiRes ();
use CnTest qw(:all);
use CnTest::Flow;

reset_db();
my $at = error_log_offset();
is make_integration('google')->code, 201, 'google integration';

my %g;
for my $who (qw(ann.unused dan.lately rgone.unused r500.unused)) {
    my $f = hosted_flow(provider => 'google', login_hint => "$who\@example.com");
    is $f->result->{success}, 'true', "a grant of $who" or diag $f->{error};
    $g{$who} = $f->grant_id;
}
sub row { my $id = shift; (grep { $_->{id} eq $id } db_rows('grants'))[0] }
sub access_issued { scalar fake_issued(email => "$_[0]\@example.com", kind => 'access') }

my $now = time;
ok row($g{'ann.unused'})->{refreshed_at} >= $now - 60, 'a new grant counts as refreshed at its sign-in';
my $dbh = dbh();
$dbh->do('UPDATE grants SET refreshed_at = ? WHERE id = ?', undef, $now - 31 * 86400, $g{$_})
    for qw(ann.unused rgone.unused r500.unused);
$dbh->do('UPDATE grants SET refreshed_at = ? WHERE id = ?', undef, $now - 29 * 86400, $g{'dan.lately'});

# The job runs every 2 s: wait for it (up to 20 s).
my $deadline = time + 20;
sub done {
    row($g{'ann.unused'})->{refreshed_at} >= $now
        && row($g{'rgone.unused'})->{grant_status} eq 'invalid'
        && row($g{'r500.unused'})->{refresh_failures} >= 1;
}
Time::HiRes::sleep(0.25) until done() || time > $deadline;

my $ann = row($g{'ann.unused'});
ok $ann->{refreshed_at} >= $now, 'unused for 31 days: refreshed' or diag explain $ann;
is access_issued('ann.unused'), 2, '... one refresh at the provider (a second access token issued)';
is $ann->{grant_status}, 'valid', '... the grant stays valid';
is $ann->{refresh_lease_until}, 0, '... its lease given back';
ok $ann->{access_expires_at} > time + 3000, '... the new access token stored, an hour ahead';
my ($latest) = reverse fake_issued(email => 'ann.unused@example.com', kind => 'access');
my $r = api(POST => "/grants/$g{'ann.unused'}/access_token");
is $r->{json}{data}{access_token}, $latest->{value}, '... and the one POST /grants/{id}/access_token answers';

my $dan = row($g{'dan.lately'});
ok $dan->{refreshed_at} < $now - 28 * 86400, 'used 29 days ago: left alone';
is access_issued('dan.lately'), 1, '... no refresh at the provider';

my $gone = row($g{'rgone.unused'});
is $gone->{grant_status}, 'invalid', 'a refresh token the provider refuses: the grant is invalid';
my @ev = grep { $_->{type} eq 'grant_expired' && index($_->{data}, $g{'rgone.unused'}) >= 0 }
    db_rows('events');
is scalar(@ev), 1, '... the event grant_expired recorded once';

my $cy = row($g{'r500.unused'});
ok $cy->{refresh_failures} >= 1, 'a provider failing: the failure counted';
ok $cy->{refresh_retry_at} > $now, '... the grant cooling down';
is $cy->{grant_status}, 'valid', '... and still valid';
is $cy->{refresh_lease_until}, 0, '... its lease given back';

my $lease = $dbh->selectrow_hashref(q{SELECT holder, expires_at FROM job_leases WHERE name = 'refresh'});
ok $lease, 'the refresh lease has its row';
like $lease->{holder} // '', qr/\A[^:\s]+:\d+\z/, '... held by host:pid';

my $log = error_log_since($at);
like $log, qr/\[connect:notice\].*CN02210: refresh job: [1-9]\d* grants unused for 30 days refreshed/,
    'the run that refreshed logs its counts (CN02210, notice)';
like $log, qr/CN02210: refresh job: \d+ grants unused for 30 days refreshed, [1-9]\d* invalid/,
    '... the invalid grant counted';
unlike $log, qr/CN02211|CN02212|CN02230/, 'no job failure, no lease failure';

# Leave nothing for the job to do in later tests of the pass.
$dbh->do('UPDATE grants SET refreshed_at = ?', undef, time);

done_testing;
