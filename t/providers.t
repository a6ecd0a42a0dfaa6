# Provider detection from the bundled table.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest;

my @cases = (
    ['a@gmail.com', 'google', 'google'], ['a@GoogleMail.com', 'google', 'google'],
    ['a@outlook.com', 'microsoft', 'microsoft'], ['a@hotmail.com', 'microsoft', 'microsoft'],
    ['a@live.com', 'microsoft', 'microsoft'], ['a@msn.com', 'microsoft', 'microsoft'],
    ['a@yahoo.com', 'imap', 'yahoo'], ['a@icloud.com', 'imap', 'icloud'],
    ['a@aol.com', 'imap', 'aol'], ['a@fastmail.com', 'imap', 'fastmail'],
    ['a@gmx.de', 'imap', 'gmx'], ['a@gmx.com', 'imap', 'gmx'], ['a@zoho.com', 'imap', 'zoho'],
);
plan tests => 2 * @cases + 10;
reset_db();

for my $c (@cases) {
    my $r = api(GET => '/providers/detect', undef, query => "email=$c->[0]&all_provider_types=true");
    is($r->{json}{data}{provider}, $c->[1], "$c->[0] → $c->[1]");
    is($r->{json}{data}{type}, $c->[2], "... type $c->[2]");
}

my $r = api(GET => '/providers/detect', undef, query => 'email=a@yahoo.com&all_provider_types=true');
is($r->{json}{data}{settings}{imap_host}, 'imap.mail.yahoo.com', 'yahoo imap host');
is($r->{json}{data}{settings}{imap_port}, 993, 'yahoo imap port');
ok($r->{json}{data}{detected}, 'detected with all_provider_types');

$r = api(GET => '/providers/detect', undef, query => 'email=a@gmail.com');
ok(!$r->{json}{data}{detected}, 'not detected without a google integration');
api(POST => '/integrations', { name => 'g', provider => 'google',
                               settings => { client_id => 'a', client_secret => 'secret-1' } });
$r = api(GET => '/providers/detect', undef, query => 'email=a@gmail.com');
ok($r->{json}{data}{detected}, 'detected once the integration exists');

$r = api(GET => '/providers/detect', undef, query => 'email=someone@unknown-domain.example');
ok(!$r->{json}{data}{detected}, 'unknown domain not detected');
$r = api(GET => '/providers/detect', undef, query => 'email=not-an-address');
is($r->{json}{error}{event_code}, 701, 'bad address → invalid_query_params');
$r = api(GET => '/providers/detect');
is($r->{json}{error}{event_code}, 701, 'missing email');
$r = api(GET => '/providers/detect', undef, app => undef, query => 'email=a@gmail.com');
is($r->code, 401, 'detect needs application credentials');
my ($one) = app_creds('one');
$r = api(GET => '/providers/detect', undef, app => undef, query => "client_id=$one&email=a%40gmail.com");
ok($r->{json}{data}{detected}, 'client_id in the query stands in for Basic auth');
