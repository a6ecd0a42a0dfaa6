# The Context.IO 2.0 API's OAuth 1.0a signatures (RFC 5849, HMAC-SHA1),
# checked against two independent signers, Perl's Net::OAuth and npm's
# oauth-1.0a: in the Authorization header (with and without a realm, with and
# without spaces after the commas), in the query string, in the form body,
# and the PHP client's POST with its form parameters in the query string too.
# Every rejection answers 401 with `WWW-Authenticate: OAuth` and Context.IO's
# error shape, and changes nothing: no signature, Basic, a wrong secret, an
# unknown key, another method or URL, timestamps outside ±300 s, a nonce seen
# before (in this process or another: ConnectCache), an unsupported method or
# version, a token on a 2-legged application. The API's other errors (404,
# 405, 413, 400) have the same shape; Content-Type is exactly application/json.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::ContextIO;

plan skip_all => cio_missing() if cio_missing();

reset_db();
my $cb = 'https://app.example/connected';
sub count_tokens { scalar(my @t = db_rows('cio_connect_tokens')) }

sub is_error {
    my ($r, $code, $name, $value_re) = @_;
    is $r->code, $code, "$name: $code" or diag $r->as_string;
    is $r->header('Content-Type'), 'application/json', '... Content-Type exactly application/json';
    is_deeply [sort keys %{ $r->{json} || {} }], [qw(type value)], '... {type, value}';
    is $r->{json}{type}, 'error', '... type error';
    like $r->{json}{value} // '', $value_re, '... the value says why' if $value_re;
    if ($code == 401) {
        like $r->header('WWW-Authenticate') // '', qr/^OAuth\b/, '... WWW-Authenticate: OAuth';
    }
}

# ---- both signers, every way of sending the parameters ----------------------------------
for my $signer (qw(perl node)) {
    for my $mode (qw(header header-nospace realm query)) {
        my $r = cio($signer => GET => '/connect_tokens', {}, mode => $mode);
        is $r->code, 200, "$signer, $mode: GET /connect_tokens 200" or diag $r->as_string;
        is $r->header('Content-Type'), 'application/json', '... Content-Type exactly application/json';
        is ref $r->{json}, 'ARRAY', '... a list';
    }
    for my $mode (qw(header query form php)) {
        my $before = count_tokens();
        my $r = cio($signer => POST => '/connect_tokens',
                    { callback_url => "$cb?via=$mode", email => 'ann@example.com',
                      first_name => 'Ann', last_name => 'Lee' }, mode => $mode);
        is $r->code, 200, "$signer, $mode: POST /connect_tokens 200" or diag $r->as_string;
        ok $r->{json}{success} && ref $r->{json}{success}, '... success true (a JSON boolean)';
        is count_tokens(), $before + 1, '... one token stored';
        # parameters in the query of a GET are signed too
        $r = cio($signer => GET => "/connect_tokens/$r->{json}{token}", {}, mode => $mode eq 'form' ? 'query' : $mode);
        is $r->code, 200, '... and it reads back' or diag $r->as_string;
        is $r->{json}{callback_url}, "$cb?via=$mode", '... with its callback_url';
    }
    # a query parameter on a GET is part of the base string
    my $r = cio($signer => GET => '/accounts', { limit => 5, email => 'nobody@example.com' });
    is $r->code, 200, "$signer: GET /accounts?limit&email signed" or diag $r->as_string;
    is_deeply $r->{json}, [], '... no account';
}

