# What one application creates is invisible (404) to another.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest;

plan tests => 10;
reset_db();

my $r = api(POST => '/integrations', { name => 'one', provider => 'google',
                                       settings => { client_id => 'a', client_secret => 'secret-one' } });
is($r->code, 201, 'app one creates google');
$r = api(POST => '/integrations/google/creds', { name => 'c', credential_type => 'integration',
                                                 credential_data => { client_id => 'a', client_secret => 'b' } });
my $cred = $r->{json}{data}{id};

$r = api(GET => '/integrations/google', undef, app => 'two');
is($r->code, 404, 'app two cannot read it');
$r = api(GET => '/integrations', undef, app => 'two');
is(scalar @{ $r->{json}{data} }, 0, 'app two lists nothing');
$r = api(PATCH => '/integrations/google', { name => 'hijack' }, app => 'two');
is($r->code, 404, 'app two cannot patch it');
$r = api(DELETE => '/integrations/google', undef, app => 'two');
is($r->code, 404, 'app two cannot delete it');
$r = api(GET => "/integrations/google/creds/$cred", undef, app => 'two');
is($r->code, 404, 'app two cannot read the credential');
$r = api(POST => '/integrations', { name => 'two', provider => 'google',
                                    settings => { client_id => 'b', client_secret => 'secret-two' } }, app => 'two');
is($r->code, 201, 'app two has its own google integration');
$r = api(GET => '/integrations/google');
is($r->{json}{data}{name}, 'one', 'app one still sees its own');

my ($one) = app_creds('one');
$r = api(GET => '/providers/find', undef, app => undef, query => "client_id=$one");
is_deeply($r->{json}{data}, [{ provider => 'google' }], 'providers/find is public and per application');
$r = api(GET => '/providers/find', undef, app => undef, query => 'client_id=nobody');
is($r->code, 404, 'unknown application 404');
