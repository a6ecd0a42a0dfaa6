package CnTest;
# Helpers of the Apache::Test suite of mod_connect: the JSON API client, the
# two configured applications, the database the server uses, its error log.
#
#   use lib 't/lib';
#   use Test::More;
#   use CnTest;
#   reset_db();
#   my $res = api(POST => '/integrations', {...});          # app one
#   is $res->code, 201; is $res->{json}{data}{provider}, 'google';
#   api(GET => '/providers/find', undef, app => undef, query => 'client_id=app-one');
#
# Exported by default: api mount app_creds db_driver dbh db_file error_log
# reset_db. On request (use CnTest qw(:all) or by name): base_url, url,
# server_port, t_dir, var_dir, conf_value, error_log_offset, error_log_since,
# secret_token, json_encode, json_decode, db_rows, google_integration,
# access_log_offset, access_log_since.
use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use Cwd ();
use File::Spec ();
use JSON ();
use DBI ();
use LWP::UserAgent ();
use HTTP::Request ();
use Apache::Test ();
use Apache::TestRequest ();

our @EXPORT = qw(api mount app_creds db_driver dbh db_file error_log reset_db);
our @EXPORT_OK = qw(raw_store_files test_key_id sealed_re base_url url server_port t_dir var_dir conf_value error_log_offset
                    error_log_since secret_token json_encode json_decode db_rows
                    google_integration access_log_offset access_log_since concurrently wait_for);
our %EXPORT_TAGS = (all => [@EXPORT, @EXPORT_OK]);

my $JSON = JSON->new->utf8->canonical->allow_nonref;

# wait_for(SECS, CODE): whether CODE became true within SECS seconds (it is
# asked every 0.05 s, and once more at the end).
sub wait_for {
    my ($secs, $code) = @_;
    require Time::HiRes;
    my $deadline = Time::HiRes::time() + $secs;
    until ($code->()) {
        return $code->() ? 1 : 0 if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.05);
    }
    return 1;
}

