package CnTest::Node;
# Several Apache nodes on one machine: each an httpd started from the
# configuration Apache::Test generated (t/conf/httpd.conf, which includes
# t/conf/extra.conf) with its own port, PidFile, ErrorLog, access log and
# runtime directory, and the same mod_connect configuration, but for what a
# test appends: the database of the cluster, ConnectCache memcache:/redis:,
# one ConnectBaseURL for all (the address a load balancer would have).
#
#   use CnTest::Node;
#   my $db = CnTest::Node::cluster_db('nodes');      # a database of the cluster's own
#   my $a = CnTest::Node->new(name => 'a', db => $db, cache => cache_spec('memcache'));
#   my $b = CnTest::Node->new(name => 'b', db => $db, cache => ..., base_url => $a->base_url);
#   $a->start or diag $a->output;                     # true when it answers
#   $a->api(GET => '/grants');                        # CnTest::api on this node
#   $a->url('/callback?...'); $a->port; $a->error_log; $a->error_log_since($at)
#   $a->kill9;                                        # SIGKILL, parent and children
#   $a->stop;
#
# cluster_db(NAME): on PostgreSQL (the pgsql pass) a database NAME made
# afresh in the pass's server; on SQLite the file t/var/db/NAME.sqlite, made
# afresh: several nodes on one file of one machine. ->{driver}, ->{params},
# ->dbh (DBI, RaiseError).
# cache_spec('memcache' | 'redis'): the ConnectCache value for the run's
# memcached or redis-server (t/fake/caches.sh), or undef without them.
use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use File::Path ();
use File::Spec ();
use File::Temp ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes ();
use DBI ();
use CnTest qw(conf_value t_dir var_dir mount db_driver);
use CnTest::Httpd ();

our @EXPORT = qw(cluster_db cache_spec nodes_missing);

# Why the several-node tests cannot run here (undef: they can).
sub nodes_missing {
    return 'no memcached/redis-server given (scripts/test.sh starts them: -cn_memcacheport, -cn_redisport)'
        unless conf_value('cn_memcacheport') && conf_value('cn_redisport');
    my $conf = File::Spec->catfile(t_dir(), 'conf', 'httpd.conf');
    return "no $conf" unless -r $conf;
    return undef;
}

sub cache_spec {
    my $kind = shift;
    my $port = conf_value($kind eq 'redis' ? 'cn_redisport' : 'cn_memcacheport') or return undef;
    return "$kind:127.0.0.1:$port";
}

# ---- the cluster's database ---------------------------------------------------

{
    package CnTest::Node::DB;
    sub dbh {
        my $self = shift;
        return $self->{dbh} if $self->{dbh} && $self->{pid} == $$ && eval { $self->{dbh}->ping };
        if ($self->{driver} eq 'sqlite3') {
            $self->{dbh} = DBI->connect("dbi:SQLite:dbname=$self->{params}", '', '',
                                        { RaiseError => 1, PrintError => 0, AutoCommit => 1 });
            $self->{dbh}->sqlite_busy_timeout(10_000);
        }
        else {
            my %p = map { split /=/, $_, 2 } split ' ', $self->{params};
            $self->{dbh} = DBI->connect("dbi:Pg:dbname=$p{dbname};host=$p{host};port=$p{port}",
                                        $p{user}, '', { RaiseError => 1, PrintError => 0,
                                                        AutoCommit => 1, pg_server_prepare => 0 });
            $self->{dbh}->do('SET client_min_messages = warning');
        }
        $self->{pid} = $$;
        return $self->{dbh};
    }
}

sub cluster_db {
    my $name = shift;
    croak 'cluster_db: a plain name' unless $name && $name =~ /^\w+$/;
    my $self = bless { name => $name, driver => db_driver() }, 'CnTest::Node::DB';
    if (db_driver() eq 'sqlite3') {
        my $file = File::Spec->catfile(var_dir(), 'db', "$name.sqlite");
        unlink map { "$file$_" } '', '-wal', '-shm', '-journal';
        $self->{params} = $file;
    }
    else {
        my $main = CnTest::dbh();
        $main->do(qq{DROP DATABASE IF EXISTS "$name"});
        $main->do(qq{CREATE DATABASE "$name"});
        (my $params = conf_value('cn_dbdparams')) =~ s/\bdbname=\S+/dbname=$name/;
        $self->{params} = $params;
    }
    return $self;
}

