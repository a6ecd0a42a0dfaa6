# The server is up with mod_connect, an integration round-trips through the
# API, and every answer carries X-Request-Id (the one of an error body too).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use CnTest qw(:all);

diag 'database: ' . db_driver() . ' ' . (db_file() || CnTest::conf_value('cn_dbdparams'));
reset_db();

# The server answers at all, outside the mount too (a static fixture).
my $static = CnTest::ua()->get(base_url() . '/cntest.txt');
is $static->code, 200, 'static fixture served';
like $static->content, qr/mod_connect test server/, 'fixture content';
ok !$static->header('X-Request-Id'), 'no X-Request-Id outside the mount';

# Create with app one, read back.
my $body = google_integration(name => 'Smoke app');
my $res = api(POST => '/integrations', $body);
is $res->code, 201, 'POST /integrations -> 201' or diag $res->as_string;
ok $res->{json} && $res->{json}{success}, 'success true';
my $created = $res->{json}{data} || {};
ok $created->{id}, 'the integration has an id';
is $created->{provider}, 'google', 'provider';
ok $res->header('X-Request-Id'), 'X-Request-Id on success';
ok !exists $created->{settings}{client_secret}, 'client_secret not echoed';

$res = api(GET => '/integrations/google');
is $res->code, 200, 'GET /integrations/google -> 200' or diag $res->as_string;
my $got = $res->{json}{data} || {};
is $got->{id}, $created->{id}, 'same id';
is $got->{name}, 'Smoke app', 'same name';
is $got->{settings}{client_id}, $body->{settings}{client_id}, 'same client_id';
is_deeply $got->{redirect_uris}, $body->{redirect_uris}, 'same redirect_uris';
is_deeply $got->{scope}, $body->{scope}, 'same scope';

$res = api(GET => '/integrations');
is $res->code, 200, 'list -> 200';
is scalar @{ $res->{json}{data} || [] }, 1, 'one integration listed';

# App two does not see app one's integration.
$res = api(GET => '/integrations/google', undef, app => 'two');
is $res->code, 404, "app two does not see app one's integration";

# Errors: the envelope, and X-Request-Id equals error.request_id.
for my $case (
    [ 'no credentials',    sub { api(GET => '/integrations', undef, app => undef) }, 401 ],
    [ 'wrong secret',      sub { api(GET => '/integrations', undef, app => ['app-one', 'x' x 20]) }, 401 ],
    [ 'unknown endpoint',  sub { api(GET => '/no/such/thing') }, 404 ],
    [ 'malformed JSON',    sub { api(POST => '/integrations', undef, raw => '{"name":') }, 400 ],
    [ 'missing provider',  sub { api(GET => '/integrations/microsoft') }, 404 ],
) {
    my ($name, $call, $code) = @$case;
    my $r = $call->();
    is $r->code, $code, "$name -> $code";
    my $j = $r->{json};
    ok $j && ref $j eq 'HASH' && $j->{success} == 0 && ref $j->{error} eq 'HASH',
        "$name: error envelope"
        or diag $r->as_string;
    my $e = ($j && $j->{error}) || {};
    ok defined $e->{$_}, "$name: error.$_" for qw(type http_code event_code message request_id);
    is $e->{http_code}, $code, "$name: error.http_code";
    my $rid = $r->header('X-Request-Id');
    ok $rid, "$name: X-Request-Id header";
    is $rid, $e->{request_id}, "$name: X-Request-Id equals error.request_id";
}
is api(GET => '/integrations', undef, app => undef)->header('WWW-Authenticate'),
    'Basic realm="mod_connect"', '401 asks for Basic auth';

# Request ids are unique.
my %ids = map { (api(GET => '/integrations')->header('X-Request-Id') => 1) } 1 .. 5;
is scalar keys %ids, 5, 'five requests, five request ids';

# The public endpoint needs no credentials.
$res = api(GET => '/providers/find', undef, app => undef, query => 'client_id=app-one');
is $res->code, 200, 'GET /providers/find (public) -> 200' or diag $res->as_string;

# The module logs at debug level into t/logs/error_log with the request id.
my $log = error_log();
like $log, qr/\[connect:/, 'mod_connect lines in error_log';
my $rid = api(GET => '/no/such/thing')->header('X-Request-Id');
like error_log(), qr/\Q$rid\E/, 'an error is logged with its request id';

done_testing;
