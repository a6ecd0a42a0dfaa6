# Schema 5 moves a grant's key from its email to the provider identity. A
# database of schema 4 (its DDL below, as the module created it) is
# migrated at start-up: the grants keep their rows and ids, take their
# stored provider_user_id as subject, may now share an email, and their
# users' next sign-in finds them (Microsoft's key becoming tenant/oid).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use DBI ();
use CnTest qw(:all);
use CnTest::Httpd;
use CnTest::Flow;

# A database of its own: a file on SQLite, a database of the test server on PostgreSQL.
my $h = CnTest::Httpd->new;
my $pg = db_driver() eq 'pgsql';
my (%pg, $pgdb);
if ($pg) {
    %pg = map { split /=/, $_, 2 } split ' ', conf_value('cn_dbdparams');
    $pgdb = "cn_v4_$$";
    dbh()->do("CREATE DATABASE $pgdb");
}
END { eval { dbh()->do("DROP DATABASE IF EXISTS $pgdb") } if $pgdb }
sub connect_db {
    return DBI->connect('dbi:SQLite:dbname=' . $h->db_file, '', '', { RaiseError => 1, AutoCommit => 1 })
        unless $pg;
    return DBI->connect("dbi:Pg:dbname=$pgdb;host=$pg{host};port=$pg{port}", $pg{user}, '',
                        { RaiseError => 1, PrintError => 0, AutoCommit => 1 });
}

my @v4 = (
    'CREATE TABLE schema_version (version INTEGER NOT NULL)',
    'INSERT INTO schema_version (version) VALUES (4)',
    'CREATE TABLE integrations (id TEXT PRIMARY KEY, app_id TEXT NOT NULL, provider TEXT NOT NULL,
       name TEXT NOT NULL, settings TEXT NOT NULL, client_secret TEXT, redirect_uris TEXT NOT NULL,
       scope TEXT NOT NULL, expires_in INTEGER NOT NULL, created_at BIGINT NOT NULL,
       updated_at BIGINT NOT NULL, UNIQUE (app_id, provider))',
    'CREATE INDEX integrations_app_created ON integrations (app_id, created_at, id)',
    'CREATE TABLE credentials (id TEXT PRIMARY KEY, integration_id TEXT NOT NULL, app_id TEXT NOT NULL,
       provider TEXT NOT NULL, name TEXT NOT NULL, credential_type TEXT NOT NULL,
       credential_data TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
       UNIQUE (integration_id, name))',
    'CREATE TABLE login_requests (id_digest TEXT PRIMARY KEY, app_id TEXT NOT NULL,
       integration_id TEXT NOT NULL, provider TEXT NOT NULL, request TEXT NOT NULL,
       expires_at BIGINT NOT NULL, used_at BIGINT, created_at BIGINT NOT NULL, callback_at BIGINT)',
    'CREATE TABLE grants (id TEXT PRIMARY KEY, app_id TEXT NOT NULL, integration_id TEXT NOT NULL,
       provider TEXT NOT NULL, email TEXT NOT NULL, grant_status TEXT NOT NULL, scope TEXT NOT NULL,
       user_agent TEXT, ip TEXT, state TEXT, provider_user_id TEXT, settings TEXT NOT NULL,
       refresh_token TEXT, access_token TEXT, access_expires_at BIGINT, created_at BIGINT NOT NULL,
       updated_at BIGINT NOT NULL, revision BIGINT NOT NULL DEFAULT 0, UNIQUE (app_id, provider, email))',
    'CREATE INDEX grants_app_created ON grants (app_id, created_at, id)',
    'CREATE INDEX grants_app_email ON grants (app_id, email)',
    'CREATE TABLE events (log_id TEXT PRIMARY KEY, app_id TEXT, code INTEGER NOT NULL, type TEXT NOT NULL,
       level TEXT NOT NULL, message TEXT NOT NULL, data TEXT NOT NULL, request_id TEXT, time BIGINT NOT NULL)',
);
{
    my $dbh = connect_db();
    $dbh->do($_) for @v4;
    my $ins = $dbh->prepare('INSERT INTO grants (id, app_id, integration_id, provider, email, grant_status,
        scope, provider_user_id, settings, created_at, updated_at, revision)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    $ins->execute('11111111-1111-4111-8111-111111111111', 'app', 'old-int-g', 'google',
                  'legacy.g@example.com', 'valid', '["openid"]', google_user_id('legacy.g@example.com'),
                  '{"note":"kept"}', 1700000000, 1700000001, 3);
    $ins->execute('22222222-2222-4222-8222-222222222222', 'app', 'old-int-m', 'microsoft',
                  'legacy.m@example.com', 'valid', '["openid"]', microsoft_user_id('legacy.m@example.com'),
                  '{}', 1700000000, 1700000001, 0);
    $ins->execute('33333333-3333-4333-8333-333333333333', 'app', 'old-int-g', 'google',
                  'no.id@example.com', 'valid', '[]', undef, '{}', 1700000000, 1700000001, 0);
    $dbh->disconnect;
}
my $fake = fake_url('');
$h->write_conf(($pg ? (dbd => 0) : ()), extra => join "\n",
    ($pg ? ('DBDriver pgsql', "DBDParams \"host=$pg{host} port=$pg{port} dbname=$pgdb user=$pg{user}\"") : ()),
    'ConnectCAFile ' . conf_value('cn_cafile'),
    map { my ($p, $n, $u) = @$_; "ConnectProviderEndpoint $p $n $fake$u" }
        [google => token => '/google/token'], [google => userinfo => '/google/userinfo'],
        [microsoft => token => '/microsoft/{tenant}/oauth2/v2.0/token'],
        [microsoft => graph => '/microsoft/graph/v1.0']);