# concurrently(\@jobs, %opt) -> what each job answered, in order: each job (a
# code ref answering a string) runs in a forked child of its own, with its
# own HTTP client and a fresh connection per request (under load the event
# MPM may close an idle kept-alive connection just as a request goes out on
# it, which LWP, unlike a browser, does not retry). undef for a child that
# did not answer within timeout seconds (60), or died. With at => an epoch
# time, every job starts at that instant.
sub concurrently {
    my ($jobs, %o) = @_;
    require File::Temp;
    require POSIX;
    require Time::HiRes;
    my $dir = File::Temp->newdir('concurrently-XXXXXX', DIR => var_dir(), CLEANUP => 1);
    my %pid;
    for my $i (0 .. $#$jobs) {
        my $pid = fork;
        croak "fork: $!" unless defined $pid;
        if (!$pid) {
            ua()->conn_cache(undef);
            if ($o{at}) {
                my $wait = $o{at} - Time::HiRes::time();
                Time::HiRes::sleep($wait) if $wait > 0;
            }
            my $out = eval { $jobs->[$i]->() };
            open my $fh, '>', "$dir/$i.tmp" or POSIX::_exit(2);
            print $fh $out // '';
            close $fh;
            rename "$dir/$i.tmp", "$dir/$i" or POSIX::_exit(2);
            POSIX::_exit(defined $out ? 0 : 1);
        }
        $pid{$pid} = $i;
    }
    my $deadline = time + ($o{timeout} // 60);
    while (%pid && time < $deadline) {
        my $done = waitpid(-1, POSIX::WNOHANG());
        if ($done > 0) { delete $pid{$done}; next }
        Time::HiRes::sleep(0.05);
    }
    if (%pid) {
        kill 'KILL', keys %pid;
        waitpid $_, 0 for keys %pid;
    }
    return map {
        my $text;
        if (open my $fh, '<', "$dir/$_") { local $/; $text = <$fh> }
        $text;
    } 0 .. $#$jobs;
}

sub json_encode { $JSON->encode($_[0]) }

sub json_decode {
    my $text = shift;
    return undef unless defined $text && length $text;
    my $v = eval { $JSON->decode($text) };
    return $v;
}

# ---- the running test server ----------------------------------------------

my %var_cache;

# A variable of the Apache::Test configuration (t/conf/apache_test_config.pm),
# e.g. conf_value('cn_dbdriver'), conf_value('port').
sub conf_value {
    my $name = shift;
    $var_cache{$name} = Apache::Test::vars($name) unless exists $var_cache{$name};
    return $var_cache{$name};
}

sub t_dir   { conf_value('t_dir') }
sub var_dir { File::Spec->catdir(t_dir(), 'var') }
sub server_port { conf_value('port') }

sub mount { '/connect' }

sub base_url {
    return 'http://' . (conf_value('servername') || '127.0.0.1') . ':' . server_port();
}

# Absolute URL of PATH below the mount.
sub url { base_url() . mount() . (defined $_[0] ? $_[0] : '') }

my %secrets;

# (client_id, secret) of 'one', 'two' or 'three' (or 'app-one' ...; three is the
# Context.IO API's 3-legged application).
sub app_creds {
    my $which = shift;
    $which = 'one' unless defined $which;
    $which =~ s/^app-//;
    croak "app_creds: no application '$which' (one, two, three)" unless $which =~ /^(one|two|three)$/;
    my $id = "app-$which";
    unless (defined $secrets{$id}) {
        my $file = File::Spec->catfile(t_dir(), 'conf', 'keys', "$id.secret");
        open my $fh, '<', $file or croak "$file: $!";
        local $/;
        my $s = <$fh>;
        $s =~ s/[\r\n]+\z//;
        $secrets{$id} = $s;
    }
    return ($id, $secrets{$id});
}

my ($UA, $UA_PID);

# One client per process: a child of fork() must not share its parent's
# keep-alive connections.
sub ua {
    undef $UA if $UA && $UA_PID != $$;
    $UA_PID = $$;
    $UA ||= LWP::UserAgent->new(
        keep_alive => 4,
        timeout    => 30,
        agent      => 'cntest/1',
        max_redirect => 0,
    );
    return $UA;
}

# api($method, $path, $body, %opt) -> HTTP::Response with ->{json}.
#   $path   below the mount ('/integrations'); $body a perl value sent as JSON, or undef
#   app     'one' (default), 'two', undef (no Authorization), [user, pass]
#   raw     a string body sent as it is (Content-Type application/json unless
#           headers say otherwise)
#   headers { name => value, ... } (override the defaults)
#   query   'a=b&c=d', appended raw
#   base    'http://127.0.0.1:PORT': another server (default: the test server)
sub api {
    my ($method, $path, $body, %opt) = @_;
    croak 'api: method and path are required' unless $method && defined $path;
    my $u = defined $opt{base} ? $opt{base} . mount() . $path : url($path);
    if (defined $opt{query} && length $opt{query}) {
        $u .= ($u =~ /\?/ ? '&' : '?') . $opt{query};
    }
    my $req = HTTP::Request->new(uc $method => $u);
    my $app = exists $opt{app} ? $opt{app} : 'one';
    if (defined $app) {
        my ($user, $pass) = ref $app eq 'ARRAY' ? @$app : app_creds($app);
        $req->authorization_basic($user, $pass);
    }
    if (exists $opt{raw}) {
        $req->content(defined $opt{raw} ? $opt{raw} : '');
        $req->header('Content-Type' => 'application/json');
    }
    elsif (defined $body) {
        $req->content(json_encode($body));
        $req->header('Content-Type' => 'application/json');
    }
    if (defined $req->content && ($method =~ /^(POST|PUT|PATCH)$/i || length $req->content)) {
        $req->header('Content-Length' => length $req->content);
    }
    $req->header('Accept' => 'application/json');
    while (my ($k, $v) = each %{ $opt{headers} || {} }) {
        if (defined $v) { $req->header($k => $v) } else { $req->remove_header($k) }
    }
    my $res = ua()->request($req);
    $res->{json} = json_decode($res->content);
    return $res;
}

# The key id of the test server's sealing key (t/conf/keys/key1.b64): the
# first 8 hex digits of SHA-256 of the key, as the module computes it.
sub test_key_id {
    my $f = File::Spec->catfile(t_dir(), 'conf', 'keys', 'key1.b64');
    open my $fh, '<', $f or croak "$f: $!";
    local $/;
    require MIME::Base64;
    require Digest::SHA;
    return substr Digest::SHA::sha256_hex(MIME::Base64::decode_base64(scalar <$fh>)), 0, 8;
}

# A stored value sealed under the test server's key: cn1.<kid>.<data>.
sub sealed_re {
    my $kid = test_key_id();
    return qr/\Acn1\.\Q$kid\E\.[A-Za-z0-9_-]{20,}\z/;
}

# A fresh, distinctive value: secret_token('SEKRET') -> 'SEKRET-1f0c...'.
sub secret_token {
    my $prefix = shift;
    $prefix = 'SEKRET' unless defined $prefix;
    my $hex = '';
    if (open my $fh, '<:raw', '/dev/urandom') {
        read $fh, my $buf, 12;
        $hex = unpack 'H*', $buf;
    }
    else {
        $hex = join '', map { sprintf '%02x', int rand 256 } 1 .. 12;
    }
    return "$prefix-$hex";
}

# A valid POST /integrations body for google, overridable: google_integration(name => 'x').
sub google_integration {
    my %o = @_;
    my $secret = delete $o{client_secret};
    $secret = secret_token('gsecret') unless defined $secret;
    return {
        name          => 'Test Google app',
        provider      => 'google',
        settings      => { client_id => 'cid-123.apps.googleusercontent.com',
                           client_secret => $secret },
        redirect_uris => ['http://localhost:3000/callback'],
        scope         => ['https://www.googleapis.com/auth/gmail.readonly'],
        %o,
    };
}

# ---- the database ----------------------------------------------------------

sub db_driver { conf_value('cn_dbdriver') }

sub db_file {
    return undef unless db_driver() eq 'sqlite3';
    return conf_value('cn_dbdparams');
}

sub _pg_params {
    my %p;
    for (split ' ', conf_value('cn_dbdparams')) {
        my ($k, $v) = split /=/, $_, 2;
        $p{$k} = $v;
    }
    return %p;
}

my ($DBH, $DBH_PID);

# A DBI handle (RaiseError, AutoCommit) on the database the server uses.
sub dbh {
    return $DBH if $DBH && $DBH_PID == $$ && $DBH->ping;
    if (db_driver() eq 'sqlite3') {
        my $file = db_file();
        croak "dbh: $file does not exist (did the server start?)" unless -e $file;
        $DBH = DBI->connect("dbi:SQLite:dbname=$file", '', '',
                            { RaiseError => 1, PrintError => 0, AutoCommit => 1 });
        $DBH->sqlite_busy_timeout(10_000);
    }
    else {
        my %p = _pg_params();
        my $dsn = 'dbi:Pg:' . join ';', map { "$_=$p{$_}" }
            grep { exists $p{$_} } qw(dbname host port);
        $DBH = DBI->connect($dsn, $p{user}, $p{password} || '',
                            { RaiseError => 1, PrintError => 0, AutoCommit => 1,
                              pg_server_prepare => 0 });
        $DBH->do('SET client_min_messages = warning');
    }
    $DBH_PID = $$;
    return $DBH;
}

# Names of the tables of the schema (schema_version included).
sub _tables {
    my $dbh = dbh();
    if (db_driver() eq 'sqlite3') {
        return @{ $dbh->selectcol_arrayref(
            q{SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name}) };
    }
    return @{ $dbh->selectcol_arrayref(
        q{SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename}) };
}

# Every row of TABLE as hashrefs.
sub db_rows {
    my $table = shift;
    croak "db_rows: bad table name" unless $table =~ /^\w+$/;
    return @{ dbh()->selectall_arrayref(qq{SELECT * FROM "$table"}, { Slice => {} }) };
}

# Delete every row of every table but schema_version.
sub reset_db {
    my $dbh = dbh();
    my @tables = grep { $_ ne 'schema_version' } _tables();
    return unless @tables;
    if (db_driver() eq 'pgsql') {
        $dbh->do('TRUNCATE ' . join(', ', map { qq{"$_"} } @tables));
    }
    else {
        $dbh->begin_work;
        $dbh->do(qq{DELETE FROM "$_"}) for @tables;
        $dbh->commit;
    }
    return scalar @tables;
}

# ---- the error log ---------------------------------------------------------

sub _error_log_file { File::Spec->catfile(conf_value('t_logs'), 'error_log') }

sub error_log {
    my $file = _error_log_file();
    open my $fh, '<', $file or return '';
    local $/;
    my $text = <$fh>;
    return defined $text ? $text : '';
}

# my $at = error_log_offset(); ...; like error_log_since($at), qr/.../;
sub error_log_offset { -s _error_log_file() || 0 }

sub error_log_since { _file_since(_error_log_file(), @_) }

sub _file_since {
    my ($file, $offset) = @_;
    open my $fh, '<', $file or return '';
    seek $fh, $offset || 0, 0;
    local $/;
    my $text = <$fh>;
    return defined $text ? $text : '';
}

# The access log, in the shipped format without query strings:
# ... "GET /connect/x HTTP/1.1" 200 123 <X-Request-Id> <microseconds>.
sub _access_log_file { File::Spec->catfile(conf_value('t_logs'), 'access_log') }
sub access_log_offset { -s _access_log_file() || 0 }
sub access_log_since { _file_since(_access_log_file(), @_) }


# The files that hold the store on disk, for tests that read raw bytes: the
# SQLite file and its companions, or PostgreSQL's data and WAL files after a
# CHECKPOINT. An empty list when they cannot be read here (PostgreSQL run by
# another user).
sub raw_store_files {
    if (db_driver() eq 'sqlite3') {
        my $file = db_file();
        return grep { -f } map { "$file$_" } '', '-wal', '-shm', '-journal';
    }
    my $dbh = dbh();
    my ($dir) = eval { $dbh->selectrow_array(q{SELECT setting FROM pg_settings WHERE name = 'data_directory'}) };
    return () unless $dir && -r $dir;
    $dbh->do('CHECKPOINT');
    require File::Find;
    my @files;
    File::Find::find({ no_chdir => 1, wanted => sub { push @files, $_ if -f $_ && -r _ } },
                     grep { -d } "$dir/base", "$dir/pg_wal", "$dir/global");
    return @files;
}

1;
