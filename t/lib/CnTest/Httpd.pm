package CnTest::Httpd;
# A throw-away httpd with mod_connect, separate from the Apache::Test server:
# for start-up tests (configurations that must be refused) and restarts.
# It uses the same httpd binary (the sanitizer wrapper under `make asan`),
# module and Apache module directory as the suite, its own free port and a
# temporary ServerRoot under t/var/standalone/ (removed at exit).
#
#   my $h = CnTest::Httpd->new;                 # dir, port, a key, an application
#   $h->write_conf(key => ["file:$f"]);         # see conf() for the options
#   my $ok = $h->start(env => { VAR => 'x' });  # true when it runs and answers
#   like $h->output, qr/.../;                   # stderr + error log
#   $h->api(GET => '/integrations');            # HTTP::Response with ->{json}
#   $h->stop;
use strict;
use warnings;

use Carp qw(croak);
use File::Path ();
use File::Spec ();
use File::Temp ();
use IO::Socket::INET ();
use MIME::Base64 ();
use Digest::SHA ();
use Time::HiRes ();
use LWP::UserAgent ();
use HTTP::Request ();
use POSIX ();
use CnTest ();

# The Event MPM and what mod_connect needs; mod_session_crypto too in the
# pass that runs the suite with it (t/TEST.PL's -cn_sessioncrypto).
our @ALL_MODULES = (qw(mpm_event authz_core dbd session session_cookie socache_shmcb),
                    session_crypto() ? 'session_crypto' : ());

sub session_crypto { CnTest::conf_value('cn_sessioncrypto') ? 1 : 0 }

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', ReuseAddr => 1)
        or croak "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# 32 random bytes.
sub random_key {
    open my $fh, '<:raw', '/dev/urandom' or croak "/dev/urandom: $!";
    read $fh, my $k, 32;
    return $k;
}

