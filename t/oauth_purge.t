# The start-up sweep: expired login requests, authorization codes and tokens
# are deleted when the server starts; what is still good stays. A server of
# its own on SQLite; the rows are made to expire in the database.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use DBI ();
use CnTest qw(:all);
use CnTest::Httpd;

my $h = CnTest::Httpd->new;
$h->write_conf;
ok $h->start, 'a server of its own starts' or diag $h->output;
ok $h->stop, '... and stops, its schema made';

my $dbh = DBI->connect('dbi:SQLite:dbname=' . $h->db_file, '', '', { RaiseError => 1, AutoCommit => 1 });
my $now = time;
my $code = $dbh->prepare('INSERT INTO oauth_codes (digest, app_id, grant_id, redirect_uri, scope, offline,
    token_lifetime, auth_time, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
$code->execute("code-$_->[0]", 'app', 'g1', 'https://app.example/cb', 'openid', 0, 3600, $now, $_->[1], $now)
    for ['old', $now - 1], ['new', $now + 600];
my $tok = $dbh->prepare('INSERT INTO oauth_tokens (digest, kind, app_id, grant_id, family, scope, lifetime,
    auth_time, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
$tok->execute("tok-$_->[0]", $_->[1], 'app', 'g1', 'f1', 'openid', 3600, $now, $_->[2], $now)
    for ['old-access', 'access', $now - 10], ['old-refresh', 'refresh', $now - 10],
        ['live-access', 'access', $now + 3600], ['live-refresh', 'refresh', $now + 86400];
my $login = $dbh->prepare('INSERT INTO login_requests (id_digest, app_id, integration_id, provider, request,
    expires_at, created_at, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
$login->execute("login-$_->[0]", 'app', 'i1', 'google', '{}', $_->[1], $now, 'hosted')
    for ['old', $now - 5], ['new', $now + 600];
$dbh->disconnect;

ok $h->start, 'the server starts again' or diag $h->output;
like $h->output, qr/CN00024: 4 expired login requests, codes and tokens purged/, 'the sweep says what it deleted';
ok $h->stop, '... and stops';

$dbh = DBI->connect('dbi:SQLite:dbname=' . $h->db_file, '', '', { RaiseError => 1, AutoCommit => 1 });
is_deeply $dbh->selectcol_arrayref('SELECT digest FROM oauth_codes ORDER BY digest'), ['code-new'],
    'the expired code is gone, the other stays';
is_deeply $dbh->selectcol_arrayref('SELECT digest FROM oauth_tokens ORDER BY digest'),
    ['tok-live-access', 'tok-live-refresh'], 'the expired tokens are gone, the live ones stay';
is_deeply $dbh->selectcol_arrayref('SELECT id_digest FROM login_requests ORDER BY id_digest'), ['login-new'],
    'the expired login request is gone';
$dbh->disconnect;
undef $h;

done_testing;
