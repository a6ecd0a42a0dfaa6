# Metrics: SetHandler connect-metrics answers the Prometheus text format
# (0.0.4), which the Prometheus project's own parser (python3-prometheus-client)
# reads without an error, every family typed, every histogram consistent;
# counters move for the right labels after requests (a route's count and
# latency, unmatched paths and methods), provider calls after a hosted flow
# and access token refreshes (done, coalesced, failed); GET and HEAD only;
# mod_status's page (HTML and ?auto) shows the module's summary; a graceful
# restart keeps the counts, a full restart starts them again.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use File::Temp ();
use HTTP::Request ();
use IPC::Open3 ();
use POSIX ();
use Symbol ();
use Time::HiRes ();
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::Httpd;

my $PYTHON = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
my $PARSER = t_dir() . '/lib/prometheus_parse.py';

sub get_path {
    my ($method, $url) = @_;
    return CnTest::ua()->request(HTTP::Request->new($method => $url));
}
sub scrape_response { get_path(GET => base_url() . '/metrics') }

# The families of TEXT as the independent parser reads them; undef and a
# diagnostic when it cannot.
sub parse {
    my $text = shift;
    my ($in, $out, $err) = (Symbol::gensym(), Symbol::gensym(), Symbol::gensym());
    my $pid = IPC::Open3::open3($in, $out, $err, $PYTHON, $PARSER);
    print $in $text;
    close $in;
    local $/;
    my $json = <$out>;
    my $errors = <$err>;
    waitpid $pid, 0;
    if ($?) {
        diag "the Prometheus parser refused the text: " . ($errors // '');
        return undef;
    }
    my $v = json_decode($json);
    return $v ? $v->{families} : undef;
}

# A scrape, parsed: { families => [...], text => ..., res => ... }.
sub scrape {
    my $res = scrape_response();
    return { res => $res, text => $res->content, families => parse($res->content) || [] };
}

# The value of sample NAME with exactly LABELS in scrape S; 0 when absent.
sub value {
    my ($s, $name, %labels) = @_;
    for my $f (@{ $s->{families} }) {
        for my $sm (@{ $f->{samples} }) {
            my ($n, $l, $v) = @$sm;
            next unless $n eq $name && keys %$l == keys %labels;
            next if grep { !defined $l->{$_} || $l->{$_} ne $labels{$_} } keys %labels;
            return $v;
        }
    }
    return 0;
}

sub route_labels {
    my ($route, $method, $status) = @_;
    return (api => 'connect', route => $route, method => $method,
            defined $status ? (status => $status) : ());
}

reset_db();

# ---- the text parses, and says what it is -------------------------------------------------
my $s0 = scrape();
is $s0->{res}->code, 200, 'GET /metrics: 200' or diag $s0->{res}->as_string;
is $s0->{res}->header('Content-Type'), 'text/plain; version=0.0.4; charset=utf-8',
    '... text/plain; version=0.0.4';
is $s0->{res}->header('Cache-Control'), 'no-store', '... not to be cached';
ok scalar @{ $s0->{families} }, '... read by the Prometheus parser without an error';
like $s0->{text}, qr/^# HELP connect_http_requests_total \S/m, '... HELP lines';
like $s0->{text}, qr/^# TYPE connect_http_request_duration_seconds histogram$/m, '... TYPE lines';
my %type = map { $_->{name} => $_->{type} } @{ $s0->{families} };
is_deeply [sort grep { $type{$_} eq 'unknown' } keys %type], [], '... every family typed';
is $type{connect_http_requests}, 'counter', '... connect_http_requests_total: a counter';
is $type{connect_provider_request_duration_seconds}, 'histogram', '... provider latency: a histogram';
is $type{connect_webhook_backlog}, 'gauge', '... the webhook backlog: a gauge';
is $type{connect_database_errors}, 'counter', '... database errors: a counter';
ok value($s0, 'connect_metrics_start_time_seconds') > time - 86400,
    '... the counters started at this server start';
unlike $s0->{text}, qr/app-one|\@example\.com/, '... no application, no address in a label';

# ---- a route's count and latency move ------------------------------------------------------
is make_integration('google')->code, 201, 'google integration';
my $before = scrape();
is api(GET => '/integrations')->code, 200, 'GET /integrations' for 1 .. 3;
is api(GET => '/integrations', undef, app => undef)->code, 401, 'GET /integrations without credentials: 401';
is api(GET => '/no/such/thing')->code, 404, 'GET of no route: 404';
is api(DELETE => '/integrations')->code, 405, 'DELETE /integrations: 405';
my $after = scrape();
is value($after, 'connect_http_requests_total', route_labels('/integrations', 'GET', '2xx'))
    - value($before, 'connect_http_requests_total', route_labels('/integrations', 'GET', '2xx')),
    3, 'connect_http_requests_total{route="/integrations",method="GET",status="2xx"}: +3';
is value($after, 'connect_http_requests_total', route_labels('/integrations', 'GET', '4xx'))
    - value($before, 'connect_http_requests_total', route_labels('/integrations', 'GET', '4xx')),
    1, '... status="4xx": +1 (the 401)';
is value($after, 'connect_http_request_duration_seconds_count', route_labels('/integrations', 'GET'))
    - value($before, 'connect_http_request_duration_seconds_count', route_labels('/integrations', 'GET')),
    4, 'connect_http_request_duration_seconds_count of the route: +4';
ok value($after, 'connect_http_request_duration_seconds_sum', route_labels('/integrations', 'GET'))
    > value($before, 'connect_http_request_duration_seconds_sum', route_labels('/integrations', 'GET')),
    '... and its _sum grew';
is value($after, 'connect_http_requests_total', route_labels('unmatched', 'GET', '4xx'))
    - value($before, 'connect_http_requests_total', route_labels('unmatched', 'GET', '4xx')),
    1, 'no route: route="unmatched",method="GET",status="4xx" +1';
is value($after, 'connect_http_requests_total', route_labels('unmatched', 'DELETE', '4xx'))
    - value($before, 'connect_http_requests_total', route_labels('unmatched', 'DELETE', '4xx')),
    1, 'a method the path does not take: route="unmatched",method="DELETE" +1';
unlike $after->{text}, qr{/no/such/thing}, '... the path itself is never a label';
is value($after, 'connect_http_requests_total', route_labels('/integrations', 'POST', '2xx'))
    - value($before, 'connect_http_requests_total', route_labels('/integrations', 'POST', '2xx')),
    0, 'POST /integrations was not asked: unchanged';

# Every histogram: buckets cumulative, +Inf equal to _count.
my @bad;
for my $f (grep { $_->{type} eq 'histogram' } @{ $after->{families} }) {
    my %series;
    for my $sm (@{ $f->{samples} }) {
        my ($n, $l, $v) = @$sm;
        my %k = %$l;
        my $le = delete $k{le};
        my $key = join ',', map { "$_=$k{$_}" } sort keys %k;
        if ($n =~ /_bucket$/) { push @{ $series{$key}{buckets} }, [$le, $v] }
        elsif ($n =~ /_count$/) { $series{$key}{count} = $v }
    }
    for my $key (keys %series) {
        my @b = @{ $series{$key}{buckets} || [] };
        my $prev = 0;
        for my $b (@b) { push @bad, "$f->{name}\{$key\} le=$b->[0] falls" if $b->[1] < $prev; $prev = $b->[1] }
        push @bad, "$f->{name}\{$key\}: +Inf is not _count"
            unless @b && $b[-1][0] eq '+Inf' && $b[-1][1] == ($series{$key}{count} // -1);
    }
}
is_deeply \@bad, [], 'every histogram: cumulative buckets, +Inf = _count';

# ---- GET and HEAD only ------------------------------------------------------------------------
my $r = get_path(HEAD => base_url() . '/metrics');
is $r->code, 200, 'HEAD /metrics: 200';
is $r->content, '', '... without a body';
$r = get_path(POST => base_url() . '/metrics');
is $r->code, 405, 'POST /metrics: 405';
is $r->header('Allow'), 'GET, HEAD', '... Allow: GET, HEAD';
$r = get_path(DELETE => base_url() . '/metrics');
is $r->code, 405, 'DELETE /metrics: 405';

# ---- provider calls and refreshes ---------------------------------------------------------------
sub expire { dbh()->do('UPDATE grants SET access_expires_at = ? WHERE id = ?', undef, @_) }
sub access_token { api(POST => "/grants/$_[0]/access_token") }
sub google_calls {
    my ($s, $endpoint, $outcome) = @_;
    value($s, 'connect_provider_requests_total', provider => 'google', endpoint => $endpoint,
          outcome => $outcome);
}
sub refreshes { value($_[0], 'connect_token_refreshes_total', result => $_[1]) }

$before = scrape();
my $f = hosted_flow(provider => 'google', login_hint => 'metrics.ann@example.com');
is $f->result->{success}, 'true', 'a hosted google sign-in' or diag $f->{error};
$after = scrape();
is google_calls($after, 'token', 'ok') - google_calls($before, 'token', 'ok'), 1,
    'connect_provider_requests_total{provider="google",endpoint="token",outcome="ok"}: +1 (the code exchange)';
is value($after, 'connect_provider_request_duration_seconds_count', provider => 'google', endpoint => 'token')
    - value($before, 'connect_provider_request_duration_seconds_count', provider => 'google', endpoint => 'token'),
    1, '... its latency observed';
is value($after, 'connect_http_requests_total', route_labels('/callback', 'GET', '3xx'))
    - value($before, 'connect_http_requests_total', route_labels('/callback', 'GET', '3xx')),
    1, 'the callback: route="/callback",status="3xx" +1';

my $id = $f->grant_id;
expire(0, $id);
$before = $after;
is access_token($id)->code, 200, 'an expired token: refreshed';
is access_token($id)->code, 200, '... asked again: the stored one';
$after = scrape();
is refreshes($after, 'done') - refreshes($before, 'done'), 1,
    'connect_token_refreshes_total{result="done"}: +1';
is google_calls($after, 'token', 'ok') - google_calls($before, 'token', 'ok'), 1,
    '... one more call to the token endpoint';

# Five callers at once for a grant whose refreshes take a second: one refresh,
# the others served by it.
my $c = hosted_flow(provider => 'google', login_hint => 'rslow.metrics@example.com');
is $c->result->{success}, 'true', 'a grant whose refreshes take a second' or diag $c->{error};
expire(0, $c->grant_id);
$before = scrape();
my %pid;
for my $w (1 .. 5) {
    my $pid = fork;
    BAIL_OUT("fork: $!") unless defined $pid;
    if (!$pid) {
        my $res = access_token($c->grant_id);
        POSIX::_exit($res->code == 200 ? 0 : 1);
    }
    $pid{$pid} = 1;
}
my $ok = 0;
my $deadline = time + 60;
while (%pid && time < $deadline) {
    my $done = waitpid(-1, POSIX::WNOHANG());
    if ($done > 0) { $ok++ if $? == 0; delete $pid{$done}; next }
    Time::HiRes::sleep(0.05);
}
kill 'KILL', keys %pid if %pid;
is $ok, 5, 'five concurrent callers: five 200s';
$after = scrape();
is refreshes($after, 'done') - refreshes($before, 'done'), 1, '... one refresh done';
my $coalesced = refreshes($after, 'coalesced') - refreshes($before, 'coalesced');
ok $coalesced >= 1 && $coalesced <= 4, "... the others coalesced on it ($coalesced)";

# A provider failing with 500, and one refusing the refresh token.
my $h = hosted_flow(provider => 'google', login_hint => 'r500.metrics@example.com');
my $g = hosted_flow(provider => 'google', login_hint => 'rgone.metrics@example.com');
expire(0, $_->grant_id) for $h, $g;
$before = scrape();
is access_token($h->grant_id)->code, 503, 'a 500 at the provider: 503';
is access_token($g->grant_id)->code, 400, 'invalid_grant at the provider: 400';
$after = scrape();
is refreshes($after, 'failed') - refreshes($before, 'failed'), 2,
    'connect_token_refreshes_total{result="failed"}: +2';
# A refresh answered 500 is tried three times within the call (CN_REFRESH_ATTEMPTS):
# three provider calls, one failed refresh.
is google_calls($after, 'token', 'server_error') - google_calls($before, 'token', 'server_error'), 3,
    '... outcome="server_error" +3 (the refresh tried three times)';
is google_calls($after, 'token', 'client_error') - google_calls($before, 'token', 'client_error'), 1,
    '... outcome="client_error" +1';
is value($after, 'connect_http_requests_total', route_labels('/grants/{id}/access_token', 'POST', '5xx'))
    - value($before, 'connect_http_requests_total', route_labels('/grants/{id}/access_token', 'POST', '5xx')),
    1, 'route="/grants/{id}/access_token",status="5xx" +1';
ok parse($after->{text}), 'the text still parses';

# ---- mod_status -------------------------------------------------------------------------------
$r = get_path(GET => base_url() . '/server-status?auto');
is $r->code, 200, 'mod_status ?auto: 200';
my %auto = map { /^(\w+): (.*)$/ ? ($1 => $2) : () } split /\n/, $r->content;
my $now = scrape();
ok defined $auto{ConnectRequests} && $auto{ConnectRequests} > 0,
    "... ConnectRequests: " . ($auto{ConnectRequests} // 'missing');
is $auto{ConnectRefreshesDone}, refreshes($now, 'done'), '... ConnectRefreshesDone as in the metrics';
is $auto{ConnectRefreshesFailed}, refreshes($now, 'failed'), '... ConnectRefreshesFailed as in the metrics';
ok defined $auto{ConnectProviderCalls} && $auto{ConnectProviderCalls} >= 5, '... ConnectProviderCalls';
ok defined $auto{ConnectDatabaseErrors}, '... ConnectDatabaseErrors';
is $auto{ConnectMetricsSince}, value($now, 'connect_metrics_start_time_seconds'), '... ConnectMetricsSince';
$r = get_path(GET => base_url() . '/server-status');
is $r->code, 200, 'mod_status page: 200';
like $r->content, qr{<h2><a name="connect">mod_connect</a></h2>}, '... a mod_connect section';
like $r->content, qr{Token refreshes: \d+ done, \d+ coalesced, \d+ failed}, '... with the refreshes';

# ---- a graceful restart keeps the counts; a full one starts again ---------------------------------
{
    my $sa = CnTest::Httpd->new;
    $sa->write_conf(extra => "<Location /metrics>\n    SetHandler connect-metrics\n</Location>");
    ok $sa->start, 'a server of its own' or diag $sa->output;
    my $sget = sub {
        my $res = CnTest::ua()->request(HTTP::Request->new(GET => $sa->base_url . '/metrics'));
        return { res => $res, text => $res->content, families => parse($res->content) || [] };
    };
    is $sa->api(GET => '/integrations')->code, 200, '... answers GET /integrations' for 1 .. 2;
    my $m1 = $sget->();
    is value($m1, 'connect_http_requests_total', route_labels('/integrations', 'GET', '2xx')), 2,
        '... counted: 2';
    my $started = value($m1, 'connect_metrics_start_time_seconds');
    my $offset = length $sa->error_log;
    $sa->_run(undef, '-f', $sa->conf_file, '-k', 'graceful');
    my $kept;
    for (1 .. 200) {
        $kept = substr($sa->error_log, $offset) =~ /CN02103: metrics: \d+ routes .* kept across the restart/;
        last if $kept && $sa->listening;
        Time::HiRes::sleep(0.05);
    }
    ok $kept, '... a graceful restart: the metrics kept (CN02103)' or diag substr($sa->error_log, $offset);
    is $sa->api(GET => '/integrations')->code, 200, '... answers again';
    my $m2 = $sget->();
    is value($m2, 'connect_http_requests_total', route_labels('/integrations', 'GET', '2xx')), 3,
        '... the count goes on: 3';
    is value($m2, 'connect_metrics_start_time_seconds'), $started, '... from the same start';
    ok $sa->stop, '... stopped';
    ok $sa->start, '... started again' or diag $sa->output;
    my $m3 = $sget->();
    is $m3->{res}->code, 200, '... metrics after a full restart';
    is value($m3, 'connect_http_requests_total', route_labels('/integrations', 'GET', '2xx')), 0,
        '... counted from zero';
    $sa->stop;
}

# The Context.IO API's routes are counted under api="contextio": an unsigned
# call is a 401 of its route.
{
    my $before = scrape();
    is get_path(GET => base_url() . '/2.0/connect_tokens')->code, 401, 'an unsigned Context.IO call: 401';
    my $after = scrape();
    my %cio = (api => 'contextio', route => '/connect_tokens', method => 'GET', status => '4xx');
    is value($after, 'connect_http_requests_total', %cio) - value($before, 'connect_http_requests_total', %cio), 1,
        'connect_http_requests_total{api="contextio",route="/connect_tokens",...,status="4xx"}: +1';
}

done_testing();