ok $h->start, 'the module starts on a database of schema 4' or diag $h->output;
# The current schema: 7 (job leases) or later.
my ($to) = $h->output =~ /schema migrated from version 4 to (\d+)/;
ok defined $to && $to >= 7, 'and migrates it to the current schema (7 or later)' or diag $h->output;

my $dbh = connect_db();
is $dbh->selectrow_array('SELECT version FROM schema_version'), $to // 'none', 'schema_version is that version';
is $dbh->selectrow_array(q{SELECT COUNT(*) FROM job_leases}), 0, 'the job leases\' table is there';
is $dbh->selectrow_array(q{SELECT COUNT(*) FROM grants WHERE refresh_lease_until <> 0}), 0, 'every grant without a refresh lease (schema 8)';
SKIP: {
    skip 'schema 10 not reached', 2 unless ($to // 0) >= 10;
    is $dbh->selectrow_array(q{SELECT COUNT(*) FROM grants WHERE refresh_failures <> 0 OR refresh_retry_at <> 0}),
        0, 'every grant without a refresh cool-down (schema 10)';
    is_deeply $dbh->selectcol_arrayref(q{SELECT COUNT(*) FROM grants WHERE refreshed_at = updated_at}), [3],
        '... and last refreshed when it was last updated';
}
is $dbh->selectrow_array(q{SELECT COUNT(*) FROM oauth_codes}), 0, 'the OAuth server\'s tables are there (codes)';
is $dbh->selectrow_array(q{SELECT COUNT(*) FROM oauth_tokens}), 0, '... and tokens';
my %row = map { $_->{id} => $_ } @{ $dbh->selectall_arrayref('SELECT * FROM grants', { Slice => {} }) };
is scalar(keys %row), 3, 'every grant is kept';
my $g = $row{'11111111-1111-4111-8111-111111111111'};
is $g->{subject}, google_user_id('legacy.g@example.com'), 'a Google grant\'s subject: its stored sub';
is_deeply [@$g{qw(email settings created_at updated_at revision)}],
          ['legacy.g@example.com', '{"note":"kept"}', 1700000000, 1700000001, 3], '... its columns kept';
is $row{'22222222-2222-4222-8222-222222222222'}{subject}, microsoft_user_id('legacy.m@example.com'),
    'a Microsoft grant\'s subject: its stored oid';
is $row{'33333333-3333-4333-8333-333333333333'}{subject}, undef, 'a grant without provider_user_id: no subject';

# The key is the subject now, not the email.
my $ins = 'INSERT INTO grants (id, app_id, integration_id, provider, email, grant_status, scope, settings,
           created_at, updated_at, subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
ok eval { $dbh->do($ins, undef, 'x1', 'app', 'i', 'google', 'legacy.g@example.com', 'valid', '[]', '{}', 1, 1, 'other-sub'); 1 },
    'another subject with the same email can be stored';
ok !eval { local $dbh->{PrintError} = 0; $dbh->do($ins, undef, 'x2', 'app', 'i', 'google', 'x@example.com', 'valid', '[]', '{}', 1, 1, 'other-sub'); 1 },
    'the same subject twice cannot';
$dbh->do(q{DELETE FROM grants WHERE id = 'x1'});

# The users sign in again (native authentication against the fake).
for my $p (qw(google microsoft)) {
    my ($id, $secret) = fake_client($p);
    my $r = $h->api(POST => '/integrations', { name => $p, provider => $p,
        settings => { client_id => $id, client_secret => $secret },
        redirect_uris => ['https://app.example/cb'], scope => ['openid'] });
    is $r->code, 201, "a $p integration";
}
my $tok = secret_token('rt-legacy');
fake_seed(google => $tok, 'Legacy.G@example.com');
my $r = $h->api(POST => '/grants', { provider => 'google', settings => { refresh_token => $tok } });
is $r->code, 200, 'the Google user signs in again: 200 (re-authenticated)' or diag $r->content;
is $r->{json}{data}{id}, '11111111-1111-4111-8111-111111111111', '... the grant from before the migration';
$tok = secret_token('rt-legacy');
fake_seed(microsoft => $tok, 'legacy.m@example.com');
$r = $h->api(POST => '/grants', { provider => 'microsoft', settings => { refresh_token => $tok } });
is $r->code, 200, 'the Microsoft user signs in again: 200' or diag $r->content;
is $r->{json}{data}{id}, '22222222-2222-4222-8222-222222222222', '... the grant from before the migration';
is $dbh->selectrow_array(q{SELECT subject FROM grants WHERE id = '22222222-2222-4222-8222-222222222222'}),
    microsoft_tenant_id() . '/' . microsoft_user_id('legacy.m@example.com'), '... its key is now tenant/oid';
is $dbh->selectrow_array('SELECT COUNT(*) FROM grants'), 3, 'no grant added';
ok $h->stop, 'it stops';
$dbh->disconnect;
undef $h;

done_testing;