# ---- rejections -----------------------------------------------------------------------------
my $before = count_tokens();
my %post = (callback_url => $cb);
my $r = cio_send(HTTP::Request->new(GET => cio_url('/connect_tokens')));
is_error($r, 401, 'no signature', qr/not signed/);
{
    my $req = HTTP::Request->new(GET => cio_url('/connect_tokens'));
    $req->authorization_basic(app_creds('one'));
    is_error(cio_send($req), 401, 'Basic credentials instead', qr/not signed/);
}
for my $signer (qw(perl node)) {
    is_error(cio($signer => POST => '/connect_tokens', \%post, secret => 'another-secret-0123456789'),
             401, "$signer: a wrong consumer secret", qr/signature does not match/);
    is_error(cio($signer => POST => '/connect_tokens', \%post, mode => 'query', secret => 'x' x 20),
             401, "$signer: a wrong consumer secret in query form", qr/signature does not match/);
    is_error(cio($signer => POST => '/connect_tokens', \%post,
                 tamper => sub { $_[0]{oauth_consumer_key} = 'app-nobody' }),
             401, "$signer: an unknown consumer key", qr/unknown oauth_consumer_key/);
    is_error(cio($signer => GET => '/connect_tokens', {}, method_signed => 'POST'),
             401, "$signer: signed for another method", qr/signature does not match/);
    is_error(cio($signer => GET => '/connect_tokens', {}, path_signed => '/accounts'),
             401, "$signer: signed for another URL", qr/signature does not match/);
    is_error(cio($signer => POST => '/connect_tokens', \%post,
                 tamper => sub { $_[0]{oauth_signature} =~ tr/A-Za-z/B-ZAb-za/ }),
             401, "$signer: a changed signature", qr/signature does not match/);
    # (the exact edges, ±300 and ±301, are test_oauth1's: a second may pass on the way)
    for my $skew (320, -320, 3600, -86400) {
        is_error(cio($signer => POST => '/connect_tokens', \%post, timestamp => time + $skew),
                 401, "$signer: timestamp $skew s away", qr/300 seconds/);
    }
    $r = cio($signer => POST => '/connect_tokens', \%post, timestamp => time - 290);
    is $r->code, 200, "$signer: 290 s old is still inside the window" or diag $r->as_string;
    ++$before;
    for my $m (qw(PLAINTEXT RSA-SHA1 HMAC-SHA256 hmac-sha1)) {
        is_error(cio($signer => POST => '/connect_tokens', \%post,
                     tamper => sub { $_[0]{oauth_signature_method} = $m }),
                 401, "$signer: oauth_signature_method $m", qr/HMAC-SHA1/);
    }
    is_error(cio($signer => POST => '/connect_tokens', \%post,
                 tamper => sub { $_[0]{oauth_version} = '2.0' }),
             401, "$signer: oauth_version 2.0", qr/oauth_version/);
    is_error(cio($signer => POST => '/connect_tokens', \%post, token => ['some-token', 'ts']),
             401, "$signer: a token on a 2-legged application", qr/2-legged/);
    is_error(cio($signer => POST => '/connect_tokens', \%post,
                 tamper => sub { delete $_[0]{oauth_nonce} }),
             401, "$signer: no nonce", qr/not signed/);
    is_error(cio($signer => GET => '/connect_tokens', {},
                 tamper => sub { $_[0]{oauth_timestamp} = 'soon' }),
             401, "$signer: a timestamp that is not a number", qr/oauth_timestamp/);
}
{
    # a protocol parameter in the header and the query at once
    my $req = cio(perl => GET => '/connect_tokens', {}, raw => 1);
    $req->uri($req->uri . '?oauth_nonce=another');
    is_error(cio_send($req), 401, 'oauth_nonce in the header and the query', qr/more than once/);
    # a header that does not parse
    $req = cio(perl => GET => '/connect_tokens', {}, raw => 1);
    (my $h = $req->header('Authorization')) =~ s/", /" /;
    $req->header(Authorization => $h);
    is_error(cio_send($req), 401, 'a header without its commas', qr/commas/);
}
is count_tokens(), $before, 'no refused request stored a token';

# ---- replays: the same request twice, in one process and across two --------------------
{
    my $req = cio(node => POST => '/connect_tokens', \%post, raw => 1);
    is cio_send($req)->code, 200, 'a signed request';
    is_error(cio_send($req), 401, '... sent again: a replay', qr/used before/);
    $req = cio(perl => GET => '/connect_tokens', {}, mode => 'query', raw => 1);
    is cio_send($req)->code, 200, 'a request signed in its query';
    is_error(cio_send($req), 401, '... sent again: a replay', qr/used before/);
}
{
    # each on a new connection; the error log says which process answered
    my ($across, $refused) = (0, 0);
    for my $try (1 .. 20) {
        my $req = cio(perl => GET => '/connect_tokens', {}, raw => 1);
        $req->header(Connection => 'close');
        my @pids;
        my @codes;
        for (1 .. 2) {
            my $at = error_log_offset();
            my $res = cio_send($req);
            push @codes, $res->code;
            my $rid = $res->header('X-Request-Id') // '-';
            my ($pid) = error_log_since($at) =~ /\[pid (\d+):[^\]]*\] \[\Q$rid\E\]/;
            push @pids, $pid // '?';
        }
        next if grep { $_ eq '?' } @pids or $pids[0] eq $pids[1];
        $across = 1;
        $refused = $codes[0] == 200 && $codes[1] == 401;
        last;
    }
    ok $across, 'a request and its replay answered by two processes' or diag 'never spread';
    ok $refused, '... the replay refused by the other process (the nonce in ConnectCache)';
}

