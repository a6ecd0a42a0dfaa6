# Secrets at rest: integration client secrets and credential data are stored
# sealed ("cn1.<kid>.<data>"), never in plaintext in the database (its files
# included), never in an API answer, never in the error log.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Find ();
use File::Spec ();
use MIME::Base64 ();
use Digest::SHA ();
use CnTest qw(:all);

reset_db();
my $log_at = error_log_offset();

my (@secrets, @answers);
sub secret { my $s = secret_token('SEKRET'); push @secrets, $s; $s }
sub call {
    my $res = api(@_);
    push @answers, $res;
    return $res;
}

my $kid = test_key_id();
my $sealed_re = sealed_re();

# ---- store secrets ----------------------------------------------------------
my $shared = secret();    # the same plaintext in several rows
my %int_secret = (google => $shared, microsoft => secret());
my $r = call(POST => '/integrations', google_integration(client_secret => $shared));
is $r->code, 201, 'google integration' or diag $r->as_string;
$r = call(POST => '/integrations', {
    name => 'ms', provider => 'microsoft', redirect_uris => ['https://app.example/cb'],
    settings => { client_id => 'ms-client', client_secret => $int_secret{microsoft}, tenant => 'common' } });
is $r->code, 201, 'microsoft integration' or diag $r->as_string;
$r = call(POST => '/integrations', google_integration(client_secret => $shared), app => 'two');
is $r->code, 201, "app two's google integration, same client secret" or diag $r->as_string;
$r = call(POST => '/integrations', { name => 'imap', provider => 'imap' });
is $r->code, 201, 'imap integration (no secret)' or diag $r->as_string;

my @creds = (
    [google => { name => 'sa', credential_type => 'serviceaccount',
                 credential_data => { private_key_id => secret(), client_email => 'svc@p.iam.gserviceaccount.com',
                                      private_key => "-----BEGIN PRIVATE KEY-----\n" . secret() . "\n" } }],
    [google => { name => 'ovr', credential_type => 'integration',
                 credential_data => { client_id => 'ovr-client', client_secret => secret() } }],
    [microsoft => { name => 'consent', credential_type => 'adminconsent',
                    credential_data => { client_id => 'ac-client', client_secret => secret() } }],
    [microsoft => { name => 'same', credential_type => 'integration',
                    credential_data => { client_id => 'x', client_secret => $shared } }],
);
my %cred_id;
for my $c (@creds) {
    $r = call(POST => "/integrations/$c->[0]/creds", $c->[1]);
    is $r->code, 201, "credential $c->[1]{name}" or diag $r->as_string;
    $cred_id{ $c->[1]{name} } = [ $c->[0], $r->{json}{data}{id} ];
}

# Updates seal the new values too.
my $new_google = secret();
$r = call(PATCH => '/integrations/google', { settings => { client_id => 'cid-2', client_secret => $new_google } });
is $r->code, 200, 'google client secret changed' or diag $r->as_string;
$r = call(PATCH => "/integrations/google/creds/$cred_id{ovr}[1]",
          { credential_data => { client_id => 'ovr-2', client_secret => secret() } });
is $r->code, 200, 'credential data changed' or diag $r->as_string;

# Refused requests that carry secrets.
$r = call(POST => '/integrations', google_integration(client_secret => secret()));
is $r->code, 400, 'a second google integration is refused';
$r = call(POST => '/integrations', google_integration(client_secret => secret(), bogus => 1));
is $r->code, 400, 'an unknown field is refused';
$r = call(POST => '/integrations', { name => 'x', provider => 'nope',
                                     settings => { client_id => 'a', client_secret => secret() } });
is $r->code, 400, 'an unknown provider is refused';
$r = call(POST => '/integrations/google/creds', { %{ $creds[1][1] },
          credential_data => { client_id => 'dup', client_secret => secret() } });
is $r->code, 400, 'a duplicate credential name is refused';
$r = call(POST => '/integrations/google/creds', { name => 'bad', credential_type => 'integration',
                                                  credential_data => { client_secret => secret() } });
is $r->code, 400, 'a credential missing a key is refused';
$r = call(POST => '/integrations', undef, raw => '{"name":"x","settings":{"client_secret":"' . secret() . '"');
is $r->code, 400, 'malformed JSON carrying a secret is refused';
my $wrong = secret();
$r = call(GET => '/integrations', undef, app => ['app-one', $wrong]);
is $r->code, 401, 'a wrong application secret is refused';

# Read everything back, every way.
call(GET => '/integrations', undef, query => 'limit=200');
call(GET => '/integrations', undef, app => 'two');
for my $p (qw(google microsoft imap)) {
    call(GET => "/integrations/$p");
    call(GET => "/integrations/$p/creds", undef, query => 'limit=200');
}
call(GET => "/integrations/$_->[0]/creds/$_->[1]") for values %cred_id;
call(GET => '/providers/find', undef, app => undef, query => 'client_id=app-one');

