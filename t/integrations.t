# Integrations CRUD through the real module.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest;

plan tests => 48;
reset_db();

my %google = (name => 'Google app', provider => 'google',
              settings => { client_id => 'g-client', client_secret => 'g-secret-0001' },
              redirect_uris => ['https://app.example/cb', 'http://localhost:3000'],
              scope => ['openid', 'email']);

my $r = api(POST => '/integrations', \%google);
is($r->code, 201, 'create google');
my $d = $r->{json}{data};
ok($r->{json}{success}, 'success flag');
is($d->{provider}, 'google', 'provider');
is($d->{name}, 'Google app', 'name');
is_deeply($d->{redirect_uris}, $google{redirect_uris}, 'redirect uris');
is_deeply($d->{scope}, ['openid', 'email'], 'scope');
is($d->{expires_in}, 43200, 'default expires_in');
is($d->{settings}{client_id}, 'g-client', 'client id returned');
ok(!exists $d->{settings}{client_secret}, 'client secret never returned');
like($d->{id}, qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'uuid id');

$r = api(POST => '/integrations', \%google);
is($r->code, 400, 'second google refused');
is($r->{json}{error}{event_code}, 35008, 'integration_already_exists');

$r = api(POST => '/integrations', { name => 'x', provider => 'yahoo' });
is($r->{json}{error}{event_code}, 31005, 'provider_not_supported');
is($r->code, 400, '... 400');

$r = api(POST => '/integrations', { name => 'ms', provider => 'microsoft',
                                    settings => { client_id => 'm', client_secret => 'm-secret' },
                                    expires_in => 59 });
is($r->{json}{error}{type}, 'invalid_token_expiry', 'expires_in below 60 refused');
$r = api(POST => '/integrations', { name => 'ms', provider => 'microsoft',
                                    settings => { client_id => 'm', client_secret => 'm-secret' },
                                    expires_in => 60 });
is($r->code, 201, 'expires_in 60 accepted');
is($r->{json}{data}{settings}{tenant}, 'common', 'microsoft tenant defaults to common');

$r = api(POST => '/integrations', { name => 'imap', provider => 'imap' });
is($r->code, 201, 'imap integration without settings');

$r = api(POST => '/integrations', { name => 'g2', provider => 'google', settings => { client_id => 'only' } });
is($r->{json}{error}{type}, 'provider_settings_invalid', 'google needs client_secret');

$r = api(POST => '/integrations', { name => 'g2', provider => 'google', colour => 'red' });
is($r->{json}{error}{event_code}, 700, 'unknown field refused');
like($r->{json}{error}{message}, qr/colour/, '... and named');

for my $bad ({ name => 5, provider => 'google' },
             { name => 'x', provider => 'google', redirect_uris => 'https://a' },
             { name => 'x', provider => 'google', redirect_uris => [1] },
             { name => 'x', provider => 'google', scope => [{}] },
             { name => 'x', provider => 'google', expires_in => '600' },
             { name => 'x' x 300, provider => 'google' }) {
    $r = api(POST => '/integrations', $bad);
    is($r->{json}{error}{event_code}, 700, 'wrong type or size → invalid_request_payload');
}

# list and paging
$r = api(GET => '/integrations');
is($r->code, 200, 'list');
is(scalar @{ $r->{json}{data} }, 3, 'three integrations');
is($r->{json}{limit}, 10, 'default limit');
is($r->{json}{offset}, 0, 'default offset');
$r = api(GET => '/integrations', undef, query => 'limit=2&offset=2');
is(scalar @{ $r->{json}{data} }, 1, 'paged');
is($r->{json}{limit}, 2, 'limit echoed');
$r = api(GET => '/integrations', undef, query => 'limit=abc');
is($r->{json}{error}{event_code}, 701, 'bad limit → invalid_query_params');

# read / update / delete
$r = api(GET => '/integrations/google');
is($r->code, 200, 'read');
is($r->{json}{data}{name}, 'Google app', 'read data');
ok(!exists $r->{json}{success}, 'read has no success flag');

$r = api(PATCH => '/integrations/google', { name => 'Renamed', scope => ['email'], expires_in => 120 });
is($r->code, 200, 'patch');
is($r->{json}{data}{name}, 'Renamed', 'name patched');
is_deeply($r->{json}{data}{scope}, ['email'], 'scope patched');
is_deeply($r->{json}{data}{redirect_uris}, $google{redirect_uris}, 'untouched field kept');

$r = api(PATCH => '/integrations/google', { settings => { client_id => 'new-id' } });
is($r->{json}{error}{event_code}, 35007, 'client_id without secret → provider_settings_secret_required');
$r = api(PATCH => '/integrations/google', { provider => 'microsoft' });
is($r->code, 400, 'provider cannot change');

$r = api(GET => '/integrations/google');
is($r->{json}{data}{settings}{client_id}, 'g-client', 'failed patches changed nothing');

$r = api(DELETE => '/integrations/google');
is($r->code, 200, 'delete');
is($r->{json}{data}{message}, 'Resource successfully removed', 'delete message');
$r = api(GET => '/integrations/google');
is($r->code, 404, 'gone');
is($r->{json}{error}{event_code}, 35004, 'integration_not_found');
