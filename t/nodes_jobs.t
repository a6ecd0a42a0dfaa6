# A node killed mid-job: two nodes (t/lib/CnTest/Node.pm) on one database
# run the purge every second under one lease (ConnectJobLease 5: a job's
# lease lasts 5 s while it runs); it deletes one row per statement
# (ConnectPurgeBatch 1), so that a purge of thousands of expired login
# requests takes a while. The node seen purging them is killed with SIGKILL:
# its lease stays, nobody purges until it runs out, then the other node takes
# the job (its own CN02310 line) and finishes it. Every job runs on one node
# at a time. In the pgsql pass on PostgreSQL, in the others on one SQLite file.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Time::HiRes ();
use CnTest qw(:all);
use CnTest::Node;

plan skip_all => nodes_missing() if nodes_missing();

my $db = cluster_db('cn_jobs');
my $extra = "ConnectPurgeInterval 1\nConnectJobLease 5\nConnectPurgeBatch 1";
my $na = CnTest::Node->new(name => 'a', db => $db, cache => cache_spec('redis'), extra => $extra);
my $nb = CnTest::Node->new(name => 'b', db => $db, cache => cache_spec('redis'), extra => $extra,
                           base_url => $na->base_url);
ok $na->start, 'node A runs' or diag $na->output;
ok $nb->start, 'node B runs' or diag $nb->output;
like $na->error_log, qr/CN02312: jobs hold their lease up to 5 s while they run; the purge deletes 1 rows per statement/,
    'node A: leases of 5 s, one row a statement';

my $dbh = $db->dbh;
sub count { $dbh->selectrow_array(q{SELECT count(*) FROM login_requests WHERE id_digest LIKE 'kill-%'}) }
sub lease { $dbh->selectrow_hashref(q{SELECT holder, expires_at FROM job_leases WHERE name = 'purge'}) || {} }
sub node_of {
    my $holder = shift // '';
    my ($pid) = $holder =~ /:(\d+)\z/ or return undef;
    for my $node ($na, $nb) {
        return $node if grep { $_ == $pid } $node->pids;
    }
    return undef;
}

# Thousands of expired login requests, committed at once.
my $n = db_driver() eq 'pgsql' ? 6000 : 20000;
my $now = time;
my $cols = 'id_digest, app_id, integration_id, provider, request, expires_at, created_at, kind';
my $vals = "'app', 'i1', 'google', '{}', $now - 5, $now, 'hosted'";
if (db_driver() eq 'pgsql') {
    $dbh->do("INSERT INTO login_requests ($cols) SELECT 'kill-' || g, $vals FROM generate_series(1, $n) g");
}
else {
    $dbh->do("WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < $n)
              INSERT INTO login_requests ($cols) SELECT 'kill-' || g, $vals FROM s");
}
is count(), $n, "$n expired login requests";

# The node that purges them, caught at it.
my ($victim, $holder, $left);
my $deadline = time + 30;
while (time < $deadline) {
    my $c = count();
    if ($c < $n) {
        $holder = lease()->{holder};
        $victim = node_of($holder);
        last;
    }
    Time::HiRes::sleep(0.01);
}
ok $victim, 'a node purges them, under the lease' or diag "lease: " . ($holder // 'none');
BAIL_OUT('no node purges') unless $victim;
my $survivor = $victim == $na ? $nb : $na;
ok $victim->kill9, "node $victim->{name} killed with SIGKILL mid-job";
my $killed_at = time;
# A statement the dead node had sent may still finish in PostgreSQL's
# backend: the count once it has settled.
$left = count();
for (my $still = 0; $still < 5; ) {
    Time::HiRes::sleep(0.1);
    my $c = count();
    $still = $c == $left ? $still + 1 : 0;
    $left = $c;
}
ok $left > 0 && $left < $n, "it had deleted some ($n -> $left), not all";
my $l = lease();
is $l->{holder}, $holder, 'the lease still names the dead node';
ok $l->{expires_at} >= $killed_at, '... and runs until ' . ($l->{expires_at} - $killed_at) . ' s after the kill';
ok $l->{expires_at} <= $killed_at + 6, '... at most ConnectJobLease (5 s) from when it was taken';

# While it runs, nobody purges.
my $at_s = $survivor->error_log_offset;
Time::HiRes::sleep(0.1) while Time::HiRes::time() < $l->{expires_at} - 0.3;
is count(), $left, 'no node purges while the dead node\'s lease runs';
unlike $survivor->error_log_since($at_s), qr/CN02310/, '... the other node does not take it';

# Then the other node takes the job over and finishes it.
$deadline = time + 60;
Time::HiRes::sleep(0.2) while count() > 0 && time < $deadline;
is count(), 0, "node $survivor->{name} purged the rest after the lease ran out";
my $after = lease();
is node_of($after->{holder}), $survivor, '... under the lease, now its own';
my ($until) = $survivor->error_log_since($at_s) =~ /CN02310: purge: lease taken as \Q$after->{holder}\E until (\d+)/;
ok $until, '... logged as taken (CN02310)';
ok $until && $until - 5 >= $l->{expires_at}, '... no earlier than the dead node\'s lease ran out';
ok $survivor->alive, "node $survivor->{name} still runs";

ok $survivor->stop, 'the surviving node stops';
done_testing;
