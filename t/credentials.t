# Credentials of an integration.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest;

plan tests => 28;
reset_db();

api(POST => '/integrations', { name => 'g', provider => 'google',
                               settings => { client_id => 'g', client_secret => 'gs-000000' } });
api(POST => '/integrations', { name => 'm', provider => 'microsoft',
                               settings => { client_id => 'm', client_secret => 'ms-000000' } });

my $sa = { name => 'sa', credential_type => 'serviceaccount',
           credential_data => { private_key_id => 'k1', private_key => "-----BEGIN PRIVATE KEY-----\nX\n",
                                client_email => 'svc@proj.iam.gserviceaccount.com', project_id => 'p' } };
my $r = api(POST => '/integrations/google/creds', $sa);
is($r->code, 201, 'serviceaccount created');
my $id = $r->{json}{data}{id};
ok($id, 'has id');
ok($r->{json}{data}{integration_id}, 'has integration_id');
is($r->{json}{data}{name}, 'sa', 'name');
ok(!exists $r->{json}{data}{credential_data}, 'credential_data never returned');

$r = api(POST => '/integrations/google/creds', $sa);
is($r->{json}{error}{event_code}, 35011, 'same name → credential_already_exists');

my %missing = (serviceaccount => 'private_key', adminconsent => 'client_secret', integration => 'client_id');
for my $type (sort keys %missing) {
    my $provider = $type eq 'adminconsent' ? 'microsoft' : 'google';
    my %data = (private_key_id => 'a', private_key => 'b', client_email => 'c', client_id => 'd', client_secret => 'e');
    delete $data{ $missing{$type} };
    $r = api(POST => "/integrations/$provider/creds",
             { name => "m-$type", credential_type => $type, credential_data => \%data });
    is($r->{json}{error}{event_code}, 35012, "$type without $missing{$type} → credential_missing_param");
    like($r->{json}{error}{message}, qr/$missing{$type}/, '... naming the key');
}

$r = api(POST => '/integrations/google/creds', { name => 'x', credential_type => 'adminconsent',
                                                 credential_data => { client_id => 'a', client_secret => 'b' } });
is($r->code, 400, 'adminconsent is for microsoft only');
$r = api(POST => '/integrations/google/creds', { name => 'x', credential_type => 'bogus', credential_data => {} });
is($r->{json}{error}{event_code}, 700, 'unknown credential_type');
$r = api(POST => '/integrations/imap/creds', { name => 'x', credential_type => 'integration',
                                               credential_data => { client_id => 'a', client_secret => 'b' } });
is($r->{json}{error}{event_code}, 35004, 'no imap integration → integration_not_found');

$r = api(POST => '/integrations/google/creds', { name => 'ovr', credential_type => 'integration',
                                                 credential_data => { client_id => 'a', client_secret => 'b' } });
is($r->code, 201, 'integration override created');

$r = api(GET => '/integrations/google/creds');
is(scalar @{ $r->{json}{data} }, 2, 'two credentials listed');
is($r->{json}{limit}, 10, 'limit');
$r = api(GET => '/integrations/google/creds', undef, query => 'order_by=asc&sort_by=created_at&limit=1');
is(scalar @{ $r->{json}{data} }, 1, 'limit 1');
$r = api(GET => '/integrations/google/creds', undef, query => 'sort_by=name');
is($r->{json}{error}{event_code}, 701, 'bad sort_by');

$r = api(GET => "/integrations/google/creds/$id");
is($r->{json}{data}{id}, $id, 'read');
$r = api(PATCH => "/integrations/google/creds/$id", { name => 'renamed' });
is($r->{json}{data}{name}, 'renamed', 'patch name');
$r = api(PATCH => "/integrations/google/creds/$id", { credential_data => { private_key_id => 'only' } });
is($r->{json}{error}{event_code}, 35012, 'patch data still needs required keys');
$r = api(PATCH => "/integrations/google/creds/$id", { name => 'ovr' });
is($r->{json}{error}{event_code}, 35011, 'rename onto an existing name refused');
$r = api(GET => "/integrations/google/creds/$id");
is($r->{json}{data}{name}, 'renamed', 'failed patches changed nothing');

$r = api(DELETE => "/integrations/google/creds/$id");
is($r->code, 200, 'delete');
$r = api(GET => "/integrations/google/creds/$id");
is($r->{json}{error}{event_code}, 35010, 'credential_not_found');

# deleting the integration removes its credentials in the same transaction
api(DELETE => '/integrations/google');
my ($n) = dbh()->selectrow_array('SELECT COUNT(*) FROM credentials');
is($n, 0, 'credentials went with their integration');
