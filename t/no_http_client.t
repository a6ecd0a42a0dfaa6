# A child whose HTTP client cannot be set up (libcurl makes no handle) says
# so at its start, keeps serving what needs no provider, and answers the
# calls that need one with 503 in the envelope: never a crash.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use CnTest qw(:all);
use CnTest::Httpd;
use CnTest::Flow;

if (db_driver() ne 'sqlite3') {
    plan skip_all => 'runs its own httpd on SQLite; it runs in the sqlite pass';
}

my $h = CnTest::Httpd->new;
my $shim = $h->path('curl_easy_init_fails.so');
my $src = t_dir() . '/lib/c/curl_easy_init_fails.c';
is system('gcc', '-shared', '-fPIC', '-O2', '-o', $shim, $src), 0, 'the libcurl failure shim builds';
my $fake = fake_url("");
$h->write_conf(extra => join "\n",
    'ConnectCAFile ' . conf_value('cn_cafile'),
    "ConnectProviderEndpoint google token $fake/google/token",
    "ConnectProviderEndpoint google userinfo $fake/google/userinfo");
ok $h->start(env => { LD_PRELOAD => $shim }), 'the server starts with libcurl unable to make handles'
    or diag $h->output;

my $r = $h->api(POST => '/integrations', {
    name => 'g', provider => 'google', settings => { client_id => 'test-google-client',
                                                     client_secret => 'test-google-secret' },
    redirect_uris => ['https://app.example/cb'], scope => ['openid'] });
is $r->code, 201, 'what needs no provider works: POST /integrations 201' or diag $r->content;
my ($seed) = grep { $_->[0] eq 'google' } seeded_tokens();
$r = $h->api(POST => '/grants', { provider => 'google', settings => { refresh_token => $seed->[1] } });
is $r->code, 503, 'native authentication, which calls the provider: 503';
is $r->{json}{error}{type}, 'service_unavailable', '... service_unavailable';
is $r->{json}{error}{event_code}, 503, '... event code 503';
$r = $h->api(GET => '/grants');
is $r->code, 200, 'the server still answers afterwards';
is scalar(@{ $r->{json}{data} || [1] }), 0, '... and stored no grant';
ok $h->stop, 'it stops';
my $out = $h->output;
like $out, qr/CN00022: cannot set up libcurl: calls to providers will answer 503/, 'the child said so at its start';
like $out, qr/CN00101: POST \/grants -> 503 service_unavailable \(503\): token refresh: no HTTP client/,
    'the 503 is logged with its cause';
unlike $out, qr/exit signal|Segmentation fault/, 'no child crashed';

done_testing;
