# The purge job of the running server (ConnectPurgeInterval 2 in
# t/conf/extra.conf.in): mod_watchdog's thread takes the "purge" lease in
# the database and deletes what expired (login requests, codes, tokens) and
# events older than ConnectEventRetention (30 days), within a few seconds and
# without a restart; what is still good stays. On SQLite and PostgreSQL.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Time::HiRes ();
use CnTest qw(:all);

my $at = error_log_offset();
my $now = time;
my $dbh = dbh();
my $tag = "jobs-$$-$now";

my $code = $dbh->prepare('INSERT INTO oauth_codes (digest, app_id, grant_id, redirect_uri, scope, offline,
    token_lifetime, auth_time, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
$code->execute("$tag-code-$_->[0]", 'app', 'g1', 'https://app.example/cb', 'openid', 0, 3600, $now, $_->[1], $now)
    for ['old', $now - 1], ['new', $now + 600];
my $tok = $dbh->prepare('INSERT INTO oauth_tokens (digest, kind, app_id, grant_id, family, scope, lifetime,
    auth_time, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
$tok->execute("$tag-tok-$_->[0]", $_->[1], 'app', 'g1', 'f1', 'openid', 3600, $now, $_->[2], $now)
    for ['old-access', 'access', $now - 10], ['old-refresh', 'refresh', $now - 10],
        ['live-access', 'access', $now + 3600], ['live-refresh', 'refresh', $now + 86400];
my $login = $dbh->prepare('INSERT INTO login_requests (id_digest, app_id, integration_id, provider, request,
    expires_at, created_at, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
$login->execute("$tag-login-$_->[0]", 'app', 'i1', 'google', '{}', $_->[1], $now, 'hosted')
    for ['old', $now - 5], ['new', $now + 600];
my $event = $dbh->prepare('INSERT INTO events (log_id, app_id, code, type, level, message, data, time)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
$event->execute("$tag-ev-$_->[0]", 'app-one', 25012, 'grant_created', 'info', 'Grant created', '{}', $_->[1])
    for ['old', $now - 31 * 86400], ['recent', $now - 29 * 86400], ['now', $now];

sub ours {
    my ($table, $key) = @_;
    return $dbh->selectcol_arrayref("SELECT $key FROM $table WHERE $key LIKE ? ORDER BY $key", undef, "$tag-%");
}
sub all_ours {
    return [map { @{ ours(@$_) } } [oauth_codes => 'digest'], [oauth_tokens => 'digest'],
                                   [login_requests => 'id_digest'], [events => 'log_id']];
}
is scalar(@{ all_ours() }), 11, 'eleven rows inserted, five of them due for the purge';

# The job runs every 2 s: wait for it (up to 15 s).
my $deadline = time + 15;
while (time < $deadline && grep { /-old/ } @{ all_ours() }) {
    Time::HiRes::sleep(0.25);
}
is_deeply ours(oauth_codes => 'digest'), ["$tag-code-new"], 'the expired code is gone, the other stays';
is_deeply ours(oauth_tokens => 'digest'), ["$tag-tok-live-access", "$tag-tok-live-refresh"],
    'the expired tokens are gone, the live ones stay';
is_deeply ours(login_requests => 'id_digest'), ["$tag-login-new"], 'the expired login request is gone';
is_deeply ours(events => 'log_id'), ["$tag-ev-now", "$tag-ev-recent"],
    'the event older than 30 days is gone, the younger ones stay';

my $lease = $dbh->selectrow_hashref(q{SELECT holder, expires_at FROM job_leases WHERE name = 'purge'});
ok $lease, 'the purge lease has its row';
like $lease->{holder} // '', qr/\A[^:\s]+:\d+\z/, '... held by host:pid';
ok(($lease->{expires_at} // 0) > $now - 5 && $lease->{expires_at} <= time + 3,
   '... for one interval (2 s) from its last run');

# The run that deleted them said so (counts of one run, or of several when
# the rows went over two runs).
my $log = '';
$deadline = time + 5;
until (($log = error_log_since($at)) =~ /CN01502: purge: [1-9]/ || time > $deadline) {
    Time::HiRes::sleep(0.25);
}
like $log, qr/\[connect:notice\].*CN01502: purge: \d+ expired login requests, \d+ codes, \d+ tokens and \d+ events older than 30 days deleted/,
    'the purge logs what it deleted (CN01502, notice)';
unlike $log, qr/CN01501|CN01510/, 'no purge failed, no lease failed';

done_testing;