# Key id as the module computes it: the first 8 hex characters of SHA-256(key).
sub kid { substr Digest::SHA::sha256_hex($_[1] // $_[0]), 0, 8 }

sub new {
    my ($class, %o) = @_;
    my $base = File::Spec->catdir(CnTest::var_dir(), 'standalone');
    File::Path::make_path($base);
    my $tmp = File::Temp->newdir('httpd-XXXXXX', DIR => $base, CLEANUP => !$ENV{CN_KEEP});
    my $self = bless {
        tmp     => $tmp,
        dir     => "$tmp",
        port    => $o{port} || free_port(),
        httpd   => $o{httpd} || CnTest::conf_value('httpd'),
        modules => $o{modules_dir} || CnTest::conf_value('cn_modules'),
        so      => $o{so} || CnTest::conf_value('cn_module'),
        stderr  => '',
    }, $class;
    # A default key and application, so each test changes only what it tests.
    $self->{key} = random_key();
    $self->write_file('key.b64', MIME::Base64::encode_base64($self->{key}));
    $self->{app_secret} = 'standalone-app-secret-' . unpack('H*', substr(random_key(), 0, 8));
    $self->write_file('app.secret', "$self->{app_secret}\n");
    return $self;
}

sub dir  { $_[0]{dir} }
sub port { $_[0]{port} }
sub path { File::Spec->catfile($_[0]{dir}, $_[1]) }
sub db_file { $_[0]->path('connect.sqlite') }
sub conf_file { $_[0]->path('httpd.conf') }
sub error_log_file { $_[0]->path('error_log') }
sub pid_file { $_[0]->path('httpd.pid') }
sub base_url { "http://127.0.0.1:$_[0]{port}" }
sub app_creds { ('app', $_[0]{app_secret}) }
sub default_key { $_[0]{key} }

sub write_file {
    my ($self, $name, $content) = @_;
    my $file = $self->path($name);
    open my $fh, '>', $file or croak "$file: $!";
    binmode $fh;
    print $fh $content;
    close $fh;
    chmod 0600, $file;
    return $file;
}

# Write a key file of RAW bytes, base64-encoded; returns its path.
sub write_key {
    my ($self, $name, $raw) = @_;
    return $self->write_file($name, MIME::Base64::encode_base64($raw));
}

# The configuration text. Options (each defaults to the good configuration):
#   modules   => [names without mod_] (default @ALL_MODULES)
#   dbd       => 0: no DBDriver/DBDParams lines
#   session   => 0: no Session directives in the <Location>
#   key       => [sources] ([] or undef: no ConnectEncryptionKey)
#   apps      => [[id, source], ...] ([] or undef: no ConnectApplication)
#   base_url  => URL (undef: no ConnectBaseURL)
#   reencrypt => 1: ConnectReencrypt On
#   templates => DIR for ConnectTemplateDir (default: the tree's conf/templates;
#                undef: no such line, the module's default)
#   extra     => text appended
sub conf {
    my ($self, %o) = @_;
    my $d = $self->{dir};
    my %def = (
        modules  => [@ALL_MODULES],
        dbd      => 1,
        session  => 1,
        key      => ['file:' . $self->path('key.b64')],
        apps     => [['app', 'file:' . $self->path('app.secret')]],
        base_url => $self->base_url . '/connect',
        templates => File::Spec->catdir(CnTest::t_dir(), File::Spec->updir, 'conf', 'templates'),
    );
    %o = (%def, %o);
    my $c = <<"CONF";
# written by t/lib/CnTest/Httpd.pm
ServerRoot "$d"
ServerName 127.0.0.1
Listen 127.0.0.1:$self->{port}
PidFile "$d/httpd.pid"
ErrorLog "$d/error_log"
DefaultRuntimeDir "$d"
LogLevel info connect:debug
ErrorLogFormat "[%{cu}t] [%m:%l] [pid %P:tid %T] %M"
CONF
    for my $m (@{ $o{modules} }) {
        $c .= "LoadModule ${m}_module $self->{modules}/mod_$m.so\n";
    }
    $c .= "LoadModule connect_module \"$self->{so}\"\n";
    $c .= <<"CONF";
<IfModule mpm_event_module>
    StartServers 1
    ServerLimit 1
    ThreadsPerChild 8
    MaxRequestWorkers 8
    MinSpareThreads 1
    MaxSpareThreads 8
</IfModule>
CONF
    if ($o{dbd}) {
        $c .= "DBDriver sqlite3\nDBDParams \"" . $self->db_file . "\"\n";
    }
    $c .= "ConnectBaseURL $o{base_url}\n" if defined $o{base_url};
    $c .= "ConnectEncryptionKey @{ $o{key} }\n" if $o{key} && @{ $o{key} };
    for my $a (@{ $o{apps} || [] }) {
        $c .= "ConnectApplication @$a\n";
    }
    $c .= "ConnectReencrypt On\n" if $o{reencrypt};
    $c .= "ConnectTemplateDir \"$o{templates}\"\n" if defined $o{templates};
    $c .= "<Location /connect>\n    SetHandler connect\n";
    if ($o{session}) {
        $c .= "    Session On\n"
            . "    SessionCookieName connect_session path=/connect;HttpOnly;SameSite=Lax\n";
        $c .= "    SessionCryptoPassphrase standalone-test-passphrase-0123456789\n"
            if grep { $_ eq 'session_crypto' } @{ $o{modules} };
    }
    $c .= "</Location>\n";
    $c .= "$o{extra}\n" if defined $o{extra};
    return $c;
}

sub write_conf {
    my ($self, %o) = @_;
    $self->write_file('httpd.conf', $self->conf(%o));
    return $self->conf_file;
}

sub _log_text {
    my $file = shift;
    open my $fh, '<', $file or return '';
    local $/;
    my $t = <$fh>;
    return defined $t ? $t : '';
}

# Run the httpd binary with ARGS under a time limit, env vars ENV set;
# returns (exit status, combined stdout+stderr).
sub _run {
    my ($self, $env, @args) = @_;
    local %ENV = (%ENV, %{ $env || {} });
    my $out = $self->path('stderr.' . ++$self->{runs});
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        exec $self->{httpd}, @args or POSIX::_exit(127);
    }
    my $deadline = time + 60;
    my $rc;
    while (1) {
        my $w = waitpid $pid, POSIX::WNOHANG();
        if ($w == $pid) { $rc = $?; last }
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
            $rc = -1;
            last;
        }
        Time::HiRes::sleep(0.05);
    }
    return ($rc, _log_text($out));
}

sub _pid {
    my $self = shift;
    my $t = _log_text($self->pid_file);
    return $t =~ /(\d+)/ ? $1 : undef;
}

# PID exists and is not a zombie (a container's init may not reap it).
sub _running {
    my $pid = shift;
    return 0 unless kill 0, $pid;
    if (open my $fh, '<', "/proc/$pid/stat") {
        my $stat = <$fh>;
        return 0 if defined $stat && $stat =~ /^\d+ \(.*\) Z/s;
    }
    return 1;
}

