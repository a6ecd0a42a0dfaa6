# Start-up checks: a separate httpd (t/lib/CnTest/Httpd.pm), not the
# Apache::Test one, is started with each bad configuration; it must refuse to
# start, leave no process behind, and say why in one line naming the
# directive. Then the key sources and ConnectReencrypt, across restarts.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MIME::Base64 ();
use File::Spec ();
use POSIX ();
use CnTest qw(:all);
use CnTest::Httpd;

if (db_driver() ne 'sqlite3') {
    plan skip_all => 'start-up tests run their own httpd on SQLite; they run in the sqlite pass';
}

# ---- refused configurations --------------------------------------------------

# The fixture key that signs in the suite's server (RSA 2048).
my $rsa_pem = File::Spec->catfile(CnTest::t_dir(), 'conf', 'keys', 'signing-rsa.pem');

# A private key made by `openssl genpkey ARGS` into the standalone's directory.
sub genpkey {
    my ($h, $name, @args) = @_;
    my $file = $h->path($name);
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDERR, '>', '/dev/null';
        exec 'openssl', 'genpkey', @args, '-out', $file or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    die "openssl genpkey @args failed" if $? || !-s $file;
    return $file;
}

# refuses($name, \%conf_options, qr/the line/, %start_options)
sub refuses {
    my ($name, $conf, $re, %start) = @_;
    my $h = CnTest::Httpd->new;
    $h->write_conf(%$conf);
    my $started = $h->start(%start);
    ok !$started, "$name: refused";
    isnt $h->rc, 0, "$name: non-zero exit";
    ok $h->gone, "$name: no process left";
    my @lines = $h->lines_matching($re);
    is scalar @lines, 1, "$name: one line says why" or diag $h->output;
    $h->stop if $started;
    return $h;
}

