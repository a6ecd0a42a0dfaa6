# Webhooks: a server of its own (t/lib/CnTest/Httpd.pm) whose application
# has webhook_url= pointing at a receiver this test starts
# (t/fake/webhook_receiver.py, loopback, a free port), on the pass's
# database (SQLite, or a PostgreSQL database of its own on the pass's
# server). Grants are made against the fake provider; every event of the
# application reaches the receiver as the seed's pub/sub message, signed
# (the HMAC checked here with Digest::SHA), in order per grant; 500s and a
# receiver that does not answer are retried with backoff while requests go
# on unhindered; a delivery that keeps failing is marked failed and shown,
# and can be queued again; a graceful restart in the middle of deliveries
# loses nothing. Last, the start-up checks of the options and directives.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Digest::SHA qw(hmac_sha256_hex);
use File::Spec ();
use IPC::Open2 ();
use LWP::UserAgent ();
use HTTP::Request ();
use Time::HiRes qw(sleep time);
use CnTest qw(:all);
use CnTest::Flow qw(fake_client fake_seed fake_url);
use CnTest::Httpd;

my $PG = db_driver() eq 'pgsql';
my $WEBHOOK_SECRET = 'whsec-' . unpack('H*', CnTest::Httpd::random_key());

# ---- the receiver ------------------------------------------------------------------
my $receiver_pid = IPC::Open2::open2(my $rout, my $rin, 'python3',
    File::Spec->catfile(t_dir(), 'fake', 'webhook_receiver.py'), 0);
