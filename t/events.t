# Events of the hosted flow and the grants API, in the events table: type,
# code, level, message, data, the request id of the request that caused it.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;

reset_db();
my $r = make_integration('google');
is $r->code, 201, 'google integration';
my $gid = $r->{json}{data}{id};
$r = make_integration('google', app => 'two');
my $gid_two = $r->{json}{data}{id};

my %CODE = (hosted_login_started => 26001, hosted_login_used => 26002, grant_created => 25012,
            grant_reauthenticated => 25027, grant_updated => 25014, grant_deleted => 25013);
my %MESSAGE = (hosted_login_started => 'Hosted login started. Occurs when user visits "/connect/login?id=..."',
               hosted_login_used => 'Hosted login used. Happens when user gets redirected to "/connect/callback"',
               grant_created => 'Grant created', grant_reauthenticated => 'Existing Grant re-authenticated',
               grant_updated => 'Grant updated', grant_deleted => 'Grant deleted');
my %seen_log_id;

# The events written since the last call, oldest first.
sub new_events {
    my @all = sort { $a->{time} <=> $b->{time} } db_rows('events');
    my @new = grep { !$seen_log_id{ $_->{log_id} }++ } @all;
    return @new;
}
sub rid { $_[0]->header('X-Request-Id') // '' }

# Check EVENTS against [type, request response, expected data], in order.
sub events_are {
    my ($name, $events, @want) = @_;
    is_deeply [sort map { $_->{type} } @$events], [sort map { $_->[0] } @want], "$name: the events";
    for my $w (@want) {
        my ($type, $res, $data) = @$w;
        my ($e) = grep { $_->{type} eq $type } @$events;
        next unless $e;
        is $e->{code}, $CODE{$type}, "$name: $type has code $CODE{$type}";
        is $e->{level}, 'info', "$name: $type is info";
        is $e->{message}, $MESSAGE{$type}, "$name: $type has the table's message";
        is $e->{request_id}, rid($res), "$name: $type carries the request id of its request";
        is_deeply json_decode($e->{data}), $data, "$name: $type data";
        ok $e->{time} >= time - 30 && $e->{time} <= time + 1, "$name: $type time is now";
        like $e->{log_id}, qr/\A[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\z/, "$name: $type log_id is a UUID";
    }
}

# ---- a successful flow --------------------------------------------------------------
my $f = hosted_flow(provider => 'google', login_hint => 'Eve@Example.com', state => 'e1');
is $f->result->{success}, 'true', 'a hosted flow';
my $grant = $f->grant_id;
my @ev = new_events();
events_are('first sign-in', \@ev,
    [hosted_login_started => $f->{login}, { integration_id => $gid, provider => 'google' }],
    [hosted_login_used => $f->{callback}, { integration_id => $gid, provider => 'google' }],
    [grant_created => $f->{callback}, { integration_id => $gid, grant_id => $grant, provider => 'google',
                                        email => 'eve@example.com' }]);
is_deeply [map { $_->{app_id} } @ev], [('app-one') x 3], 'all of app one';
my ($bad_rid) = grep { $_->{request_id} eq rid($f->{auth}) } @ev;
ok !$bad_rid, 'POST /auth records no event';

# ---- re-authentication ----------------------------------------------------------------
$f = hosted_flow(provider => 'google', login_hint => 'eve@example.com', state => 'e2');
is $f->grant_id, $grant, 'the same mailbox again';
@ev = new_events();
events_are('re-authentication', \@ev,
    [hosted_login_started => $f->{login}, { integration_id => $gid, provider => 'google' }],
    [hosted_login_used => $f->{callback}, { integration_id => $gid, provider => 'google' }],
    [grant_reauthenticated => $f->{callback}, { integration_id => $gid, grant_id => $grant,
                                                provider => 'google', email => 'eve@example.com' }]);

# ---- patch and delete ----------------------------------------------------------------------
$r = api(PATCH => "/grants/$grant", { scope => ['openid'] });
is $r->code, 200, 'PATCH the grant';
events_are('patch', [new_events()],
    [grant_updated => $r, { integration_id => $gid, grant_id => $grant, provider => 'google', email => 'eve@example.com' }]);

$r = api(PATCH => "/grants/$grant", { bogus => 1 });
is $r->code, 400, 'a refused PATCH';
is_deeply [new_events()], [], '... records nothing';
$r = api(GET => "/grants/$grant");
is_deeply [new_events()], [], 'reading records nothing';
$r = api(GET => '/grants');
is_deeply [new_events()], [], 'listing records nothing';

$r = api(DELETE => "/grants/$grant");
is $r->code, 200, 'DELETE the grant';
events_are('delete', [new_events()],
    [grant_deleted => $r, { integration_id => $gid, grant_id => $grant, provider => 'google', email => 'eve@example.com' }]);
$r = api(DELETE => "/grants/$grant");
is $r->code, 404, 'DELETE again: 404';
is_deeply [new_events()], [], '... records nothing';

# ---- a failed flow: started and used, no grant event --------------------------------------------
$f = hosted_flow(provider => 'google', login_hint => 'deny.eve@example.com', state => 'd');
is $f->result->{error}, 'oauth_failed', 'a denied flow';
events_are('denied', [new_events()],
    [hosted_login_started => $f->{login}, { integration_id => $gid, provider => 'google' }],
    [hosted_login_used => $f->{callback}, { integration_id => $gid, provider => 'google' }]);

# A refused /login records nothing.
$r = browser()->get($f->{login_url});
is $r->code, 400, 'the spent login URL again';
is_deeply [new_events()], [], '... records nothing';

# ---- native authentication -----------------------------------------------------------------------
my ($seed) = grep { $_->[0] eq 'google' } seeded_tokens();
$r = api(POST => '/grants', { provider => 'google', settings => { refresh_token => $seed->[1] } });
is $r->code, 201, 'native authentication';
events_are('native', [new_events()],
    [grant_created => $r, { integration_id => $gid, grant_id => $r->{json}{data}{id}, provider => 'google',
                            email => lc $seed->[2] }]);
$r = api(POST => '/grants', { provider => 'google', settings => { refresh_token => 'rt-nobody-knows' } });
is $r->code, 400, 'a refused native authentication';
is_deeply [new_events()], [], '... records nothing';

# ---- app two's events are its own ------------------------------------------------------------------
$f = hosted_flow(provider => 'google', app => 'two', login_hint => 'eve@example.com');
is $f->result->{success}, 'true', 'app two signs eve in';
@ev = new_events();
is scalar(@ev), 3, 'three events';
is_deeply [map { $_->{app_id} } @ev], [('app-two') x 3], '... all of app two';
my ($created) = grep { $_->{type} eq 'grant_created' } @ev;
is $created && json_decode($created->{data})->{integration_id}, $gid_two, '... with app two\'s integration';

my @everything = db_rows('events');
my %ids = map { $_->{log_id} => 1 } @everything;
is scalar(keys %ids), scalar(@everything), 'every log_id is unique';
my @issued = map { $_->{value} } fake_issued();
ok scalar(@issued) > 5, 'the fake issued codes and tokens';
my @leaks = grep { my $d = $_->{data}; grep { index($d, $_) >= 0 } @issued } @everything;
is scalar(@leaks), 0, 'no code or token in any event\'s data';

done_testing;