{
    my $h = CnTest::Httpd->new;
    my $missing = $h->path('no-such-key');
    my $short = $h->write_key('short.b64', substr(CnTest::Httpd::random_key(), 0, 16));
    my $garbage = $h->write_file('garbage.b64', "this is not base64 at all!!\n");
    my $missing_secret = $h->path('no-such-secret');
    my $short_secret = $h->write_file('short.secret', "tooshort\n");
    my $shared_secret = $h->write_file('shared.secret', "one-secret-for-two-apps\n");
    # ConnectSigningKey: keys made here with openssl (none is any good).
    my $missing_pem = $h->path('no-such-key.pem');
    my $rsa1024 = genpkey($h, 'rsa1024.pem', qw(-algorithm RSA -pkeyopt rsa_keygen_bits:1024));
    my $p384 = genpkey($h, 'p384.pem', qw(-algorithm EC -pkeyopt ec_paramgen_curve:P-384));
    my $ed25519 = genpkey($h, 'ed25519.pem', qw(-algorithm ED25519));
    my $pem_garbage = $h->write_file('garbage.pem', "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n"
                                                    . "-----END PRIVATE KEY-----\n");
    my $unreadable = $h->write_file('unreadable.pem', do { local (@ARGV, $/) = ($rsa_pem); <> });
    chmod 0000, $unreadable;
    my $mods = [grep { $_ ne 'dbd' } @CnTest::Httpd::ALL_MODULES];
    my $no_session = [grep { !/^session/ } @CnTest::Httpd::ALL_MODULES];
    delete $ENV{CN_TEST_NO_SUCH_VAR};

    my @cases = (
        ['no key', { key => [] },
         qr/ConnectEncryptionKey: no encryption key configured/],
        ['unreadable key file', { key => ["file:$missing"] },
         qr/ConnectEncryptionKey: cannot read \Q$missing\E/],
        ['key of 16 bytes', { key => ["file:$short"] },
         qr/ConnectEncryptionKey: file:\Q$short\E: a key must be 32 bytes \(base64 encoded\)/],
        ['key that is not base64', { key => ["file:$garbage"] },
         qr/ConnectEncryptionKey: file:\Q$garbage\E: a key must be 32 bytes/],
        ['key from an unset variable', { key => ['env:CN_TEST_NO_SUCH_VAR'] },
         qr/ConnectEncryptionKey: environment variable CN_TEST_NO_SUCH_VAR is not set/],
        ['key source neither file: nor env:', { key => ['/etc/passwd'] },
         qr/ConnectEncryptionKey: expected file:PATH or env:VAR/],
        ['no application', { apps => [] },
         qr/ConnectApplication: no application configured/],
        ['application secret variable missing', { apps => [['app', 'env:CN_TEST_NO_SUCH_VAR']] },
         qr/ConnectApplication: app: environment variable CN_TEST_NO_SUCH_VAR is not set/],
        ['application secret file missing', { apps => [['app', "file:$missing_secret"]] },
         qr/ConnectApplication: app: cannot read \Q$missing_secret\E/],
        ['application secret too short', { apps => [['app', "file:$short_secret"]] },
         qr/ConnectApplication: app: the secret must be at least 16 characters/],
        # A secret is an API key too (the v3 layout): it must name one application.
        ['two applications with one secret',
         { apps => [['app-a', "file:$shared_secret"], ['app-b', "file:$shared_secret"]] },
         qr/ConnectApplication: app-b: another application has the same secret/],
        ['no ConnectBaseURL', { base_url => undef },
         qr/ConnectBaseURL: not set/],
        ['mod_dbd not loaded', { modules => $mods, dbd => 0 },
         qr/LoadModule: mod_dbd is not loaded/],
        ['mod_session not loaded', { modules => $no_session, session => 0 },
         qr/LoadModule: mod_session is not loaded/],
        # The outgoing provider calls (hosted and native authentication).
        ['ConnectProviderTimeout 0', { extra => 'ConnectProviderTimeout 0' },
         qr/ConnectProviderTimeout must be a number of seconds from 1 to 300/],
        ['ConnectProviderTimeout 301', { extra => 'ConnectProviderTimeout 301' },
         qr/ConnectProviderTimeout must be a number of seconds from 1 to 300/],
        ['ConnectProviderTimeout 2s', { extra => 'ConnectProviderTimeout 2s' },
         qr/ConnectProviderTimeout must be a number of seconds from 1 to 300/],
        (map { ["ConnectPurgeInterval $_", { extra => "ConnectPurgeInterval $_" },
                qr/ConnectPurgeInterval must be a number of seconds from 1 to 86400/] } '0', '86401', '1h'),
        ['ConnectPurgeInterval in a virtual host',
         { extra => "<VirtualHost 127.0.0.1:1>\n    ConnectPurgeInterval 60\n</VirtualHost>" },
         qr/ConnectPurgeInterval cannot occur within <VirtualHost> section/],
        (map { ["ConnectEventRetention $_", { extra => "ConnectEventRetention $_" },
                qr/ConnectEventRetention must be a number of days from 1 to 3650/] } '0', '3651', '30d'),
        (map { ["ConnectRefreshInterval $_", { extra => "ConnectRefreshInterval $_" },
                qr/ConnectRefreshInterval must be a number of seconds from 1 to 86400/] } '0', '86401', '1h'),
        (map { ["ConnectRefreshUnusedDays $_", { extra => "ConnectRefreshUnusedDays $_" },
                qr/ConnectRefreshUnusedDays must be a number of days from 1 to 150/] } '0', '151', '30d'),
        ['ConnectRefreshUnusedDays in a virtual host',
         { extra => "<VirtualHost 127.0.0.1:1>\n    ConnectRefreshUnusedDays 60\n</VirtualHost>" },
         qr/ConnectRefreshUnusedDays cannot occur within <VirtualHost> section/],
        (map { ["ConnectJobLease $_", { extra => "ConnectJobLease $_" },
                qr/ConnectJobLease must be a number of seconds from 2 to 86400/] } '1', '86401', '10m'),
        (map { ["ConnectPurgeBatch $_", { extra => "ConnectPurgeBatch $_" },
                qr/ConnectPurgeBatch must be a number of rows from 1 to 100000/] } '0', '100001', 'all'),
        ['ConnectJobLease in a virtual host',
         { extra => "<VirtualHost 127.0.0.1:1>\n    ConnectJobLease 60\n</VirtualHost>" },
         qr/ConnectJobLease cannot occur within <VirtualHost> section/],
        # The shared cache: a mod_socache provider that is loaded.
        ['ConnectCache of a provider not loaded', { extra => 'ConnectCache nosuch' },
         qr/ConnectCache: nosuch: no such mod_socache provider \(is mod_socache_nosuch loaded\?\)/],
        ['ConnectCache with bad arguments', { extra => 'ConnectCache shmcb:/no/such/dir/cache(notasize)' },
         qr/ConnectCache: shmcb:\S+: /],
        ['ConnectCAFile missing', { extra => "ConnectCAFile $missing" },
         qr/ConnectCAFile: cannot read \Q$missing\E/],
        ['ConnectProviderEndpoint of imap', { extra => 'ConnectProviderEndpoint imap token https://127.0.0.1/t' },
         qr/ConnectProviderEndpoint: unknown provider 'imap'/],
        ['ConnectProviderEndpoint unknown name', { extra => 'ConnectProviderEndpoint google tokens https://127.0.0.1/t' },
         qr/ConnectProviderEndpoint: unknown endpoint 'tokens'/],
        # id_token signing keys: one line naming the directive and the file.
        ['signing key file missing', { extra => "ConnectSigningKey $missing_pem" },
         qr/ConnectSigningKey: cannot read \Q$missing_pem\E$/],
        ($> == 0 ? () :    # root reads a file of mode 000
         ['signing key file unreadable', { extra => "ConnectSigningKey file:$unreadable" },
          qr/ConnectSigningKey: cannot read \Q$unreadable\E$/]),
        ['signing key RSA 1024', { extra => "ConnectSigningKey $rsa1024" },
         qr/ConnectSigningKey: \Q$rsa1024\E: an RSA key of 1024 bits is too weak \(at least 2048\)/],
        ['signing key P-384', { extra => "ConnectSigningKey $p384" },
         qr/ConnectSigningKey: \Q$p384\E: an EC key on secp384r1; only P-256 \(ES256\) is supported/],
        ['signing key Ed25519', { extra => "ConnectSigningKey $ed25519" },
         qr/ConnectSigningKey: \Q$ed25519\E: a ED25519 key; only RSA \(at least 2048 bits\) and EC P-256/],
        ['signing key garbage', { extra => "ConnectSigningKey $pem_garbage" },
         qr/ConnectSigningKey: \Q$pem_garbage\E is not a PEM private key/],
        ['signing key not a key at all', { extra => "ConnectSigningKey $garbage" },
         qr/ConnectSigningKey: \Q$garbage\E is not a PEM private key/],
        ['signing key: a weak one after a good one', { extra => "ConnectSigningKey $rsa_pem $rsa1024" },
         qr/ConnectSigningKey: \Q$rsa1024\E: an RSA key of 1024 bits is too weak/],
        ['signing key: the same key twice', { extra => "ConnectSigningKey $rsa_pem\nConnectSigningKey file:$rsa_pem" },
         qr/ConnectSigningKey: \Q$rsa_pem\E: the same key as \Q$rsa_pem\E/],
        ['signing key from env:', { extra => 'ConnectSigningKey env:CN_TEST_NO_SUCH_VAR' },
         qr/ConnectSigningKey: expected a PEM file, PATH or file:PATH, got 'env:CN_TEST_NO_SUCH_VAR'/],
        ['ConnectProviderEndpoint not http(s)', { extra => 'ConnectProviderEndpoint google token ftp://127.0.0.1/t' },
         qr{ConnectProviderEndpoint: 'ftp://127\.0\.0\.1/t' is not an http\(s\) URL}],
    );
    refuses(@$_) for @cases;
}