my $line = <$rout>;
my ($rport) = ($line // '') =~ /on 127\.0\.0\.1:(\d+)/ or BAIL_OUT("the receiver did not start: " . ($line // ''));
END { kill 'TERM', $receiver_pid if $receiver_pid; }
my $RUA = LWP::UserAgent->new(timeout => 10, keep_alive => 0);
sub receiver {
    my ($method, $path, $body) = @_;
    my $req = HTTP::Request->new($method => "http://127.0.0.1:$rport$path");
    if ($body) {
        $req->content(json_encode($body));
        $req->header('Content-Type' => 'application/json');
    }
    my $res = $RUA->request($req);
    die "receiver $path: " . $res->status_line unless $res->is_success;
    return json_decode($res->content);
}
sub received { @{ receiver(GET => '/_requests') } }
sub answers { receiver(POST => '/_answers', {@_}) }

# ---- the database ------------------------------------------------------------------
my ($pg_db, %pg);
if ($PG) {
    %pg = CnTest::_pg_params();
    $pg_db = "cn_webhooks_$$";
    dbh()->do("CREATE DATABASE $pg_db");
}
END { dbh()->do("DROP DATABASE IF EXISTS $pg_db") if $pg_db; }

# ---- the server ----------------------------------------------------------------------
my $fake = conf_value('cn_fakeport');
my $h = CnTest::Httpd->new;
my $secret_file = $h->write_file('webhook.secret', "$WEBHOOK_SECRET\n");
my $quiet_secret = 'quiet-app-secret-0123456789';
$h->write_file('quiet.secret', "$quiet_secret\n");
my @extra = (
    'ConnectCAFile ' . conf_value('cn_cafile'),
    'ConnectProviderTimeout 5',
    (map { "ConnectProviderEndpoint google $_ https://127.0.0.1:$fake/google/$_" } qw(authorize token userinfo revoke)),
    'ConnectWebhookInterval 1',
    'ConnectWebhookBackoff 1 2 15',
    'ConnectWebhookTimeout 2',
    "<Location /metrics>\n    SetHandler connect-metrics\n</Location>",
);
push @extra, 'DBDriver pgsql', qq{DBDParams "host=$pg{host} port=$pg{port} dbname=$pg_db user=$pg{user}"} if $PG;
$h->write_conf(
    dbd  => $PG ? 0 : 1,
    apps => [['app', 'file:' . $h->path('app.secret'), "webhook_url=http://127.0.0.1:$rport/hooks/mail?k=1",
              'webhook_secret=file:' . $secret_file],
             ['quiet', 'file:' . $h->path('quiet.secret')]],
    extra => join("\n", @extra));
ok $h->start, 'a server with a webhook starts' or BAIL_OUT($h->output);
like $h->output, qr/CN02026: webhooks of 1 application\(s\): a look every 1 s, retries after 1 to 2 s for 15 s, 2 s per attempt/,
    'it says how it delivers';

my $dbh = $PG
    ? DBI->connect("dbi:Pg:dbname=$pg_db;host=$pg{host};port=$pg{port}", $pg{user}, $pg{password} || '',
                   { RaiseError => 1, PrintError => 0, AutoCommit => 1, pg_server_prepare => 0 })
    : $h->dbh;

my $UA = LWP::UserAgent->new(timeout => 30, keep_alive => 0);
sub call {
    my ($app, $method, $path, $body) = @_;
    my $req = HTTP::Request->new($method => $h->base_url . "/connect$path");
    $req->authorization_basic(@$app) if $app;
    if (defined $body) {
        $req->content(json_encode($body));
        $req->header('Content-Type' => 'application/json');
    }
    my $res = $UA->request($req);
    $res->{json} = eval { json_decode($res->content) };
    return $res;
}
my @APP = $h->app_creds;
my @QUIET = ('quiet', $quiet_secret);
sub api_app { call(\@APP, @_) }

my ($cid, $csecret) = fake_client('google');
for my $a (\@APP, \@QUIET) {
    is call($a, POST => '/integrations', { name => 'g', provider => 'google',
            settings => { client_id => $cid, client_secret => $csecret },
            redirect_uris => ['https://app.example/cb'], scope => ['openid'] })->code, 201,
        "a google integration for $a->[0]";
}
my $n = 0;
sub new_grant {
    my $app = shift || \@APP;
    my $email = "wh-$$-" . ++$n . '@gmail.com';
    my $rt = "wh-refresh-$$-$n";
    fake_seed('google', $rt, $email);
    my $r = call($app, POST => '/grants', { provider => 'google', settings => { refresh_token => $rt } });
    is $r->code, 201, "grant $email created" or diag $r->content;
    return $r->{json}{data}{id};
}
sub patch_grant {
    my ($id, $state) = @_;
    my $r = api_app(PATCH => "/grants/$id", { scope => ['openid', "s$state"] });
    is $r->code, 200, "grant patched ($state)" or diag $r->content;
}

# Every request answered ok for GRANT, in order: its event types (repeats
# of an event dropped, as a receiver keyed on log_id would).
sub ok_types {
    my $grant = shift;
    my %seen;
    return [map { $_->{type} } grep { ($_->{data}{grant_id} // '') eq $grant && !$seen{ $_->{log_id} }++ }
            map { json_decode($_->{body}) } grep { $_->{answer} eq 'ok' } received()];
}

# ---- 1. delivery, the shape, the signature ------------------------------------------------
my $A = new_grant();
patch_grant($A, 1);
patch_grant($A, 2);
my $B = new_grant();
patch_grant($B, 1);
my $Q = new_grant(\@QUIET);
is api_app(DELETE => "/grants/$A")->code, 200, 'grant A deleted';

ok wait_for(20, sub { @{ ok_types($A) } >= 4 && @{ ok_types($B) } >= 2 }), 'the six events reach the receiver'
    or diag explain [received()];
is_deeply ok_types($A), [qw(grant_created grant_updated grant_updated grant_deleted)], 'grant A: its events in order';
is_deeply ok_types($B), [qw(grant_created grant_updated)], 'grant B: its events in order';
is_deeply ok_types($Q), [], 'nothing of the application without a webhook';

my @reqs = received();
my $bad_sig = 0;
my $bad_shape = 0;
for my $r (@reqs) {
    my $h = $r->{headers};
    my ($t, $v1) = ($h->{'x-connect-signature'} // '') =~ /\At=(\d+),v1=([0-9a-f]{64})\z/;
    $bad_sig++ unless defined $t && hmac_sha256_hex("$t.$r->{body}", $WEBHOOK_SECRET) eq $v1 && abs($t - time) < 120;
    my $m = json_decode($r->{body});
    $bad_shape++ unless $r->{method} eq 'POST' && $r->{path} eq '/hooks/mail?k=1'
        && ($h->{'content-type'} // '') eq 'application/json'
        && join(',', sort keys %$m) eq 'code,data,level,log_id,message,request_id,time,type'
        && ($h->{'x-connect-event'} // '') eq $m->{type} && ($h->{'x-connect-delivery'} // '') =~ /\A[0-9a-f-]{36}\z/;
}
is $bad_sig, 0, 'every request carries X-Connect-Signature t=<unix>,v1=HMAC-SHA256(secret, "t.body"), verified here';
is $bad_shape, 0, "every request is a POST to the URL with the seed's pub/sub message as JSON and the event's headers";
{
    my $hmac_wrong = grep { my ($t, $v) = $_->{headers}{'x-connect-signature'} =~ /t=(\d+),v1=(\w+)/;
                            hmac_sha256_hex("$t.$_->{body}", 'another secret') eq $v } @reqs;
    is $hmac_wrong, 0, '... which another secret does not verify';
}
my ($created) = grep { $_->{type} eq 'grant_created' && $_->{data}{grant_id} eq $A } map { json_decode($_->{body}) } @reqs;
is $created->{code}, 25012, 'grant_created: code 25012';
is $created->{level}, 'info', '... level info';
is $created->{data}{provider}, 'google', '... data names the provider';
ok $created->{data}{integration_id}, '... and the integration';
my ($ev) = @{ $dbh->selectall_arrayref('SELECT code, type, time FROM events WHERE log_id = ?', { Slice => {} }, $created->{log_id}) };
is_deeply $ev && [$ev->{code}, $ev->{type}, $ev->{time}], [25012, 'grant_created', $created->{time}],
    '... its log_id is the recorded event';

my $r;
wait_for(10, sub { $r = api_app(GET => '/webhooks/deliveries?status=delivered&limit=50');
                   @{ $r->{json}{data} || [] } >= 6 });
is $r->code, 200, 'GET /webhooks/deliveries?status=delivered';
is scalar @{ $r->{json}{data} }, 6, '... the six deliveries' or diag $r->content;
is_deeply [@{ $r->{json} }{qw(limit offset)}], [50, 0], '... in the list envelope';
my $d0 = $r->{json}{data}[0];
is_deeply [@$d0{qw(status attempts last_status last_error next_attempt_at)}], ['delivered', 1, 200, undef, undef],
    '... delivered at the first attempt, HTTP 200';
is $d0->{type}, $d0->{event}{type}, '... with the event as it was sent';
is_deeply call(\@QUIET, GET => '/webhooks/deliveries')->{json}{data}, [], 'another application sees none of them';
is call(undef, GET => '/webhooks/deliveries')->code, 401, 'without credentials: 401';
$r = api_app(GET => '/webhooks/deliveries?status=lost');
is $r->code, 400, 'an unknown status: 400';
is $r->{json}{error}{type}, 'invalid_query_params', '... invalid_query_params';
is api_app(POST => '/webhooks/deliveries/no-such-id/retry')->code, 404, 'retry of an unknown delivery: 404';
is api_app(POST => "/webhooks/deliveries/$d0->{id}/retry")->code, 400, 'retry of a delivered one: 400';

# ---- 2. retries after a 500 and a redirect (not followed), order per grant kept ------------
answers(next => ['fail', 'redirect']);
my $mark = scalar received();
patch_grant($B, 2);
patch_grant($B, 3);
ok wait_for(20, sub { @{ ok_types($B) } >= 4 }), 'after a 500 and a 302, both events arrive' or diag explain [received()];
is_deeply ok_types($B), [qw(grant_created grant_updated grant_updated grant_updated)], '... in order';
my @after = (received())[$mark .. scalar(received()) - 1];
is_deeply [map { $_->{answer} } @after], [qw(fail redirect ok ok)], '... the first tried three times, the second once after it';
is scalar(grep { $_->{path} =~ m{^/_moved} } received()), 0, '... the redirect was not followed';
my %ids = map { $_->{headers}{'x-connect-delivery'} => 1 } @after[0 .. 2];
is scalar(keys %ids), 1, '... three attempts of one delivery';
ok int($after[1]{time}) >= int($after[0]{time}) + 1 && int($after[2]{time}) >= int($after[1]{time}) + 1,
    '... each retry in a later second: a wait of at least ConnectWebhookBackoff MIN (1 s; times in seconds)';
like $h->error_log, qr/CN02002: webhook: \S+ \(grant_updated\) of app not delivered \(attempt 1: HTTP 500/,
    'a failed attempt is logged (CN02002)';
like $h->error_log, qr/CN02002: webhook: \S+ \(grant_updated\) of app not delivered \(attempt 2: HTTP 302 \(redirects are not followed\)/,
    '... and a redirect as a failure';
wait_for(10, sub { ($r) = grep { $_->{id} eq $after[0]{headers}{'x-connect-delivery'} }
                           @{ api_app(GET => '/webhooks/deliveries?limit=50')->{json}{data} };
                   $r && $r->{status} eq 'delivered' });
is_deeply [@$r{qw(status attempts)}], ['delivered', 3], 'the API shows it delivered at the third attempt';

# ---- 3. a receiver that does not answer: a timeout; requests are not held up -------------
answers(next => ['hang'], hang => 4);
$mark = scalar received();
patch_grant($B, 4);
ok wait_for(10, sub { grep { $_->{answer} eq 'hang' } (received())[$mark .. scalar(received()) - 1] }), 'the receiver holds a delivery';
my $t0 = time;
is api_app(GET => "/grants/$B")->code, 200, 'meanwhile the API answers';
ok time - $t0 < 1, '... at once';
ok wait_for(20, sub { @{ ok_types($B) } >= 5 }), 'the delivery arrives after the timeout';
like $h->error_log, qr/CN02002: webhook: \S+ \(grant_updated\) of app not delivered \(attempt 1: [^)]*(?i:timed? ?out)/,
    'the timeout was logged (ConnectWebhookTimeout 2)';
my @hung = grep { $_->{answer} eq 'hang' } (received())[$mark .. scalar(received()) - 1];
my @retry = grep { $_->{headers}{'x-connect-delivery'} eq $hung[0]{headers}{'x-connect-delivery'} && $_->{answer} eq 'ok' } received();
ok @retry && $retry[0]{time} - $hung[0]{time} > 2, '... retried only after the 2 s timeout and a wait';

# ---- 4. given up after the retry period, shown, queued again --------------------------------
answers(default => 'fail');
patch_grant($B, 5);
my $failed;
ok wait_for(30, sub { ($failed) = @{ api_app(GET => '/webhooks/deliveries?status=failed')->{json}{data} || [] }; $failed }),
    'a delivery still failing 15 s after its event is marked failed';
is $failed && $failed->{last_status}, 500, '... its last answer, 500';
ok $failed && $failed->{attempts} >= 3, "... after several attempts ($failed->{attempts})";
is $failed && $failed->{last_error}, 'HTTP 500', '... and why';
like $h->error_log, qr/CN02003: webhook: \S+ \(grant_updated\) of app failed after \d+ attempts \(last: HTTP 500\); given up/,
    'giving up is logged (CN02003)';
answers(default => 'ok');
$r = api_app(POST => "/webhooks/deliveries/$failed->{id}/retry");
is $r->code, 200, 'POST /webhooks/deliveries/{id}/retry';
is $r->{json}{data}{status}, 'pending', '... pending again';
ok wait_for(10, sub { @{ ok_types($B) } >= 6 }), '... and delivered';

# ---- the metrics count the attempts and the backlog --------------------------------------
sub metric {
    my ($text, $name, $labels) = @_;
    my ($v) = $text =~ /^\Q$name\E\Q$labels\E ([0-9.e+]+)$/m;
    return $v;
}
my $m = $UA->get($h->base_url . '/metrics');
is $m->code, 200, 'GET /metrics';
my $text = $m->decoded_content;
cmp_ok metric($text, 'connect_webhook_deliveries_total', '{outcome="delivered"}') // 0, '>=', 6,
    'connect_webhook_deliveries_total{outcome="delivered"}: every delivered attempt';
cmp_ok metric($text, 'connect_webhook_deliveries_total', '{outcome="retry"}') // 0, '>=', 3,
    '... outcome="retry": the 500s, the 302, the timeout';
cmp_ok metric($text, 'connect_webhook_deliveries_total', '{outcome="failed"}') // 0, '>=', 1,
    '... outcome="failed": the one given up';
cmp_ok metric($text, 'connect_webhook_delivery_duration_seconds_count', '') // 0, '>=', 10,
    '... each attempt timed';
ok defined metric($text, 'connect_webhook_backlog', ''), 'connect_webhook_backlog is there';

# ---- 5. a graceful restart in the middle of deliveries ----------------------------------------
answers(next => ['hang', 'hang'], hang => 3);
my $C = new_grant();
patch_grant($C, $_) for 1 .. 3;
ok wait_for(10, sub { scalar(grep { $_->{answer} eq 'hang' } received()) >= 1 }), 'a delivery of grant C is under way';
my $pid = $h->_pid;
kill 'USR1', $pid;
ok wait_for(10, sub { $h->error_log =~ /SIGUSR1 received.\s+Doing graceful restart/ }), 'graceful restart (SIGUSR1)';
patch_grant($C, $_) for 4 .. 5;    # during and after the restart
ok wait_for(40, sub { @{ ok_types($C) } >= 6 }), 'every event of grant C is delivered' or diag explain ok_types($C);
is_deeply ok_types($C), [qw(grant_created), ('grant_updated') x 5], '... in order, none lost';
# (the receiver notes a request when it comes; the row is marked when the answer is back)
ok wait_for(10, sub { !$dbh->selectrow_array(q{SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'}) }),
    'nothing left pending';
unlike $h->error_log, qr/$CnTest::Httpd::PROBLEM_RE|CN02021|still did not exit/, 'no crash, no lease failure, children exit';
unlike $h->output, qr/\Q$WEBHOOK_SECRET\E/, 'the webhook secret is never logged';

ok $h->stop, 'the server stops';
$dbh->disconnect;

# ---- start-up checks ---------------------------------------------------------------------
sub refused {
    my ($name, $apps, $extra, $re) = @_;
    my $s = CnTest::Httpd->new;
    $s->write_file('w.secret', "a-webhook-secret-of-some-length\n");
    $s->write_conf(apps => [['app', 'file:' . $s->path('app.secret'), @$apps]], extra => $extra);
    ok !$s->start, "$name: refused";
    is scalar($s->lines_matching($re)), 1, "$name: one line says why" or diag $s->output;
    unlike $s->output, qr/a-webhook-secret-of-some-length/, "$name: the secret is not shown";
}
my $ok_secret = 'webhook_secret=file:w.secret';
refused('webhook_url without webhook_secret', ['webhook_url=https://h.example/x'], '',
        qr/ConnectApplication: app: webhook_url= and webhook_secret= go together/);
refused('a webhook_url that is not http(s)', ['webhook_url=ftp://h.example/x', $ok_secret], '',
        qr/ConnectApplication: app: webhook_url= must be an http or https URL/);
refused('a webhook_url with a user', ['webhook_url=https://u:p@h.example/x', $ok_secret], '',
        qr/ConnectApplication: app: webhook_url= must be an http or https URL/);
refused('a missing webhook secret file', ['webhook_url=https://h.example/x', 'webhook_secret=file:nope.secret'], '',
        qr/ConnectApplication: app: webhook_secret=: cannot read nope\.secret/);
refused('a webhook secret from an unset variable', ['webhook_url=https://h.example/x', 'webhook_secret=env:CN_NO_SUCH_VAR'], '',
        qr/ConnectApplication: app: webhook_secret=: environment variable CN_NO_SUCH_VAR is not set/);
refused('ConnectWebhookBackoff MAX below MIN', [], 'ConnectWebhookBackoff 10 5',
        qr/ConnectWebhookBackoff: MAX \(5\) must not be less than MIN \(10\)/);
refused('ConnectWebhookBackoff not a number', [], 'ConnectWebhookBackoff 1 x',
        qr/ConnectWebhookBackoff: MAX must be a number of seconds from 1 to 86400, got 'x'/);
refused('ConnectWebhookInterval 0', [], 'ConnectWebhookInterval 0',
        qr/ConnectWebhookInterval: the interval must be a number of seconds from 1 to 3600/);
refused('ConnectWebhookTimeout 61', [], 'ConnectWebhookTimeout 61',
        qr/ConnectWebhookTimeout: the timeout must be a number of seconds from 1 to 60/);
{
    my $s = CnTest::Httpd->new;
    $s->write_file('w.secret', "a-webhook-secret-of-some-length\n");
    $s->write_conf(apps => [['app', 'file:' . $s->path('app.secret'), 'webhook_url=https://h.example/x', 'webhook_secret=env:CN_WH_SECRET']]);
    ok $s->start(env => { CN_WH_SECRET => 'from-the-environment-0123' }), 'webhook_secret=env:VAR: starts' or diag $s->output;
    like $s->output, qr/CN02026: webhooks of 1 application\(s\): a look every 5 s, retries after 10 to 3600 s for 86400 s, 10 s per attempt/,
        '... with the default policy';
    $s->stop;
}

done_testing;