# ---- never in an answer ---------------------------------------------------------
my @leaks;
for my $res (@answers) {
    my $text = $res->as_string;
    push @leaks, grep { index($text, $_) >= 0 } @secrets;
}
is_deeply \@leaks, [], 'no secret in any of ' . scalar(@answers) . ' answers (headers included)';
ok !(grep { $_->code >= 500 } @answers), 'no answer was a server error';

# ---- sealed in the database ------------------------------------------------------
my $dbh = dbh();
my $is = $dbh->selectall_arrayref('SELECT id, client_secret FROM integrations ORDER BY id');
my $cs = $dbh->selectall_arrayref('SELECT id, credential_data FROM credentials ORDER BY id');
is scalar(grep { defined $_->[1] } @$is), 3, 'three integration secrets stored (imap has none)';
is scalar(@$cs), 4, 'four credentials stored';
like $_->[1], $sealed_re, "integrations.client_secret of $_->[0] is sealed under key $kid"
    for grep { defined $_->[1] } @$is;
like $_->[1], $sealed_re, "credentials.credential_data of $_->[0] is sealed under key $kid"
    for @$cs;

# No secret in any column of any table.
my @tables = db_driver() eq 'sqlite3'
    ? @{ $dbh->selectcol_arrayref(q{SELECT name FROM sqlite_master WHERE type = 'table'}) }
    : @{ $dbh->selectcol_arrayref(q{SELECT tablename FROM pg_tables WHERE schemaname = current_schema()}) };
my ($cells, @found) = (0);
for my $t (@tables) {
    for my $row (@{ $dbh->selectall_arrayref(qq{SELECT * FROM "$t"}) }) {
        for my $v (grep { defined } @$row) {
            ++$cells;
            push @found, map { "$t: $_" } grep { index($v, $_) >= 0 } @secrets;
        }
    }
}
ok $cells > 20, "$cells cells of " . scalar(@tables) . ' tables read';
is_deeply \@found, [], 'no secret in any column of any table';

# The same plaintext seals differently in each row (random nonce).
my %by_value;
$by_value{ $_->[1] }++ for grep { defined $_->[1] } @$is, @$cs;
is scalar(grep { $_ > 1 } values %by_value), 0, 'no two sealed values are equal';
my ($g1) = $dbh->selectrow_array(q{SELECT client_secret FROM integrations WHERE app_id = 'app-one' AND provider = 'google'});
my ($g2) = $dbh->selectrow_array(q{SELECT client_secret FROM integrations WHERE app_id = 'app-two' AND provider = 'google'});
ok $g1 && $g2 && $g1 ne $g2, 'the same client secret in two integrations: two different sealed values';

# The raw files of the database.
sub scan_files {
    my @files = @_;
    my ($bytes, @hits) = (0);
    for my $f (@files) {
        open my $fh, '<:raw', $f or next;
        local $/;
        my $data = <$fh>;
        next unless defined $data;
        $bytes += length $data;
        push @hits, map { "$f: $_" } grep { index($data, $_) >= 0 } @secrets;
    }
    return ($bytes, @hits);
}
if (db_driver() eq 'sqlite3') {
    my $file = db_file();
    my @files = raw_store_files();
    ok -s $file, 'the SQLite file exists';
    ok((grep { /-wal$/ } @files), 'and its WAL');
    my ($bytes, @hits) = scan_files(@files);
    ok $bytes > 0, "$bytes bytes of " . join(', ', map { (File::Spec->splitpath($_))[2] } @files) . ' read';
    is_deeply \@hits, [], 'no secret in the raw bytes of the SQLite file and its WAL';
}
else {
    my @files = raw_store_files();
    SKIP: {
        skip 'the PostgreSQL data directory is not readable here', 2 unless @files;
        my ($bytes, @hits) = scan_files(@files);
        ok $bytes > 0, "$bytes bytes of " . scalar(@files) . ' PostgreSQL data and WAL files read';
        is_deeply \@hits, [], 'no secret in the raw bytes of the PostgreSQL data and WAL files';
    }
}

# ---- never in the error log ----------------------------------------------------
my $log = error_log();
ok length(error_log_since($log_at)) > 0, 'this test wrote to the error log';
is_deeply [ grep { index($log, $_) >= 0 } @secrets ], [], 'no secret in the error log';
my @app_secrets = ((app_creds('one'))[1], (app_creds('two'))[1]);
is_deeply [ grep { index($log, $_) >= 0 } @app_secrets ], [], 'no application secret in the error log';

# ---- a sealed value does not open in another row -------------------------------
SKIP: {
    skip 'no API decrypts a stored secret yet (the moved-row check runs in t/startup.t '
       . 'through ConnectReencrypt); covered here: sealed values differ per row', 1;
}

done_testing;