# True when the server's parent process runs.
sub alive {
    my $self = shift;
    my $pid = $self->_pid or return 0;
    return _running($pid);
}

sub listening {
    my $self = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                  Proto => 'tcp', Timeout => 2);
    return $s ? 1 : 0;
}

# Start with `-k start`. env => {VAR => value}. Returns true when the start
# command succeeded and the server answers on its port; ->{rc} is the exit
# status, ->output() the command's output followed by the error log.
sub start {
    my ($self, %o) = @_;
    my ($rc, $out) = $self->_run($o{env}, '-f', $self->conf_file, '-k', 'start');
    $self->{rc} = $rc;
    $self->{stderr} = $out;
    $self->_report_problems;
    return 0 if $rc != 0;
    for (1 .. 200) {
        return 1 if $self->alive && $self->listening;
        Time::HiRes::sleep(0.05);
    }
    return 0;
}

# Wait up to a few seconds for no server to be left: no live parent, nothing
# listening. Returns true when so.
sub gone {
    my $self = shift;
    for (1 .. 100) {
        return 1 if !$self->alive && !$self->listening;
        Time::HiRes::sleep(0.05);
    }
    return 0;
}

# Sanitizer reports and crashed children in what this server wrote are
# copied to t/logs/sanitizer.standalone.*, where scripts/test.sh fails the run.
our $PROBLEM_RE = qr/runtime error:|ERROR: (?:Address|Leak|Thread|Memory)Sanitizer|SUMMARY: \w+Sanitizer|exit signal (?:Segmentation fault|Aborted|Bus error|Illegal instruction|Floating point exception)/;

sub _report_problems {
    my $self = shift;
    my $text = $self->output;
    return unless defined $PROBLEM_RE;    # global destruction: the pattern is gone already
    return if $text !~ $PROBLEM_RE || $self->{reported}{ length $text }++;
    my $logs = CnTest::conf_value('t_logs') or return;
    my $file = File::Spec->catfile($logs, "sanitizer.standalone.$$." . ++$self->{nreports});
    if (open my $fh, '>', $file) {
        print $fh "# from the standalone httpd in $self->{dir} (t/lib/CnTest/Httpd.pm)\n$text";
        close $fh;
    }
}

sub stop {
    my $self = shift;
    my $ok = 1;
    if ($self->alive) {
        my $pid = $self->_pid;
        $self->_run(undef, '-f', $self->conf_file, '-k', 'stop');
        $ok = 0;
        for (1 .. 200) {
            unless (_running($pid)) { $ok = 1; last }
            Time::HiRes::sleep(0.05);
        }
        kill 'KILL', $pid unless $ok;
    }
    $self->_report_problems;
    return $ok;
}

sub rc { $_[0]{rc} }

sub error_log { _log_text($_[0]->error_log_file) }

# What the last start printed, then the error log.
sub output {
    my $self = shift;
    return $self->{stderr} . "\n" . $self->error_log;
}

# Lines of the output matching RE.
sub lines_matching {
    my ($self, $re) = @_;
    return grep { /$re/ } split /\n/, $self->output;
}

my $UA;

# api($method, $path below /connect, $body) as the standalone's application.
sub api {
    my ($self, $method, $path, $body, %opt) = @_;
    $UA ||= LWP::UserAgent->new(timeout => 30, keep_alive => 0);
    my $req = HTTP::Request->new($method => $self->base_url . '/connect' . $path);
    $req->authorization_basic($self->app_creds) unless exists $opt{app} && !$opt{app};
    if (defined $body) {
        $req->content(CnTest::json_encode($body));
        $req->header('Content-Type' => 'application/json');
        $req->header('Content-Length' => length $req->content);
    }
    my $res = $UA->request($req);
    $res->{json} = CnTest::json_decode($res->content);
    return $res;
}

# An SQLite handle on the standalone's database.
sub dbh {
    my $self = shift;
    require DBI;
    my $dbh = DBI->connect('dbi:SQLite:dbname=' . $self->db_file, '', '',
                           { RaiseError => 1, PrintError => 0, AutoCommit => 1 });
    $dbh->sqlite_busy_timeout(10_000);
    return $dbh;
}

sub DESTROY {
    my $self = shift;
    local ($?, $@, $!);
    eval { $self->stop };
}

1;