# ---- the API's other errors, in the same shape ------------------------------------------
is_error(cio(perl => GET => '/nothing/here'), 404, 'an unknown route', qr/no such endpoint/);
is_error(cio(perl => PUT => '/connect_tokens'), 405, 'PUT /connect_tokens', qr/not allowed/);
is_error(cio(perl => GET => '/connect_tokens/no-such-token'), 404, 'an unknown token',
         qr/no such connect token/);
is_error(cio(perl => POST => '/connect_tokens', { callback_url => 'ftp://app.example/cb' }), 400,
         'a callback_url that is not http(s)', qr/callback_url/);
is_error(cio(perl => POST => '/connect_tokens', {}), 400, 'no callback_url', qr/callback_url is required/);
is_error(cio(perl => POST => '/connect_tokens', { callback_url => $cb, color => 'red' }), 400,
         'an unknown parameter', qr/unknown parameter 'color'/);
{
    my $big = cio(perl => POST => '/connect_tokens', { callback_url => $cb, source_x => 'y' x 70000 });
    is_error($big, 413, 'a body over ConnectMaxBody');
}
# Paths httpd itself refuses (bad or NUL percent-escapes, an encoded slash) answer in the
# API's shape; so do HEAD (a GET without the body) and a method httpd does not
# know (405 naming the allowed ones), signed or not.
for my $path ('/connect_tokens/%zz', '/connect_tokens/a%00b', '/%zz', '/accounts/%2', '/connect_tokens/a%2Fb') {
    for my $method (qw(GET POST HEAD)) {
        my $r = cio_send(HTTP::Request->new($method => cio_url($path)));
        if ($method eq 'HEAD') {
            is $r->code, 400, "HEAD $path: 400" or diag $r->as_string;
            is $r->header('Content-Type'), 'application/json', '... Content-Type exactly application/json';
            is $r->content, '', '... no body';
        }
        else {
            is_error($r, 400, "$method $path", qr/not valid percent-encoding/);
        }
    }
}
{
    my $r = cio_send(HTTP::Request->new(HEAD => cio_url('/connect_tokens/no-such-token')));
    is $r->code, 401, 'HEAD without a signature: 401' or diag $r->as_string;
    is $r->header('Content-Type'), 'application/json', '... Content-Type exactly application/json';
    like $r->header('WWW-Authenticate') // '', qr/^OAuth\b/, '... WWW-Authenticate: OAuth';
    is $r->content, '', '... no body';
    $r = cio(perl => HEAD => '/connect_tokens/no-such-token');
    is $r->code, 404, 'a signed HEAD of an unknown token: 404' or diag $r->as_string;
    is $r->header('Content-Type'), 'application/json', '... Content-Type exactly application/json';
    my $tok = cio(perl => POST => '/connect_tokens', { callback_url => $cb })->{json}{token};
    $r = cio(perl => HEAD => "/connect_tokens/$tok");
    is $r->code, 200, 'a signed HEAD of a token: 200' or diag $r->as_string;
    ok $r->header('Content-Length') > 0 && $r->content eq '', '... its length, no body';
    $before++;
}
for my $method (qw(FROB PROPFIND)) {
    my $r = cio(perl => $method => '/connect_tokens');
    is_error($r, 405, "$method /connect_tokens", qr/\Q$method\E is not allowed/);
    is $r->header('Allow'), 'GET, POST', '... Allow: GET, POST';
    $r = cio_send(HTTP::Request->new($method => cio_url('/connect_tokens/x')));
    is_error($r, 405, "$method /connect_tokens/{token} unsigned", qr/not allowed/);
    like $r->header('Allow') // '', qr/^GET, DELETE$/, '... Allow: GET, DELETE';
}
is count_tokens(), $before + 1, 'only the good request stored a token';
done_testing();
