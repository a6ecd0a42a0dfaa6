# The HTTP surface: envelope, request ids, routing, limits and bad input.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest;

plan tests => 32;
reset_db();

my $r = api(GET => '/nope');
is($r->code, 404, 'unknown route 404');
is($r->{json}{error}{type}, 'not_found_error', 'not_found_error');
ok(defined $r->{json}{success} && !$r->{json}{success}, 'success false');
my $rid = $r->header('X-Request-Id');
ok($rid, 'request id header');
is($r->{json}{error}{request_id}, $rid, 'request id in body equals header');
like(error_log(), qr/\Q$rid\E/, 'request id in the error log line');
for my $k (qw(type http_code event_code message request_id)) {
    ok(exists $r->{json}{error}{$k}, "error has $k");
}

$r = api(PUT => '/integrations', {});
is($r->code, 405, 'wrong method 405');
like($r->header('Allow') // '', qr/GET/, 'Allow lists GET');
like($r->header('Allow') // '', qr/POST/, 'Allow lists POST');

$r = api(GET => '/integrations', undef, app => undef);
is($r->code, 401, 'no credentials 401');
is($r->{json}{error}{type}, 'invalid_request_error', 'invalid_request_error');
like($r->header('WWW-Authenticate') // '', qr/^Basic/, 'WWW-Authenticate: Basic');
my ($id) = app_creds('one');
$r = api(GET => '/integrations', undef, app => [$id, 'wrong-secret-wrong']);
is($r->code, 401, 'wrong secret 401');
$r = api(GET => '/integrations', undef, app => ['nobody', 'wrong-secret-wrong']);
is($r->code, 401, 'unknown client 401');

$r = api(POST => '/integrations', undef, raw => '{"name": "x", ');
is($r->{json}{error}{event_code}, 700, 'malformed JSON 700');
is($r->code, 400, '... 400');
$r = api(POST => '/integrations', undef, raw => '[1,2]');
is($r->{json}{error}{event_code}, 700, 'JSON array body 700');
$r = api(POST => '/integrations', undef, raw => '{"name":"a\u0000b","provider":"imap"}');
is($r->{json}{error}{event_code}, 700, 'embedded NUL refused');
$r = api(POST => '/integrations', undef, raw => '{"name":"a","name":"b","provider":"imap"}');
is($r->{json}{error}{event_code}, 700, 'duplicate keys refused');

my $big = '{"name":"' . ('x' x 70000) . '","provider":"imap"}';
$r = api(POST => '/integrations', undef, raw => $big);
is($r->code, 413, 'oversize body 413');
is($r->{json}{error}{type}, 'payload_too_large', 'envelope on 413');

$r = api(GET => '/integrations', undef, query => 'limit=%zz');
is($r->{json}{error}{event_code}, 701, 'bad percent-encoding in query');
$r = api(GET => '/providers/detect', undef, query => 'email=a%00b@gmail.com');
is($r->code, 400, 'encoded NUL in query refused');
$r = api(GET => '/integr%zzations');
is($r->code, 400, 'bad percent-encoding in path');
ok($r->{json} && $r->{json}{error}, '... with the envelope');

# nothing of the bad requests above was stored
my ($n) = dbh()->selectrow_array('SELECT COUNT(*) FROM integrations');
is($n, 0, 'no partial rows');
unlike(error_log(), qr/\b500\b.*internal_error/, 'no 500 answered');
