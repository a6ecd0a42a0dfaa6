# A grant's settings (PATCH /grants/{id}): the stored object is capped at
# 16 KiB (compact JSON), whatever the number of PATCHes; the values of
# secret-bearing keys (access_token, password, imap_password, smtp_password,
# client_secret; refresh_token has its own column) are sealed where they stand,
# bound to their key and grant, never in an answer, the store's files or the
# log; other keys still merge; ConnectReencrypt re-seals them under a new key.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use File::Spec ();
use MIME::Base64 ();
use Digest::SHA ();
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::Httpd;

use constant CAP => 16384;

reset_db();
my $log_at = error_log_offset();
my $kid = test_key_id();
my $sealed_re = sealed_re();

is make_integration('google')->code, 201, 'google integration';
my @ids;
for my $who ('settings.one@example.com', 'settings.two@example.com') {
    my $f = hosted_flow(provider => 'google', login_hint => $who);
    is $f->result->{success}, 'true', "a grant of $who" or diag $f->{error};
    push @ids, $f->grant_id;
}
my ($id, $id2) = @ids;
sub stored {
    my ($gid, $col) = @_;
    my ($v) = dbh()->selectrow_array('SELECT ' . ($col || 'settings') . ' FROM grants WHERE id = ?', undef,
                                     $gid || $id);
    return $v;
}

# ---- the cap ---------------------------------------------------------------------------------
my (@codes, @sizes, $first_refused, $kept);
for my $i (1 .. 30) {
    my $settings = { sprintf('k%02d', $i) => 'x' x 8150 };
    my $len = length json_encode($settings);
    die "PATCH $i is $len bytes" if $len > 8192;
    my $r = api(PATCH => "/grants/$id", { settings => $settings });
    push @codes, $r->code;
    push @sizes, length stored();
    if ($r->code == 400 && !$first_refused) {
        $first_refused = $r;
        $kept = stored();
    }
}
is_deeply [@codes[0, 1]], [200, 200], 'two PATCHes of ~8 KiB each are merged';
is_deeply [@codes[2 .. 29]], [(400) x 28], 'the 28 that would grow settings beyond 16 KiB are refused';
is scalar(grep { $_ > CAP } @sizes), 0, 'the stored settings never exceed 16384 bytes (largest: ' . (sort { $b <=> $a } @sizes)[0] . ')';
is $first_refused && $first_refused->{json}{error}{event_code}, 700, '... invalid_request_payload';
like $first_refused && $first_refused->{json}{error}{message}, qr/settings would be \d+ bytes; at most 16384/,
    '... saying why';
is stored(), $kept, '... and nothing changed';
is_deeply [sort keys %{ json_decode(stored()) }], ['k01', 'k02'], 'the stored keys: those of the two merged PATCHes';
my $r = api(PATCH => "/grants/$id", { settings => { k01 => 'small', k03 => 'also small' } });
is $r->code, 200, 'replacing a large value makes room';
is_deeply [sort keys %{ json_decode(stored()) }], ['k01', 'k02', 'k03'], '... and keys still merge';
$r = api(PATCH => "/grants/$id", { settings => { k01 => undef, k02 => undef, k03 => undef } });
is $r->code, 200, 'the large values set to null';

# ---- secrets ------------------------------------------------------------------------------------
my %secret = map { ($_ => secret_token("sek-$_")) } qw(imap_password password client_secret access_token smtp_password);
my $rt = secret_token('rt-settings');
my $t = time;
$r = api(PATCH => "/grants/$id", { settings => { %secret, refresh_token => $rt, imap_username => 'ann',
                                                 imap_host => 'imap.example.com', imap_port => 993 } });
is $r->code, 200, 'PATCH settings with imap_password, password, client_secret, access_token, smtp_password and refresh_token'
    or diag $r->as_string;