# ---- the good configuration starts (positive control) ------------------------
{
    my $h = CnTest::Httpd->new;
    $h->write_conf;
    ok $h->start, 'good configuration: starts' or diag $h->output;
    my $res = $h->api(GET => '/integrations');
    is $res->code, 200, 'good configuration: answers' or diag $res->as_string;
    unlike $h->output, qr/\[connect:emerg\]/, 'good configuration: no refusal logged';
    like $h->output, qr/CN01514: purge every 3600 s, events kept 30 days/,
        'good configuration: the purge runs hourly (mod_watchdog), events kept 30 days';
    like $h->output, qr/CN02233: refresh job every 3600 s: grants unused for 30 days/,
        'good configuration: the refresh job runs hourly for grants unused for 30 days';
    like $h->output, qr/CN02312: jobs hold their lease up to 600 s while they run; the purge deletes 500 rows per statement/,
        'good configuration: job leases of 10 minutes, purges of 500 rows a statement';
    ok $h->stop, 'good configuration: stops';
    ok $h->gone, 'good configuration: nothing left after stop';
}

# ---- env:VAR as the key and application secret source ----------------------------
# httpd reads its configuration twice at start-up (and again on each restart):
# the variables must still be there the second time.
{
    my $h = CnTest::Httpd->new;
    my $key = CnTest::Httpd::random_key();
    (my $b64 = MIME::Base64::encode_base64($key)) =~ s/\s+//g;
    $h->write_conf(key => ['env:CN_TEST_KEY'], apps => [['app', 'env:CN_TEST_APP_SECRET']]);
    my %env = (CN_TEST_KEY => $b64, CN_TEST_APP_SECRET => ($h->app_creds)[1]);
    ok $h->start(env => \%env), 'env:VAR key and secret: starts' or diag $h->output;
    my $res = $h->api(POST => '/integrations', google_integration(client_secret => secret_token()));
    is $res->code, 201, 'env:VAR key and secret: integration created' or diag $res->as_string;
    $h->stop;
    my ($sealed) = eval { $h->dbh->selectrow_array('SELECT client_secret FROM integrations') };
    like $sealed, qr/^cn1\.\Q@{[CnTest::Httpd::kid($key)]}\E\./, 'sealed under the key of the variable';
}

