# The database goes away under light load and comes back: two nodes
# (t/lib/CnTest/Node.pm) on the pgsql pass's PostgreSQL, which this test stops
# and starts again (scripts/pg.sh stop / resume, -cn_pgdir). While it is down
# every answer is a 503 with the API's envelope and Retry-After (or the error
# page, for a page), never a 500 or a dead connection; both nodes stay up,
# their background jobs included, and serve again by themselves once it is
# back; every write that was answered 2xx is in the database afterwards.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Cwd ();
use File::Temp ();
use POSIX ();
use Time::HiRes ();
use URI ();
use Digest::SHA ();
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::Node;

plan skip_all => nodes_missing() if nodes_missing();
plan skip_all => 'the PostgreSQL outage runs in the pgsql pass (-cn_pgdir)'
    unless db_driver() eq 'pgsql' && conf_value('cn_pgdir');

my $pgdir = conf_value('cn_pgdir');
my $pg_sh = Cwd::abs_path(File::Spec->catfile(t_dir(), '..', 'scripts', 'pg.sh'));
my $db = cluster_db('cn_outage');
my $extra = "ConnectPurgeInterval 1";
my $na = CnTest::Node->new(name => 'a', db => $db, cache => cache_spec('memcache'), extra => $extra);
my $nb = CnTest::Node->new(name => 'b', db => $db, cache => cache_spec('memcache'), extra => $extra,
                          base_url => $na->base_url);
# Node C gets no request until the database is back: the connections mod_dbd
# opened for it at start sit idle in its pools through the outage.
my $nc = CnTest::Node->new(name => 'c', db => $db, cache => cache_spec('memcache'), extra => $extra,
                           base_url => $na->base_url);
ok $na->start, 'node A runs' or diag $na->output;
ok $nb->start, 'node B runs' or diag $nb->output;
ok $nc->start, 'node C runs' or diag $nc->output;
my $r = $na->api(POST => '/integrations', make_body());
is $r->code, 201, 'a google integration' or diag $r->as_string;
sub make_body {
    my ($id, $secret) = fake_client('google');
    return { name => 'fake google', provider => 'google', redirect_uris => [app_redirect_uri('one')],
             settings => { client_id => $id, client_secret => $secret },
             scope => ['https://www.googleapis.com/auth/gmail.readonly'] };
}

