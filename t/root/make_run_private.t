# `make run` from a fresh clone inside a private (mode 0700) directory, as
# root: the children, which run as www-data, cannot reach the tree, so the
# server must keep its state in a directory of its own, say where, and
# answer the curl examples it prints (not Apache's 403, not a 500). `make
# stop` leaves that state for the next `make run`.
#
# Needs root (scripts/test.sh runs it with prove before it drops to the test
# user) and the repository's .git: the clone is of the committed HEAD.
use strict;
use warnings;
use Test::More;
use Cwd ();
use File::Basename ();
use File::Path ();
use File::Temp ();
use IO::Socket::INET ();

my $TOP = Cwd::abs_path(File::Basename::dirname(__FILE__) . '/../..');
plan skip_all => 'needs root (make run as root drops the children to www-data)' if $> != 0;
plan skip_all => "no .git in $TOP: nothing to clone" unless -e "$TOP/.git";
plan skip_all => 'no user www-data' unless defined getpwnam('www-data');

my $dirty = `git -C '$TOP' status --porcelain --untracked-files=no 2>/dev/null`;
diag 'testing the committed HEAD; uncommitted changes of the tree are not in the clone' if $dirty;

my $port = do {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', ReuseAddr => 1) or die "no free port: $!";
    $s->sockport;
};

# A private directory, like /root on Debian.
my $private = File::Temp::tempdir('cn-private-XXXXXX', TMPDIR => 1, CLEANUP => 0);
chmod 0700, $private;
my $clone = "$private/mod_connect";
my $STATE_ROOT = '/var/lib/mod_connect';
my $state_root_existed = -d $STATE_ROOT;
my %before;
if ($state_root_existed && opendir(my $dh, $STATE_ROOT)) {
    %before = map { $_ => 1 } readdir $dh;
    closedir $dh;
}
my $state;    # set only when make run made it: then it is removed at the end
# As a user would run it: none of the test run's own settings (make asan's
# CN_SANITIZE and CN_MODULE) reach the clone's make.
delete @ENV{qw(CN_SANITIZE CN_MODULE CN_PASSES CN_KEEP MAKEFLAGS MAKELEVEL MFLAGS)};
sub in_clone { my $cmd = shift; return scalar `cd '$clone' && $cmd 2>&1` }
# Interrupted (or its output cut short), it still stops the server and cleans up.
$SIG{$_} = sub { exit 1 } for qw(INT TERM HUP PIPE);
END {
    local $?;
    in_clone('make -s stop') if $clone && -f "$clone/Makefile";
    File::Path::remove_tree($private) if $private && -d $private;
    File::Path::remove_tree($state) if $state && -d $state;
    rmdir $STATE_ROOT unless $state_root_existed;
}

my $out = `git -c safe.directory='*' clone -q '$TOP' '$clone' 2>&1`;
is $?, 0, 'git clone of the tree into a mode-0700 directory' or BAIL_OUT("git clone: $out");
isnt system('runuser', '-u', 'www-data', '--', 'test', '-x', $clone), 0,
    'www-data cannot reach the clone';

# make run (it builds the module of the clone).
my $t0 = time;
my $run = in_clone("timeout 600 env PORT=$port make -s run");
is $?, 0, 'make run succeeds' or diag $run;
diag sprintf 'make run took %d s', time - $t0;
my ($printed) = $run =~ m{^the database, keys and logs live in ($STATE_ROOT/[\w.-]+)$}m;
ok $printed, "make run prints where the state is, under $STATE_ROOT" or diag $run;
$printed //= "$STATE_ROOT/-";
(my $name = $printed) =~ s{.*/}{};
ok !$before{$name}, "... a directory of its own, $name" or diag "$printed was there before";
$state = $printed if !$before{$name} && -d $printed;
like $run, qr{\(logs: \Q$printed\E/log/error\.log\)}, '... and where its error log is';
ok -f "$printed/db/connect.db", 'the database is in the state directory';

# The printed curl examples: lines after "Try it:", continued with "\".
my ($block) = $run =~ /^Try it:\n(.*?)\n\s*\n/ms;
(my $joined = $block // '') =~ s/\\\n\s*/ /g;
my @curls = grep { /^\s*curl / } split /\n/, $joined;
is scalar @curls, 7, 'seven curl examples' or diag $run;
# create two integrations, list them, a hosted login with the login screen,
# find the providers, OpenID Connect discovery, the grants in the v3 layout
my @expect = (201, 201, 200, 200, 200, 200, 200);
for my $i (0 .. $#curls) {
    (my $cmd = $curls[$i]) =~ s/^\s+//;
    my $res = `$cmd -w '\n%{http_code}' 2>&1`;
    my ($body, $code) = $res =~ /\A(.*)\n(\d{3})\z/s;
    my ($what) = $cmd =~ m{(/(?:connect|v3)/\S*?)'?$};
    is $code, $expect[$i], "curl example " . ($i + 1) . " ($what): $expect[$i]"
        or diag "$cmd\n$res\n" . in_clone("tail -5 '$printed/log/error.log' var/log/error.log");
    like $body // '', qr/\A\{"(?:data|success|issuer)"/, '... the module\'s JSON';
}
# make run made a signing key: discovery names its algorithm.
like `curl -s http://127.0.0.1:$port/connect/.well-known/openid-configuration`,
    qr/"id_token_signing_alg_values_supported":\["RS256"\]/, 'id_tokens are signed RS256';
is sprintf('%o', (stat "$printed/keys/signing.pem")[2] & 07777), '600',
    'the signing key is readable by its owner only';
my $secret = slurp("$printed/keys/demo-app.secret");
my $list = `curl -s -u 'demo-app:$secret' http://127.0.0.1:$port/connect/integrations`;
like $list, qr/"provider"\s*:\s*"google"/, 'the integration the example created is listed'
    or diag $list;
like $list, qr/"provider"\s*:\s*"imap"/, '... and the imap one' or diag $list;
# the login link of the example shows the login screen with both
my $auth = `curl -s -u 'demo-app:$secret' -H 'Content-Type: application/json' -d '{"redirect_uri":"http://localhost:3000/callback","prompt":"select_provider"}' http://127.0.0.1:$port/connect/auth`;
my ($login) = $auth =~ /"url"\s*:\s*"([^"]+)"/;
like `curl -s '$login'`, qr/provider-google.*provider-imap/s, 'its login link: the login screen, Google and IMAP'
    or diag $auth;

# make stop keeps the state.
my $stop = in_clone('make -s stop');
is $?, 0, 'make stop succeeds' or diag $stop;
like $stop, qr/^stopped \(state kept in \Q$printed\E\)$/m, 'make stop found the server';
my $listening = 1;
for (1 .. 100) {    # -k stop signals the parent; it closes its sockets soon after
    $listening = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                       Proto => 'tcp', Timeout => 2) or last;
    select undef, undef, undef, 0.1;
}
ok !$listening, 'nothing listens any more';
ok -f "$printed/db/connect.db" && -s "$printed/keys/key1", 'the state is still there for the next make run';

sub slurp {
    open my $fh, '<', $_[0] or return '';
    local $/;
    my $t = <$fh> // '';
    $t =~ s/\s+\z//;
    return $t;
}

done_testing;
