# Connect tokens of the Context.IO 2.0 API (seeds 000 and 003) as far as the
# API goes: POST answers success, token, resource_url (the URL the client
# called, so a client that strips its base URL finds the path) and
# browser_redirect_url (below ConnectBaseURL); the token object has exactly
# seed 000's fields (used 0, expires a time, account {} until used); lists,
# reads and deletes are the application's own; an unused token past its 24
# hours is gone (and purged); the token is stored as a digest and sealed, never in clear;
# bad parameters are refused with nothing stored. (The connect UI behind
# browser_redirect_url: t/contextio_connect.t.)
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Digest::SHA qw(sha256_hex);
use CnTest qw(:all);
use CnTest::ContextIO;

plan skip_all => cio_missing() if cio_missing();

reset_db();
my $cb = 'https://app.example/connected?user=7';
my $sealed = sealed_re();
sub count_tokens { scalar(my @t = db_rows('cio_connect_tokens')) }
my @seed_fields = sort qw(token email created used expires callback_url first_name last_name account);

# ---- create --------------------------------------------------------------------------------------
my $t0 = time;
my $r = cio(perl => POST => '/connect_tokens',
            { callback_url => $cb, email => 'Ann.Lee@Example.com', first_name => 'Ann',
              last_name => 'Lee', source_callback_url => 'https://app.example/synced',
              source_sync_all_folders => 1, source_sync_flags => 0, source_raw_file_list => 1,
              service_level => 'pro', status_callback_url => 'https://app.example/status',
              source_sync_folders => 'INBOX' });
is $r->code, 200, 'POST /connect_tokens: 200' or diag $r->as_string;
is_deeply [sort keys %{ $r->{json} }], [sort qw(success token resource_url browser_redirect_url)],
    '... success, token, resource_url, browser_redirect_url';
my $token = $r->{json}{token};
like $token, qr/\A[A-Za-z0-9_-]{43}\z/, '... a 256-bit token';
is $r->{json}{resource_url}, cio_url("/connect_tokens/$token"),
    '... resource_url: the URL called (scheme, host, port, mount) and the token\'s path';
like $r->{json}{browser_redirect_url}, qr{\A\Q${\ url('/contextio/connect?token=')}\E\Q$token\E\z},
    '... browser_redirect_url below ConnectBaseURL';

# ---- read: exactly seed 000's fields ----------------------------------------------------------
(my $path = $r->{json}{resource_url}) =~ s{\A\Q${\ cio_url()}\E}{};
$r = cio(node => GET => $path);
is $r->code, 200, 'GET the resource_url with the base stripped: 200' or diag $r->as_string;
my $obj = $r->{json};
is_deeply [sort keys %$obj], \@seed_fields, '... exactly seed 000\'s fields';
is $obj->{token}, $token, '... token';
is $obj->{email}, 'ann.lee@example.com', '... email';
is $obj->{first_name}, 'Ann', '... first_name';
is $obj->{last_name}, 'Lee', '... last_name';
is $obj->{callback_url}, $cb, '... callback_url';
is $obj->{used}, 0, '... used 0';
ok $obj->{created} >= $t0 && $obj->{created} <= time, '... created now';
is $obj->{expires}, $obj->{created} + 86400, '... expires 24 hours later';
is_deeply $obj->{account}, {}, '... account empty';

# ---- at rest: a digest and a sealed token, the kept options ----------------------------------
my ($row) = db_rows('cio_connect_tokens');
is $row->{digest}, sha256_hex($token), 'stored under its SHA-256';
like $row->{token}, $sealed, 'the token sealed';
ok !grep({ defined && index($_, $token) >= 0 } values %$row), 'the token in clear in no column';
my $opts = json_decode($row->{options});
is_deeply $opts, { source_callback_url => 'https://app.example/synced', source_sync_all_folders => 1,
                   source_sync_flags => 0, source_raw_file_list => 1, service_level => 'pro',
                   status_callback_url => 'https://app.example/status', source_sync_folders => 'INBOX' },
    'the source options, service_level and status_callback_url kept';

# ---- the minimal token, and the list -----------------------------------------------------------
$r = cio(node => POST => '/connect_tokens', { callback_url => 'http://localhost:3000/cb' }, mode => 'query');
is $r->code, 200, 'POST with callback_url only (query form): 200' or diag $r->as_string;
my $token2 = $r->{json}{token};
$r = cio(perl => GET => "/connect_tokens/$token2");
is $r->{json}{email}, '', '... email empty';
is $r->{json}{first_name}, '', '... first_name empty';
$r = cio(perl => GET => '/connect_tokens');
is $r->code, 200, 'GET /connect_tokens: 200';
is_deeply [sort map { $_->{token} } @{ $r->{json} }], [sort $token, $token2], '... both';
ok $r->{json}[0]{created} <= $r->{json}[1]{created}, '... oldest first';
is_deeply [sort keys %{ $r->{json}[0] }], \@seed_fields, '... each with seed 000\'s fields';

