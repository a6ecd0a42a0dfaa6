# Secrets at rest, for grants: the provider tokens of hosted and native
# authentication are sealed ("cn1.<kid>.<data>") in grants.refresh_token and
# grants.access_token; no code or token the (fake) provider handed out, no
# login id, no client secret is in any column, in the raw database files, in
# the error log, or in an answer of the grants API.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use File::Find ();
use File::Spec ();
use MIME::Base64 ();
use Digest::SHA ();
use CnTest qw(:all);
use CnTest::Flow;

reset_db();
my $log_at = error_log_offset();
my $kid = test_key_id();
my $sealed_re = sealed_re();

is make_integration('google')->code, 201, 'google integration';
is make_integration('microsoft')->code, 201, 'microsoft integration';

my (@answers, @login_ids);
for my $c ([google => 'rest.one@example.com'], [google => 'noemail.rest@example.com'],
           [microsoft => 'rest.two@example.com'], [microsoft => 'noemail.ms@example.com'],
           [google => 'rest.one@example.com']) {    # re-authentication: new tokens
    my $f = hosted_flow(provider => $c->[0], login_hint => $c->[1]);
    is $f->result->{success}, 'true', "hosted flow of $c->[1] at $c->[0]" or diag $f->{error};
    push @answers, grep { defined } @$f{qw(login callback)};
    push @login_ids, $f->{id};
}
my @seed = seeded_tokens();
for my $s (grep { $_->[2] !~ /[A-Z]/ } @seed) {
    my $r = api(POST => '/grants', { provider => $s->[0], settings => { refresh_token => $s->[1] } });
    is $r->code, 201, "native authentication at $s->[0]" or diag $r->as_string;
    push @answers, $r;
}
my $patched = secret_token('rt-patched');
my ($some) = db_rows('grants');
my $r = api(PATCH => "/grants/$some->{id}", { settings => { refresh_token => $patched } });
is $r->code, 200, 'a refresh token set by PATCH';
push @answers, $r;
push @answers, api(GET => '/grants', undef, query => 'limit=200');
push @answers, api(GET => "/grants/$_->{id}") for db_rows('grants');

my @issued = fake_issued();
my %kinds;
$kinds{ $_->{kind} }++ for @issued;
ok $kinds{code} && $kinds{access} && $kinds{refresh}, "the fake issued codes ($kinds{code}), access ($kinds{access}) and refresh tokens ($kinds{refresh})";
my @verifiers = map { $_->{params}{code_verifier} } grep { $_->{params}{code_verifier} } @{ fake_log() };
ok scalar(@verifiers) >= 5, 'the code verifiers sent to the provider';
my %secret = (map({ ("$_->{kind} of $_->{email}: $_->{value}" => $_->{value}) } @issued),
              map({ ("seeded $_->[0] token: $_->[1]" => $_->[1]) } @seed),
              'patched refresh token' => $patched,
              map({ ("login id $_" => $_) } @login_ids),
              map({ ("code verifier $_" => $_) } @verifiers),
              'google client secret' => 'test-google-secret', 'microsoft client secret' => 'test-ms-secret');
sub found_in {
    my $text = shift;
    return grep { index($text, $secret{$_}) >= 0 } sort keys %secret;
}

# ---- the grants' columns ----------------------------------------------------------
my @grants = db_rows('grants');
is scalar(@grants), 6, 'six grants (four mailboxes by hosted flows, two native)';
is scalar(grep { ($_->{refresh_token} // '') =~ $sealed_re } @grants), 6, "every refresh_token sealed under key $kid";
is scalar(grep { ($_->{access_token} // '') =~ $sealed_re } @grants), 6, "every access_token sealed under key $kid";
my %values;
$values{$_}++ for map { @$_{qw(refresh_token access_token)} } @grants;
is scalar(grep { $_ > 1 } values %values), 0, 'no two sealed values are equal';

# ---- no secret in any column of any table ------------------------------------------
my $dbh = dbh();
my @tables = db_driver() eq 'sqlite3'
    ? @{ $dbh->selectcol_arrayref(q{SELECT name FROM sqlite_master WHERE type = 'table'}) }
    : @{ $dbh->selectcol_arrayref(q{SELECT tablename FROM pg_tables WHERE schemaname = current_schema()}) };
my ($cells, @found) = (0);
for my $t (@tables) {
    for my $row (@{ $dbh->selectall_arrayref(qq{SELECT * FROM "$t"}) }) {
        for my $v (grep { defined } @$row) {
            ++$cells;
            push @found, map { "$t: $_" } found_in($v);
        }
    }
}
ok $cells > 100, "$cells cells of " . scalar(@tables) . ' tables read';
is_deeply \@found, [], 'no code, token, verifier, login id or client secret in any column (' . scalar(keys %secret) . ' values)';

# ---- nor in the raw database files ------------------------------------------------------
sub scan_files {
    my ($bytes, @hits) = (0);
    for my $f (@_) {
        open my $fh, '<:raw', $f or next;
        local $/;
        my $data = <$fh>;
        next unless defined $data;
        $bytes += length $data;
        push @hits, map { "$f: $_" } found_in($data);
    }
    return ($bytes, @hits);
}
if (db_driver() eq 'sqlite3') {
    my ($bytes, @hits) = scan_files(raw_store_files());
    ok $bytes > 0, "$bytes bytes of the SQLite file and its WAL read";
    is_deeply \@hits, [], 'none in the raw bytes of the SQLite database';
}
else {
    my @files = raw_store_files();
    SKIP: {
        skip 'the PostgreSQL data directory is not readable here', 2 unless @files;
        my ($bytes, @hits) = scan_files(@files);
        ok $bytes > 0, "$bytes bytes of PostgreSQL data and WAL files read";
        is_deeply \@hits, [], 'none in the raw bytes of the PostgreSQL data and WAL';
    }
}

# ---- nor in the error log, nor in an answer -----------------------------------------------
my $log = error_log_since($log_at);
ok length($log) > 0, 'this test wrote to the error log';
is_deeply [found_in($log)], [], 'none in the error log';
my %login_id = map { ("login id $_" => 1) } @login_ids;
my @leaks = map { my $res = $_; grep { !$login_id{$_} } found_in($res->as_string) } @answers;
is_deeply \@leaks, [], 'none in ' . scalar(@answers) . ' answers (the flow\'s redirects, the grants API)';

done_testing;
