# A server whose DocumentRoot, and the directory above it, the server's user
# cannot read or search (a tree cloned into a mode-0700 home): the module
# claims its requests before httpd maps them to the file system, so every
# route still gets the module's JSON or page, never Apache's 403, and the
# hosted flow's session (mod_session, configured in the <Location>) works.
# A static file under that DocumentRoot stays forbidden: only the module's
# requests skip the file system.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use HTTP::Request ();
use CnTest qw(:all);
use CnTest::Httpd;
use CnTest::Flow qw(browser query_of fake_client);

if (db_driver() ne 'sqlite3') {
    plan skip_all => 'runs its own httpd on SQLite; it runs in the sqlite passes';
}
if ($> == 0) {
    plan skip_all => 'root reads every directory: run as the unprivileged test user';
}

my $h = CnTest::Httpd->new;
my $private = $h->path('private');
my $docroot = "$private/htdocs";
mkdir $private or die "$private: $!";
mkdir $docroot or die "$docroot: $!";
$h->write_file('private/htdocs/index.html', "static\n");

my $fake = 'https://127.0.0.1:' . conf_value('cn_fakeport');
# As the shipped configurations: no .htaccess lookups, so what refuses a
# request is the walk down to the file.
my $extra = join "\n",
    qq{DocumentRoot "$docroot"},
    '<Directory />', '    AllowOverride None', '</Directory>',
    'ConnectCAFile ' . conf_value('cn_cafile'),
    "ConnectProviderEndpoint google authorize $fake/google/authorize",
    "ConnectProviderEndpoint google token $fake/google/token",
    "ConnectProviderEndpoint google userinfo $fake/google/userinfo";
$h->write_conf(extra => $extra);
# The parent checks DocumentRoot at start-up (as root it could); the
# children, which answer the requests, are the ones that cannot reach it.
ok $h->start, 'starts' or diag $h->output;
chmod 0000, $docroot, $private or die "chmod: $!";
END { chmod 0700, $private, $docroot if defined $private && -d $private }
ok !-x $private, 'the directory above DocumentRoot is not searchable by the server\'s user';

my $ua = LWP::UserAgent->new(timeout => 30, max_redirect => 0, keep_alive => 0);
my $base = $h->base_url . '/connect';
sub call {
    my ($method, $path, %o) = @_;
    my $req = HTTP::Request->new($method => $base . $path);
    $req->authorization_basic($h->app_creds) if $o{auth};
    if (defined $o{body}) {
        $req->content(CnTest::json_encode($o{body}));
        $req->header('Content-Type' => 'application/json');
        $req->header('Content-Length' => length $req->content);
    }
    my $res = $ua->request($req);
    $res->{json} = CnTest::json_decode($res->content);
    return $res;
}
sub is_envelope {
    my ($res, $status, $type, $name) = @_;
    is $res->code, $status, "$name: $status" or diag $res->as_string;
    like $res->header('Content-Type') // '', qr{^application/json}, "$name: JSON";
    is $res->{json} && $res->{json}{error} && $res->{json}{error}{type}, $type, "$name: $type";
    ok $res->header('X-Request-Id'), "$name: X-Request-Id";
}

# ---- the API ---------------------------------------------------------------------
my ($client_id, $client_secret) = fake_client('google');
my $RU = 'https://app.example/oauth/done';
my $res = call(POST => '/integrations', auth => 1, body => {
    name => 'private', provider => 'google',
    settings => { client_id => $client_id, client_secret => $client_secret },
    redirect_uris => [$RU], scope => ['https://www.googleapis.com/auth/gmail.readonly'] });
is $res->code, 201, 'POST /integrations: 201' or diag $res->as_string;

$res = call(GET => '/integrations', auth => 1);
is $res->code, 200, 'GET /integrations: 200' or diag $res->as_string;
is scalar @{ $res->{json}{data} || [] }, 1, 'GET /integrations: the integration';

$res = call(GET => '/integrations/google', auth => 1);
is $res->code, 200, 'GET /integrations/google: 200' or diag $res->as_string;

$res = call(GET => '/providers/find?client_id=app');
is $res->code, 200, 'GET /providers/find?client_id=: 200' or diag $res->as_string;
is_deeply [map { $_->{provider} } @{ $res->{json}{data} || [] }], ['google'], '... google';

$res = call(GET => '/providers/detect?email=ann@gmail.com', auth => 1);
is $res->code, 200, 'GET /providers/detect: 200' or diag $res->as_string;

$res = call(GET => '/grants', auth => 1);
is $res->code, 200, 'GET /grants: 200' or diag $res->as_string;

is_envelope(call(GET => '/integrations'), 401, 'invalid_request_error', 'GET /integrations without credentials');
is_envelope(call(GET => '/no/such/route', auth => 1), 404, 'not_found_error', 'unknown route');
is_envelope(call(GET => '/grants/00000000-0000-4000-8000-000000000000', auth => 1), 404,
            'grant_not_found', 'unknown grant');
is_envelope(call(PUT => '/integrations', auth => 1), 405, 'method_not_allowed', 'PUT /integrations');
is_envelope(call(GET => ''), 404, 'not_found_error', 'the mount itself');

# ---- the browser's pages and the session -------------------------------------------
$res = call(GET => '/login?id=bogus');
is $res->code, 400, 'GET /login?id=bogus: 400' or diag $res->as_string;
like $res->header('Content-Type') // '', qr{^text/html}, '... the module\'s HTML page';
like $res->content, qr/login_id_invalid/, '... naming login_id_invalid';

$res = call(GET => '/callback?state=x&code=y');
is $res->code, 400, 'GET /callback without a session: 400' or diag $res->as_string;
like $res->header('Content-Type') // '', qr{^text/html}, '... the module\'s HTML page';

# The whole dance: the session cookie /login writes must come back to /callback.
$res = call(POST => '/auth', auth => 1,
            body => { provider => 'google', redirect_uri => $RU, login_hint => 'private@example.com' });
is $res->code, 200, 'POST /auth: 200' or diag $res->as_string;
my $browser = browser();
my $login = $browser->get($res->{json}{data}{url} // "$base/login");
is $login->code, 302, 'GET /login: 302' or diag $login->as_string;
like $login->header('Set-Cookie') // '', qr/^connect_session=/, '... with the session cookie';
my $authorize = $browser->get($login->header('Location') // $fake);
is $authorize->code, 302, 'the provider\'s consent: 302 back' or diag $authorize->as_string;
my $callback = $browser->get($authorize->header('Location') // "$base/callback");
is $callback->code, 302, 'GET /callback: 302 to the application' or diag $callback->as_string;
my $result = query_of($callback->header('Location'));
is $result->{success}, 'true', '... success=true' or diag $callback->header('Location');
ok $result->{grant_id}, '... with a grant id';

# ---- what is not the module's stays on the file system ----------------------------
my $static = $ua->get($h->base_url . '/index.html');
is $static->code, 403, 'a file under the unreadable DocumentRoot: 403 (httpd\'s own mapping)';

# `-k stop` reads the configuration again, DocumentRoot included.
chmod 0700, $private, $docroot;
ok $h->stop, 'stops';
my @refused = grep { /\Q$private\E/ && !m{ /index\.html } } split /\n/, $h->error_log;
is scalar @refused, 0, 'no request but the static file\'s met the unreadable directory'
    or diag join "\n", @refused[0 .. ($#refused > 2 ? 2 : $#refused)];

undef $h;
done_testing;