# ---- a node ------------------------------------------------------------------

# new(name => 'a', db => cluster_db(...), cache => 'memcache:...', base_url => URL,
#     extra => "directives appended last", port => N)
sub new {
    my ($class, %o) = @_;
    croak 'CnTest::Node->new: name and db' unless $o{name} && $o{db};
    # Under t/logs, so that scripts/test.sh keeps the nodes' logs with the pass's.
    my $base = File::Spec->catdir(conf_value('t_logs'), 'nodes');
    File::Path::make_path($base);
    my $dir = File::Temp::tempdir("$o{name}-XXXXXX", DIR => $base, CLEANUP => 0);
    my $self = bless { %o, dir => $dir, port => $o{port} || CnTest::Httpd::free_port(),
                       httpd => CnTest::conf_value('httpd') }, $class;
    File::Path::make_path("$self->{dir}/state");
    $self->{base_url} ||= $self->origin . '/connect';
    return $self;
}

sub port     { $_[0]{port} }
sub dir      { $_[0]{dir} }
sub origin   { 'http://127.0.0.1:' . $_[0]{port} }
sub base_url { $_[0]{base_url} }
sub url      { $_[0]->origin . mount() . (defined $_[1] ? $_[1] : '') }
sub conf_file { "$_[0]{dir}/httpd.conf" }
sub pid_file  { "$_[0]{dir}/httpd.pid" }
sub error_log_file { "$_[0]{dir}/error_log" }

# The generated configuration with this node's own files and port, and its
# overrides after the Include of extra.conf (the last of a directive wins).
sub conf_text {
    my $self = shift;
    my $file = File::Spec->catfile(t_dir(), 'conf', 'httpd.conf');
    open my $fh, '<', $file or croak "$file: $!";
    my $d = $self->{dir};
    my @out;
    while (my $line = <$fh>) {
        $line =~ s/^(\s*)Listen\s+\S+/${1}Listen 127.0.0.1:$self->{port}/;
        $line =~ s/^(\s*)ServerName\s+(\S+?):\d+\s*$/${1}ServerName $2:$self->{port}\n/;
        $line =~ s/^(\s*)PidFile\s+.*/${1}PidFile "$d\/httpd.pid"/;
        $line =~ s/^(\s*)ErrorLog\s+.*/${1}ErrorLog "$d\/error_log"/;
        $line =~ s/^(\s*)TransferLog\s+.*/${1}TransferLog "$d\/access_log"/;
        $line =~ s/^(\s*)ScriptSock\s+.*/${1}ScriptSock "$d\/cgisock"/;
        $line =~ s/^(\s*)DefaultRunTimeDir\s+.*/${1}DefaultRunTimeDir "$d"/;
        $line =~ s/^(\s*)DefaultStateDir\s+.*/${1}DefaultStateDir "$d\/state"/;
        push @out, $line;
    }
    my $db = $self->{db};
    push @out, "\n# ---- node $self->{name} (t/lib/CnTest/Node.pm) ----\n",
        "DBDriver $db->{driver}\n",
        qq{DBDParams "$db->{params}"\n},
        "ConnectBaseURL $self->{base_url}\n";
    if ($self->{cache}) {
        # httpd's provider of that name: mod_socache_memcache or mod_socache_redis.
        my ($kind) = $self->{cache} =~ /^(\w+)/;
        my $modules = conf_value('cn_modules');
        push @out, "<IfModule !socache_${kind}_module>\n",
            "    LoadModule socache_${kind}_module $modules/mod_socache_$kind.so\n",
            "</IfModule>\n", "ConnectCache $self->{cache}\n";
    }
    push @out, "$self->{extra}\n" if defined $self->{extra};
    return join '', @out;
}