# ---- another application sees none of them ----------------------------------------------------
$r = cio(perl => GET => '/connect_tokens', {}, app => 'two');
is_deeply $r->{json}, [], 'app two lists none';
$r = cio(perl => GET => "/connect_tokens/$token", {}, app => 'two');
is $r->code, 404, 'app two reads the token: 404';
$r = cio(perl => DELETE => "/connect_tokens/$token", {}, app => 'two');
is $r->code, 404, 'app two deletes it: 404';
is count_tokens(), 2, '... still there';

# ---- the browser's URL without an integration to connect with: a page --------------------------
{
    my $res = CnTest::ua()->get(url("/contextio/connect?token=$token"));
    is $res->code, 404, 'GET browser_redirect_url of an application without integrations: 404';
    like $res->header('Content-Type'), qr{^text/html}, '... a page';
    like $res->content, qr/not set up to connect/, '... saying the application is not set up';
    is count_tokens(), 2, '... the token not spent';
}

# ---- an unused token past its 24 hours is gone -----------------------------------------------------
dbh()->do('UPDATE cio_connect_tokens SET expires_at = ? WHERE digest = ?', undef, time - 1,
          sha256_hex($token2));
$r = cio(perl => GET => "/connect_tokens/$token2");
is $r->code, 404, 'an expired unused token: 404';
is $r->{json}{type}, 'error', '... in the error shape';
$r = cio(perl => GET => '/connect_tokens');
is_deeply [map { $_->{token} } @{ $r->{json} }], [$token], '... and not listed';
{
    # the purge (mod_watchdog, every 2 s here) deletes it; the live one stays
    my $deadline = time + 15;
    my $gone;
    until (($gone = !grep { $_->{digest} eq sha256_hex($token2) } db_rows('cio_connect_tokens'))
           || time > $deadline) {
        select undef, undef, undef, 0.25;
    }
    ok $gone, '... and purged by the background purge';
    ok scalar(grep { $_->{digest} eq sha256_hex($token) } db_rows('cio_connect_tokens')),
        '... the unexpired token stays';
    like error_log(), qr/CN01502: purge: .*; [1-9]\d* unused connect tokens/, '... the purge says so';
}

# ---- delete --------------------------------------------------------------------------------------
$r = cio(node => DELETE => "/connect_tokens/$token");
is $r->code, 200, 'DELETE: 200' or diag $r->as_string;
is_deeply $r->{json}, { success => JSON::true() }, '... {success: true}';
$r = cio(node => GET => "/connect_tokens/$token");
is $r->code, 404, '... then GET: 404';
$r = cio(node => DELETE => "/connect_tokens/$token");
is $r->code, 404, '... DELETE again: 404';

# ---- refusals: 400, nothing stored ----------------------------------------------------------------
my $n = count_tokens();
for my $c (
    ['no callback_url', {}],
    ['a relative callback_url', { callback_url => '/cb' }],
    ['a javascript: callback_url', { callback_url => 'javascript:alert(1)' }],
    ['a callback_url with a fragment', { callback_url => 'https://app.example/#x' }],
    ['a callback_url with a newline', { callback_url => "https://app.example/\r\nX: y" }],
    ['an email that is not one', { callback_url => $cb, email => 'not-an-address' }],
    ['a first_name of 101 bytes', { callback_url => $cb, first_name => 'x' x 101 }],
    ['source_sync_flags 2', { callback_url => $cb, source_sync_flags => 2 }],
    ['source_raw_file_list yes', { callback_url => $cb, source_raw_file_list => 'yes' }],
    ['a source_callback_url that is not http(s)', { callback_url => $cb, source_callback_url => 'file:///etc/passwd' }],
    ['an unknown parameter', { callback_url => $cb, account_id => 'x' }],
) {
    my ($name, $params) = @$c;
    $r = cio(perl => POST => '/connect_tokens', $params);
    is $r->code, 400, "$name: 400" or diag $r->as_string;
    is $r->{json}{type}, 'error', '... {type: error}';
}
is count_tokens(), $n, 'none of them stored a token';
done_testing();
