# 200 hosted flows at once (20 browsers in parallel, 10 mailboxes each, Google
# and Microsoft): every one completes, each mailbox gets its own grant, and
# the server answers no request with a 5xx. Then one mailbox signs in from 20
# browsers at once: one grant, created once and re-authenticated 19 times.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Time::HiRes ();
use CnTest qw(:all);
use CnTest::Flow;

my $WORKERS = 20;
my $PER_WORKER = 10;
my $TOTAL = $WORKERS * $PER_WORKER;

reset_db();
is make_integration('google')->code, 201, 'google integration';
is make_integration('microsoft')->code, 201, 'microsoft integration';

my $log_at = error_log_offset();
my $access_at = access_log_offset();
my $t0 = Time::HiRes::time();

# Each worker a browser of its own (a forked child), its flows one after another.
my @answers = concurrently([map { my $w = $_; sub {
    join '', map {
        my $i = $_;
        my $provider = ($w + $i) % 2 ? 'google' : 'microsoft';
        my $email = "conc.w$w.n$i\@example.com";
        my $f = eval { hosted_flow(provider => $provider, login_hint => $email, state => "w$w-$i") };
        my %row = (email => $email, provider => $provider, error => $@ || ($f && $f->{error}),
                   result => $f ? $f->result : {},
                   statuses => [map { $f && $f->{$_} ? $f->{$_}->code : 0 } qw(auth login authorize callback)]);
        json_encode(\%row) . "\n";
    } 1 .. $PER_WORKER;
} } 1 .. $WORKERS], timeout => 120);
my $took = Time::HiRes::time() - $t0;
is scalar(grep { !defined } @answers), 0, 'every worker finished in time';
ok $took < 60, sprintf '%d flows took %.1f s (under 60 s)', $TOTAL, $took;
diag sprintf '%d hosted flows in %.1f s with %d parallel browsers', $TOTAL, $took, $WORKERS;

my @rows = map { json_decode($_) } map { split /\n/, $_ // '' } @answers;
is scalar(@rows), $TOTAL, "$TOTAL flows reported";
my @failed = grep { $_->{error} || ($_->{result}{success} // '') ne 'true' } @rows;
is scalar(@failed), 0, 'every flow ended with success=true';
diag json_encode($_) for @failed[0 .. ($#failed > 4 ? 4 : $#failed)];
my @wrong = grep { ($_->{result}{email} // '') ne $_->{email} || ($_->{result}{provider} // '') ne $_->{provider} } @rows;
is scalar(@wrong), 0, 'each flow came back with its own mailbox and provider';
my %ids = map { ($_->{result}{grant_id} // '') => 1 } @rows;
delete $ids{''};
is scalar(keys %ids), $TOTAL, "$TOTAL distinct grant ids";
my @statuses = grep { join(',', @{ $_->{statuses} }) ne '200,302,302,302' } @rows;
is scalar(@statuses), 0, 'every hop: 200, 302, 302, 302';

# The database.
my @grants = db_rows('grants');
is scalar(@grants), $TOTAL, "$TOTAL grants stored";
my %stored = map { $_->{id} => $_ } @grants;
is scalar(grep { $stored{$_} } keys %ids), $TOTAL, 'each grant id of a redirect is a stored grant';
my %by_email = map { ("$_->{provider}:$_->{email}" => 1) } @grants;
is scalar(keys %by_email), $TOTAL, 'one grant per mailbox';
is scalar(grep { ($_->{refresh_token} // '') =~ /\Acn1\./ } @grants), $TOTAL, 'each with a sealed refresh token';
my %type;
$type{ $_->{type} }++ for db_rows('events');
is $type{hosted_login_started}, $TOTAL, "$TOTAL hosted_login_started events";
is $type{hosted_login_used}, $TOTAL, "$TOTAL hosted_login_used events";
is $type{grant_created}, $TOTAL, "$TOTAL grant_created events";
is scalar(grep { !$_->{used_at} } db_rows('login_requests')), 0, 'every login request was used';

# The logs.
my @access = grep { m{"[A-Z]+ /connect/} } split /\n/, access_log_since($access_at);
ok scalar(@access) >= 3 * $TOTAL, scalar(@access) . ' requests in the access log';
my @five = grep { m{" 5\d\d } } @access;
is scalar(@five), 0, 'no 5xx in the access log';
diag $_ for @five[0 .. ($#five > 4 ? 4 : $#five)];
my $log = error_log_since($log_at);
my @bad = grep { /\[[a-z_]+:(?:error|crit|alert|emerg)\]/ || /CN00202|CN00102| -> 5\d\d / } split /\n/, $log;
is scalar(@bad), 0, 'no error, failed login or 5xx in the error log';
diag $_ for @bad[0 .. ($#bad > 4 ? 4 : $#bad)];
is scalar(my @created = $log =~ /CN00203: grant \S+ created/g), $TOTAL, "the error log tells of $TOTAL created grants";

# ---- one mailbox signing in from 20 browsers at once: one grant ----------------------
my $SAME = 20;
my $same_at = error_log_offset();
my @same = map { json_decode($_ // '') || {} } concurrently([map { my $w = $_; sub {
    my $f = eval { hosted_flow(provider => 'google', login_hint => 'same.mailbox@example.com', state => "same-$w") };
    json_encode({ error => $@ || ($f && $f->{error}), result => $f ? $f->result : {} });
} } 1 .. $SAME]);
is scalar(grep { ($_->{result}{success} // '') eq 'true' } @same), $SAME, "$SAME concurrent sign-ins of one mailbox all succeed";
my %same_ids = map { ($_->{result}{grant_id} // '') => 1 } @same;
is_deeply [keys %same_ids], [grep { $_ } keys %same_ids], '... each with a grant id';
is scalar(keys %same_ids), 1, '... the same grant id';
my @rows_same = grep { $_->{email} eq 'same.mailbox@example.com' } db_rows('grants');
is scalar(@rows_same), 1, '... one grant row';
my %ev_same;
$ev_same{ $_->{type} }++ for grep { ($_->{data} // '') =~ /same\.mailbox/ } db_rows('events');
is $ev_same{grant_created}, 1, '... created once';
is $ev_same{grant_reauthenticated}, $SAME - 1, '... re-authenticated by the others';
my @same_bad = grep { /\[[a-z_]+:(?:error|crit|alert|emerg)\]/ || /CN00202/ } split /\n/, error_log_since($same_at);
is scalar(@same_bad), 0, '... no error in the error log';
diag $_ for @same_bad[0 .. ($#same_bad > 4 ? 4 : $#same_bad)];

done_testing;