sub _text {
    my $file = shift;
    open my $fh, '<', $file or return '';
    local $/;
    my $t = <$fh>;
    return defined $t ? $t : '';
}

sub _run {
    my ($self, @args) = @_;
    my $out = "$self->{dir}/stderr." . ++$self->{runs};
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        exec $self->{httpd}, '-f', $self->conf_file, @args or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $rc = $?;
    $self->{stderr} = _text($out);
    return $rc;
}

sub pid {
    my $self = shift;
    return _text($self->pid_file) =~ /(\d+)/ ? $1 : undef;
}

sub alive {
    my $self = shift;
    my $pid = $self->pid or return 0;
    return CnTest::Httpd::_running($pid);
}

sub answers {
    my $self = shift;
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                 Proto => 'tcp', Timeout => 2) ? 1 : 0;
}

# Start (writing the configuration first); true when it runs and answers.
sub start {
    my $self = shift;
    open my $fh, '>', $self->conf_file or croak $self->conf_file . ": $!";
    print $fh $self->conf_text;
    close $fh;
    unlink $self->pid_file;
    return 0 if $self->_run('-k', 'start') != 0;
    for (1 .. 300) {
        return 1 if $self->alive && $self->answers;
        Time::HiRes::sleep(0.05);
    }
    return 0;
}

# The pids of the node's processes: the parent and its children.
sub pids {
    my $self = shift;
    my $parent = $self->pid or return ();
    my @kids;
    opendir my $dh, '/proc' or return ($parent);
    for my $p (grep { /^\d+$/ } readdir $dh) {
        my $stat = _text("/proc/$p/stat");
        push @kids, $p if $stat =~ /^\d+ \(.*\) \S (\d+)/s && $1 == $parent;
    }
    return ($parent, @kids);
}

# SIGKILL to every process of the node at once: no cleanup, no lease given back.
sub kill9 {
    my $self = shift;
    my @pids = $self->pids or return 0;
    kill 'KILL', @pids;
    for (1 .. 100) {
        last unless grep { CnTest::Httpd::_running($_) } @pids;
        Time::HiRes::sleep(0.05);
    }
    $self->{killed} = 1;
    return 1;
}

sub stop {
    my $self = shift;
    return 1 unless $self->alive;
    my @pids = $self->pids;
    $self->_run('-k', 'stop');
    for (1 .. 200) {
        return 1 unless grep { CnTest::Httpd::_running($_) } @pids;
        Time::HiRes::sleep(0.05);
    }
    kill 'KILL', @pids;
    return 0;
}

sub error_log { _text($_[0]->error_log_file) }
sub error_log_offset { -s $_[0]->error_log_file || 0 }

sub error_log_since {
    my ($self, $at) = @_;
    open my $fh, '<', $self->error_log_file or return '';
    seek $fh, $at || 0, 0;
    local $/;
    my $t = <$fh>;
    return defined $t ? $t : '';
}

# What the last start printed, then the error log.
sub output { my $self = shift; ($self->{stderr} // '') . "\n" . $self->error_log }

sub api {
    my ($self, $method, $path, $body, %opt) = @_;
    return CnTest::api($method, $path, $body, %opt, base => $self->origin);
}

sub DESTROY {
    my $self = shift;
    local ($?, $@, $!);
    return unless $self->{dir};
    eval { $self->stop };
    # Crashes and sanitizer reports of a node fail the run as the main server's do.
    my $text = eval { $self->error_log } // '';
    if (defined $CnTest::Httpd::PROBLEM_RE && $text =~ $CnTest::Httpd::PROBLEM_RE) {
        my $logs = CnTest::conf_value('t_logs');
        if ($logs && open my $fh, '>', File::Spec->catfile($logs, "sanitizer.node.$$.$self->{name}")) {
            print $fh "# from node $self->{name} in $self->{dir} (t/lib/CnTest/Node.pm)\n$text";
            close $fh;
        }
    }
}

1;