my @answers = ($r);
my $settings = json_decode(stored());
for my $k (sort keys %secret) {
    like $settings->{$k} // '', $sealed_re, "settings.$k is sealed under key $kid";
}
my %seen;
$seen{$_}++ for map { $settings->{$_} // '' } keys %secret;
is scalar(keys %seen), scalar(keys %secret), 'no two sealed values are equal';
ok !exists $settings->{refresh_token}, 'the refresh token is not in settings';
like stored($id, 'refresh_token'), $sealed_re, '... but sealed in its column';
is $settings->{imap_username}, 'ann', 'other keys are stored as they are';
is $settings->{imap_port}, 993, '... numbers too';
ok exists $settings->{k01}, '... and earlier keys stay';

# The same value in another grant's settings does not open there: the seal is
# bound to its grant (checked by ConnectReencrypt below) and to its key.
my $sealed_pw = $settings->{imap_password};
$r = api(PATCH => "/grants/$id", { settings => { imap_password => $secret{imap_password} } });
is $r->code, 200, 'the same imap_password again';
isnt json_decode(stored())->{imap_password}, $sealed_pw, '... sealed anew (a fresh nonce)';
$r = api(PATCH => "/grants/$id", { settings => { label => 'work' } });
is $r->code, 200, 'a PATCH of another key';
my $after = json_decode(stored());
is $after->{label}, 'work', '... merged';
is $after->{password}, $settings->{password}, '... the sealed values untouched';

# Secrets in the wrong shape are refused, and nothing changes.
my $before = stored();
for my $c ([{ imap_password => 12345 }, 'a number as imap_password'],
           [{ password => '' }, 'an empty password'],
           [{ client_secret => { v => 'x' } }, 'an object as client_secret'],
           [{ access_token => undef }, 'null as access_token'],
           [{ imap => { host => 'h', password => $secret{password} } }, 'a password nested in an object'],
           [{ accounts => [{ smtp_password => $secret{smtp_password} }] }, 'a password in an array']) {
    $r = api(PATCH => "/grants/$id", { settings => { ok => 1, %{ $c->[0] } } });
    is $r->code, 400, "$c->[1]: 400";
    is $r->{json}{error}{event_code}, 700, '... invalid_request_payload';
    like $r->{json}{error}{message}, qr/settings\.\w+/, '... naming the key';
    push @answers, $r;
}
is stored(), $before, 'nothing changed';

# No secret in any answer, column, raw file or log line.
push @answers, api(GET => "/grants/$id"), api(GET => '/grants', undef, query => 'limit=200');
my %all = (%secret, refresh_token => $rt);
sub found_in {
    my $text = shift;
    return grep { index($text, $all{$_}) >= 0 } sort keys %all;
}
is_deeply [map { found_in($_->as_string) } @answers], [], 'no secret in ' . scalar(@answers) . ' answers';
is_deeply [sort keys %{ api(GET => "/grants/$id")->{json}{data} }], [grant_keys()], 'the grant shows no settings';
my @found;
for my $row (@{ dbh()->selectall_arrayref('SELECT * FROM grants') }, @{ dbh()->selectall_arrayref('SELECT * FROM events') }) {
    push @found, found_in($_) for grep { defined } @$row;
}
is_deeply \@found, [], 'no secret in a column of grants or events';
my @files = raw_store_files();
SKIP: {
    skip 'the PostgreSQL data directory is not readable here', 2 unless @files;
    my ($bytes, @hits) = (0);
    for my $f (@files) {
        open my $fh, '<:raw', $f or next;
        local $/;
        my $data = <$fh>;
        next unless defined $data;
        $bytes += length $data;
        push @hits, map { "$f: $_" } found_in($data);
    }
    ok $bytes > 0, "$bytes bytes of the store's files read";
    is_deeply \@hits, [], 'no secret in the raw bytes of the store (' . scalar(keys %all) . ' values)';
}
is_deeply [found_in(error_log_since($log_at))], [], 'none in the error log';

# Another grant's settings stay its own.
$r = api(PATCH => "/grants/$id2", { settings => { label => 'home' } });
is $r->code, 200, 'the other grant';
is_deeply json_decode(stored($id2)), { label => 'home' }, '... has only its own settings';

# ---- ConnectReencrypt -------------------------------------------------------------------------------
# A server of its own on SQLite, as t/startup.t: in the sqlite pass only.
if (db_driver() ne 'sqlite3') {
    note 'ConnectReencrypt of grant settings: checked in the sqlite pass';
}
else {
    my $h = CnTest::Httpd->new;
    my ($old, $new) = (CnTest::Httpd::random_key(), CnTest::Httpd::random_key());
    my ($kid_old, $kid_new) = map { CnTest::Httpd::kid($_) } $old, $new;
    my $old_f = $h->write_key('old.b64', $old);
    my $new_f = $h->write_key('new.b64', $new);
    $h->write_conf(key => ["file:$old_f"]);
    ok $h->start, 'reencrypt: a server under the old key' or diag $h->output;
    my $dbh = $h->dbh;
    my $now = time;
    my @gid = ('0a0a0a0a-0000-4000-8000-000000000001', '0a0a0a0a-0000-4000-8000-000000000002');
    my $legacy = secret_token('legacy-imap');
    for my $i (0, 1) {
        $dbh->do(q{INSERT INTO grants (id, app_id, integration_id, provider, email, grant_status, scope,
                   settings, created_at, updated_at) VALUES (?, 'app', 'none', 'google', ?, 'valid', '[]', ?, ?, ?)},
                 undef, $gid[$i], "rekey$i\@example.com",
                 $i ? json_encode({ imap_password => $legacy, imap_host => 'h' }) : '{}', $now, $now);
    }
    my %s = (imap_password => secret_token('rk-imap'), client_secret => secret_token('rk-cs'));
    my $res = $h->api(PATCH => "/grants/$gid[0]", { settings => { %s, label => 'rk' } });
    is $res->code, 200, 'reencrypt: settings secrets sealed under the old key' or diag $res->as_string;
    ok $h->stop, 'reencrypt: stopped';
    my $settings_of = sub { json_decode(($dbh->selectrow_array('SELECT settings FROM grants WHERE id = ?', undef, $_[0]))[0]) };
    like $settings_of->($gid[0])->{$_}, qr/\Acn1\.$kid_old\./, "settings.$_ under the old key" for sort keys %s;

    my $log_since = do { my $at = 0; sub { my $l = $h->error_log; my $s = substr $l, $at; $at = length $l; $s } };
    $log_since->();
    $h->write_conf(key => ["file:$new_f", "file:$old_f"], reencrypt => 1);
    ok $h->start, 'reencrypt: starts with [new, old] and ConnectReencrypt On' or diag $h->output;
    like $log_since->(), qr/ConnectReencrypt: 3 stored secrets re-sealed under the first key/,
        'the two sealed settings and the one kept in the clear are re-sealed';
    ok $h->stop, 'reencrypt: stopped';
    my ($one, $two) = map { $settings_of->($_) } @gid;
    like $one->{$_}, qr/\Acn1\.$kid_new\./, "settings.$_ now under the new key" for sort keys %s;
    like $two->{imap_password}, qr/\Acn1\.$kid_new\./, 'the imap_password kept in the clear is sealed';
    is $one->{label}, 'rk', 'other keys as they were';
    is $two->{imap_host}, 'h', '... in both grants';
    my $text = join ' ', map { json_encode($_) } $one, $two;
    is_deeply [grep { index($text, $_) >= 0 } values(%s), $legacy], [], 'no plaintext left';

    # They open under the new key: re-sealing them back under the old one
    # proves it.
    $h->write_conf(key => ["file:$old_f", "file:$new_f"], reencrypt => 1);
    ok $h->start, 're-sealing back under the old key opens every settings value' or diag $h->output;
    like $log_since->(), qr/ConnectReencrypt: 3 stored secrets re-sealed/, '... all three';
    ok $h->stop, 'stopped';

    # A sealed value moved to another grant does not open there: refused, nothing changed.
    ($one, $two) = map { $settings_of->($_) } @gid;
    $two->{client_secret} = $one->{client_secret};
    $dbh->do('UPDATE grants SET settings = ? WHERE id = ?', undef, json_encode($two), $gid[1]);
    my $snapshot = $dbh->selectall_arrayref('SELECT id, settings FROM grants ORDER BY id');
    $h->write_conf(key => ["file:$new_f", "file:$old_f"], reencrypt => 1);
    ok !$h->start, 'a settings value moved to another grant: ConnectReencrypt refuses to start';
    like $log_since->(), qr/re-encryption failed \(grants\.settings\.client_secret of row \Q$gid[1]\E opens with no configured key\); nothing was changed/,
        '... naming the value';
    is_deeply $dbh->selectall_arrayref('SELECT id, settings FROM grants ORDER BY id'), $snapshot, '... and nothing changed';
    $dbh->disconnect;
}

done_testing;