# ---- ConnectReencrypt: old key -> new key ----------------------------------------
{
    my $h = CnTest::Httpd->new;
    my $old = CnTest::Httpd::random_key();
    my $new = CnTest::Httpd::random_key();
    my ($kid_old, $kid_new) = map { CnTest::Httpd::kid($_) } $old, $new;
    my $old_f = $h->write_key('old.b64', $old);
    my $new_f = $h->write_key('new.b64', $new);
    my $plain = secret_token();

    # Under the old key: an integration with its secret and a credential.
    $h->write_conf(key => ["file:$old_f"]);
    ok $h->start, 'reencrypt: starts under the old key' or diag $h->output;
    my $res = $h->api(POST => '/integrations', google_integration(name => 'rekey', client_secret => $plain));
    is $res->code, 201, 'reencrypt: integration created' or diag $res->as_string;
    $res = $h->api(POST => '/integrations/google/creds',
                   { name => 'ovr', credential_type => 'integration',
                     credential_data => { client_id => 'c', client_secret => secret_token() } });
    is $res->code, 201, 'reencrypt: credential created' or diag $res->as_string;
    # A second integration, for the moved-value check below.
    $res = $h->api(POST => '/integrations', {
        name => 'ms', provider => 'microsoft',
        settings => { client_id => 'm', client_secret => secret_token(), tenant => 'common' } });
    is $res->code, 201, 'reencrypt: second integration created' or diag $res->as_string;
    ok $h->stop, 'reencrypt: stopped';
    my $dbh = $h->dbh;
    my $secrets = sub {
        return ($dbh->selectcol_arrayref('SELECT client_secret FROM integrations ORDER BY id'),
                $dbh->selectcol_arrayref('SELECT credential_data FROM credentials ORDER BY id'));
    };
    my ($is, $cs) = $secrets->();
    is scalar(grep { /^cn1\.$kid_old\./ } @$is, @$cs), 3, 'three values sealed under the old key';

    # [new, old] with ConnectReencrypt On: everything re-sealed under the new key.
    $h->write_conf(key => ["file:$new_f", "file:$old_f"], reencrypt => 1);
    ok $h->start, 'reencrypt: starts with [new, old] and ConnectReencrypt On' or diag $h->output;
    like $h->error_log, qr/ConnectReencrypt: 3 stored secrets re-sealed under the first key/,
        'the log says they were re-sealed';
    ok $h->stop, 'reencrypt: stopped';
    ($is, $cs) = $secrets->();
    is scalar(grep { /^cn1\.$kid_new\./ } @$is, @$cs), 3, 'all three now sealed under the new key'
        or diag explain [$is, $cs];
    unlike join(' ', @$is, @$cs), qr/\Q$plain\E/, 'no plaintext after re-sealing';

    # Only the new key: the integration reads back.
    $h->write_conf(key => ["file:$new_f"]);
    ok $h->start, 'reencrypt: starts with only the new key' or diag $h->output;
    $res = $h->api(GET => '/integrations/google');
    is $res->code, 200, 'the integration reads back' or diag $res->as_string;
    is $res->{json}{data}{name}, 'rekey', '... with its data';
    $res = $h->api(GET => '/integrations/google/creds');
    is scalar @{ $res->{json}{data} || [] }, 1, '... and its credential';
    ok $h->stop, 'stopped';

    # Opening proves the values: re-seal back under [old, new] (opens with new).
    $h->write_conf(key => ["file:$old_f", "file:$new_f"], reencrypt => 1);
    ok $h->start, 're-sealing back under the old key opens every value' or diag $h->output;
    ok $h->stop, 'stopped';
    ($is, $cs) = $secrets->();
    is scalar(grep { /^cn1\.$kid_old\./ } @$is, @$cs), 3, 'all three under the old key again';

    # A sealed value moved to another row does not open (AAD binds it to its
    # row): ConnectReencrypt must then refuse to start, changing nothing.
    my $rows = $dbh->selectall_arrayref('SELECT id, client_secret FROM integrations ORDER BY id');
    $dbh->do('UPDATE integrations SET client_secret = ? WHERE id = ?', undef,
             $rows->[0][1], $rows->[1][0]);
    $h->write_conf(key => ["file:$new_f", "file:$old_f"], reencrypt => 1);
    ok !$h->start, 'a value copied to another row: ConnectReencrypt refuses to start';
    ok $h->gone, '... no process left';
    like $h->error_log, qr/ConnectReencrypt: re-encryption failed \(integrations\.client_secret of row \Q$rows->[1][0]\E opens with no configured key\); nothing was changed/,
        '... and says which value does not open';
    my $after = $dbh->selectall_arrayref('SELECT id, client_secret FROM integrations ORDER BY id');
    is $after->[0][1], $rows->[0][1], '... the first row is unchanged';
    is $after->[1][1], $rows->[0][1], '... and so is the moved value (rolled back)';
    my ($c) = $dbh->selectrow_array('SELECT credential_data FROM credentials');
    like $c, qr/^cn1\.$kid_old\./, '... and so are the other values';
    $dbh->disconnect;
}

done_testing;