# ---- light load: two clients, each a POST /auth (a write) then a GET
# /integrations (a read) on A and B in turn, every 50 ms, each answer noted ----
my $dir = File::Temp->newdir('outage-XXXXXX', DIR => var_dir(), CLEANUP => 1);
my $stop_file = "$dir/stop";
my @workers;
for my $w (1 .. 2) {
    my $pid = fork;
    BAIL_OUT("fork: $!") unless defined $pid;
    if (!$pid) {
        CnTest::ua()->conn_cache(undef);
        open my $out, '>', "$dir/w$w" or POSIX::_exit(2);
        $out->autoflush(1);
        my $n = 0;
        until (-e $stop_file) {
            my $node = ($n++ + $w) % 2 ? $na : $nb;
            my $t = Time::HiRes::time();
            my $res = $node->api(POST => '/auth', { provider => 'google',
                                                    redirect_uri => app_redirect_uri('one') });
            my $login = $res->{json} && $res->{json}{data} && $res->{json}{data}{url};
            my $lid = $login ? URI->new($login)->query_param('id') : '-';
            print $out join("\t", $t, 'auth', $node->{name}, $res->code, $lid, envelope($res)), "\n";
            $res = $node->api(GET => '/integrations');
            print $out join("\t", Time::HiRes::time(), 'list', $node->{name}, $res->code, '-', envelope($res)), "\n";
            Time::HiRes::sleep(0.05);
        }
        close $out;
        POSIX::_exit(0);
    }
    push @workers, $pid;
}
# What an answer is: "ok", or for a 503 whether it is the envelope with Retry-After.
sub envelope {
    my $res = shift;
    return 'ok' if $res->is_success;
    my $e = $res->{json} && $res->{json}{error} || {};
    my $good = $res->code == 503 && ($e->{type} // '') eq 'service_unavailable'
        && ($e->{http_code} // 0) == 503 && $e->{request_id} && ($res->header('Retry-After') // '') =~ /^\d+$/;
    return $good ? 'envelope' : 'bad:' . substr($res->content // '', 0, 120) =~ s/\s+/ /gr;
}

Time::HiRes::sleep(1.5);
my $at_a = $na->error_log_offset;
my $t_down = Time::HiRes::time();
is system('sh', $pg_sh, 'stop', $pgdir), 0, 'PostgreSQL stopped';

# During the outage: a page, the API, on both nodes.
Time::HiRes::sleep(1);
my $page = $na->api(GET => '/login', undef, app => undef, query => 'id=nothing-to-see');
is $page->code, 503, 'a page route while the database is down: 503';
like $page->header('Content-Type') // '', qr{^text/html}, '... the error page';
like $page->content, qr/service_unavailable/, '... naming service_unavailable';
is $page->header('Retry-After'), 5, '... with Retry-After: 5';
my $list = $nb->api(GET => '/grants');
is $list->code, 503, 'GET /grants on B while the database is down: 503';
is envelope($list), 'envelope', '... with the envelope and Retry-After';
Time::HiRes::sleep(2);

my $t_up = Time::HiRes::time();
my $port = `sh $pg_sh resume $pgdir`;
is $?, 0, 'PostgreSQL started again' or diag $port;
chomp $port;
my ($up_a, $up_b) = ($na->error_log_offset, $nb->error_log_offset);
ok $port && conf_value('cn_dbdparams') =~ /port=\Q$port\E\b/, '... on its port';

Time::HiRes::sleep(3);
open my $sf, '>', $stop_file or die "$stop_file: $!";
close $sf;
for my $pid (@workers) {
    my $deadline = time + 30;
    while (waitpid($pid, POSIX::WNOHANG()) == 0 && time < $deadline) { Time::HiRes::sleep(0.05) }
}

# ---- what the clients saw -------------------------------------------------------------
my @seen;
for my $w (1 .. 2) {
    open my $fh, '<', "$dir/w$w" or next;
    push @seen, map { chomp; [split /\t/] } <$fh>;
}
@seen = sort { $a->[0] <=> $b->[0] } @seen;
my %codes;
$codes{ $_->[3] }++ for @seen;
ok scalar(@seen) > 40, 'the clients made their requests (' . scalar(@seen) . ')';
is_deeply [grep { $_ ne '200' && $_ ne '503' } sort keys %codes], [],
    'only 200s and 503s, never a 500 or a lost connection' or diag explain \%codes;
ok $codes{503}, "503s while the database was down ($codes{503})";
is_deeply [map { "$_->[1] $_->[2] $_->[5]" } grep { $_->[3] eq '503' && $_->[5] ne 'envelope' } @seen], [],
    '... each with the envelope and Retry-After';
my @before = grep { $_->[0] < $t_down } @seen;
ok @before && !grep({ $_->[3] ne '200' } @before), 'before the outage: every answer a 200';
my @after = grep { $_->[0] > $t_up + 1 } @seen;
ok @after > 10, 'requests after the database came back (' . scalar(@after) . ')';
is_deeply [map { "$_->[1] $_->[2] $_->[3]" } grep { $_->[3] ne '200' } @after], [],
    'from a second after its return on, every answer a 200, on both nodes';
my ($first_ok) = grep { $_->[3] eq '200' && $_->[0] > $t_up } @seen;
ok $first_ok && $first_ok->[0] - $t_up < 2, 'the first success within 2 s of the restart';

# Nothing lost: every login request that was answered 2xx is stored.
my @made = map { $_->[4] } grep { $_->[1] eq 'auth' && $_->[3] eq '200' } @seen;
my %stored = map { $_ => 1 } @{ $db->dbh->selectcol_arrayref('SELECT id_digest FROM login_requests') };
my @lost = grep { !$stored{ Digest::SHA::sha256_hex($_) } } @made;
ok @made > 10, scalar(@made) . ' login requests answered 200';
is scalar(@lost), 0, '... every one of them in the database';

# ---- the nodes lived through it --------------------------------------------------------
ok $na->alive && $nb->alive, 'both nodes still run';
for my $node ($na, $nb) {
    unlike $node->error_log, qr/exit signal|Segmentation|AH00052/, "node $node->{name}: no child died";
}
my $since = $na->error_log_since($at_a);
ok $since =~ /CN02300: the database is unavailable/, 'node A logged the database as unavailable (its own log id)';
# The purge runs every second: it failed while the database was down
# (CN01510) and runs again since it is back.
my $deadline = time + 10;
my $purged = sub { ($na->error_log_since($up_a) . $nb->error_log_since($up_b)) =~ /CN01502: purge/ };
Time::HiRes::sleep(0.25) until $purged->() || time > $deadline;
ok $purged->(), 'the purge ran again after the outage, without a restart';
ok $since =~ /CN01510: purge: the lease cannot be taken/, '... having failed while the database was down';
# Node C's idle connections were closed under it: each is made again, with
# its statements, at its first use. Sign-ins started there go through, on
# new connections each (so on both of its processes).
my @c_codes;
my %close = (headers => { Connection => 'close' });
for my $i (1 .. 12) {
    my $res = $nc->api(POST => '/auth', { provider => 'google', redirect_uri => app_redirect_uri('one') }, %close);
    push @c_codes, $res->code;
    my $login = $res->{json} && $res->{json}{data} && $res->{json}{data}{url} or next;
    (my $path = $login) =~ s{^\Q${\ $na->base_url}\E}{};
    push @c_codes, $nc->api(GET => $path, undef, app => undef, %close)->code;
}
is_deeply \@c_codes, [(200, 302) x 12], 'node C, idle through the outage: POST /auth and /login answer at once';
my %c_pids = map { $_ => 1 } $nc->error_log =~ /\[pid (\d+):tid \d+\] \[[-0-9a-f]+\] CN00103: POST \/auth/g;
note 'node C served them in processes ' . join(' ', sort keys %c_pids);
# Made again at their first use after the outage (CN02302), or already by
# a job of C's that met them during it (CN02300), the node's pool replacing
# them then.
like $nc->error_log, qr/CN02302: PostgreSQL: connected again|CN02300: the database is unavailable: PostgreSQL does not answer/,
    '... its connections made again (CN02302, or during the outage)';

# The test server shares the PostgreSQL and sat idle through the outage: its
# pooled connections were closed under it, which it notices before use.
my %main = map { CnTest::api(GET => '/integrations')->code => 1 } 1 .. 12;
is_deeply [sort keys %main], [200], 'the test server (on the same PostgreSQL, idle meanwhile) answers 200 at once';

ok $na->stop && $nb->stop && $nc->stop, 'the nodes stop';
done_testing;
