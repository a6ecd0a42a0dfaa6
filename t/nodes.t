# Two Apache nodes, one database: two httpd instances on one machine
# (t/lib/CnTest/Node.pm), the same configuration but for their ports, on a
# database of their own (PostgreSQL in the pgsql pass; one SQLite file in the
# others) and a shared cache (ConnectCache memcache:, then redis:, on the
# memcached and redis-server the run started). A hosted flow started on node
# A finishes on node B (the session cookie carries it); the IMAP form's
# wrong-password counter (CN_IMAP_ATTEMPTS, in ConnectCache) counts the
# attempts made on either node; callers on both nodes at once for one expired
# grant cause exactly one refresh at the provider; an OAuth 1.0a nonce spent
# on A is refused on B.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use HTTP::Request::Common ();
use IO::Socket::INET ();
use URI ();
use Digest::SHA ();
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::Imap;
use CnTest::Node;
use CnTest::ContextIO qw(cio cio_send cio_missing);

plan skip_all => nodes_missing() if nodes_missing();
plan skip_all => imap_missing() if imap_missing();

my $db = cluster_db('cn_nodes');
my $RU = app_redirect_uri('one');

# A pair of nodes on the cluster's database with CACHE; B's ConnectBaseURL
# is A's, as both would name their load balancer.
sub pair {
    my $cache = shift;
    my $a = CnTest::Node->new(name => "a-$cache", db => $db, cache => cache_spec($cache));
    my $b = CnTest::Node->new(name => "b-$cache", db => $db, cache => cache_spec($cache),
                              base_url => $a->base_url);
    ok $a->start, "node A ($cache) runs" or diag $a->output;
    ok $b->start, "node B ($cache) runs" or diag $b->output;
    return ($a, $b);
}

my ($a, $b) = pair('memcache');
like $a->error_log, qr/mod_connect/i, 'node A logs to its own error log';

# ---- integrations, made on A, seen on B ----------------------------------------------------
my ($gid, $gsecret) = fake_client('google');
my $r = $a->api(POST => '/integrations', {
    name => 'fake google', provider => 'google', redirect_uris => [$RU],
    settings => { client_id => $gid, client_secret => $gsecret },
    scope => ['https://www.googleapis.com/auth/gmail.readonly'] });
is $r->code, 201, 'a google integration, made on node A' or diag $r->as_string;
$r = $a->api(POST => '/integrations', { name => 'Mailboxes', provider => 'imap', redirect_uris => [$RU] });
is $r->code, 201, 'an imap integration, made on node A' or diag $r->as_string;
$r = $b->api(GET => '/integrations/google');
is $r->code, 200, 'node B reads the google integration' or diag $r->as_string;
is scalar(grep { $_->{provider} } @{ $db->dbh->selectall_arrayref('SELECT provider FROM integrations', { Slice => {} }) }),
    2, 'both in the cluster\'s database';

# ---- a hosted flow started on A, finished on B -------------------------------------------
sub logged {       # whether NODE's access log has PATH since OFFSET
    my ($node, $at, $path) = @_;
    open my $fh, '<', $node->dir . '/access_log' or return 0;
    seek $fh, $at, 0;
    local $/;
    my $t = <$fh> // '';
    return $t =~ m{"GET \Q$path\E HTTP} ? 1 : 0;
}
sub served_by {    # the node whose access log has PATH since OFFSET
    my ($node, $at, $path) = @_;
    # httpd writes the line once the answer is sent: it may follow it by a moment.
    return wait_for(3, sub { logged($node, $at, $path) });
}
sub access_offset { -s ($_[0]->dir . '/access_log') || 0 }

my $f = CnTest::Flow->new(provider => 'google', login_hint => 'cross.node@example.com',
                          state => 'across', base => $a->origin);
ok $f->auth, 'POST /auth on node A' or diag $f->{error};
like $f->{login_url} // '', qr{^\Q${\ $a->base_url}\E/login\?}, '... a login URL under the shared ConnectBaseURL';
my ($at_a, $at_b) = (access_offset($a), access_offset($b));
ok $f->login, 'GET /login on node A: to the provider' or diag $f->{error};
ok $f->session_cookie, '... the flow in the session cookie';
ok $f->authorize, 'the provider sends the browser back' or diag $f->{error};
my $cb = URI->new($f->{callback_url});
is $cb->path, '/connect/callback', '... to the callback';
$cb->port($b->port);    # the load balancer sends it to node B
ok $f->callback(url => "$cb"), 'GET /callback on node B' or diag $f->{error};
is $f->result->{success}, 'true', '... the flow succeeds there' or diag $f->{callback}->as_string;
is $f->result->{state}, 'across', '... with its state';
is $f->result->{email}, 'cross.node@example.com', '... and the address';
ok served_by($a, $at_a, '/connect/login') && !logged($b, $at_b, '/connect/login'), 'A served /login';
ok served_by($b, $at_b, '/connect/callback') && !logged($a, $at_a, '/connect/callback'),
    'B served /callback';
my $grant = $f->grant_id;
$r = $a->api(GET => "/grants/$grant");
is $r->code, 200, 'the grant made on B reads on A' or diag $r->as_string;
is $r->{json}{data}{email}, 'cross.node@example.com', '... its address';

# The same state cannot finish twice, whichever node it reaches.
my $again = $f->browser_get("$cb");
isnt $again->code, 302, 'the callback replayed on B does not redirect to the application again';
$cb->port($a->port);
$again = $f->browser_get("$cb");
isnt $again->code, 302, '... nor on A';

# ---- the IMAP form's wrong-password counter, shared through ConnectCache -------------------
my %pw = imap_passwords();
my %alice = (email => 'alice@example.test', username => 'alice', host => '127.0.0.1',
             port => imap_port('imaps'), security => 'ssl');
sub hidden {
    my ($html, $name) = @_;
    return $html =~ /<input type="hidden" name="\Q$name\E" value="([^"]*)"/ ? $1 : undef;
}
sub submit_to {
    my ($node, $flow, $page, %fields) = @_;
    my %form = (csrf => hidden($page->content, 'csrf'), state => hidden($page->content, 'state'), %fields);
    return $flow->{browser}->request(HTTP::Request::Common::POST($node->url('/imap'), \%form));
}
# The raw value of KEY in the memcached / redis of the run (undef: none).
sub memcache_get {
    my $key = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => conf_value('cn_memcacheport'),
                                  Timeout => 5) or return undef;
    print $s "get $key\r\n";
    my $head = <$s> // '';
    return undef unless $head =~ /^VALUE \S+ \d+ (\d+)/;
    read $s, my $v, $1;
    return $v;
}
# The seconds KEY has left there (-1: no expiry; undef: no such key).
sub memcache_ttl {
    my $key = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => conf_value('cn_memcacheport'),
                                  Timeout => 5) or return undef;
    print $s "mg $key t\r\n";
    my $head = <$s> // '';
    return $head =~ /^HD.* t(-?\d+)/ ? $1 : undef;
}
sub redis_ttl {
    my $key = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => conf_value('cn_redisport'),
                                  Timeout => 5) or return undef;
    print $s '*2' . "\r\n\$3\r\nTTL\r\n\$" . length($key) . "\r\n$key\r\n";
    my $head = <$s> // '';
    return $head =~ /^:(-?\d+)/ && $1 != -2 ? $1 : undef;
}
sub redis_get {
    my $key = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => conf_value('cn_redisport'),
                                  Timeout => 5) or return undef;
    print $s '*2' . "\r\n\$3\r\nGET\r\n\$" . length($key) . "\r\n$key\r\n";
    my $head = <$s> // '';
    return undef unless $head =~ /^\$(\d+)/;
    read $s, my $v, $1;
    return $v;
}
# The key the providers store FLOW's counter under: mod_socache's tag, then
# the hex of "connect:imap-attempts.<sha256 of the state>".
sub attempts_key {
    my $state = shift;
    return 'mod_connect-cache:' . unpack 'H*', 'connect:imap-attempts.' . Digest::SHA::sha256_hex($state);
}

sub counter_across {
    my ($kind, $na, $nb) = @_;
    my $flow = CnTest::Flow->new(provider => 'imap', state => "count-$kind", base => $na->origin,
                                 login_hint => 'alice@example.test');
    ok $flow->auth, "$kind: POST /auth (imap) on A" or diag $flow->{error};
    my $login = $flow->browser_get($flow->{login_url});
    is $login->code, 302, "$kind: GET /login on A: to the form";
    (my $form_url = $login->header('Location') // '') =~ s{^\Q${\ $na->origin}\E}{};
    my $page = $flow->browser_get($na->origin . $form_url);
    is $page->code, 200, "$kind: the form, from A" or diag $page->as_string;
    my $state = hidden($page->content, 'state') // '';
    my $res = submit_to($na, $flow, $page, %alice, password => 'wrong-on-a');
    is $res->code, 200, "$kind: a wrong password on A: the form again";
    like $res->content, qr{password is not right}, '... saying so';
    my $raw = $kind eq 'redis' ? redis_get(attempts_key($state)) : memcache_get(attempts_key($state));
    like $raw // '', qr/^1 \d+$/, "$kind: the count (1) is in the $kind server";
    my $ttl = $kind eq 'redis' ? redis_ttl(attempts_key($state)) : memcache_ttl(attempts_key($state));
    ok defined $ttl && $ttl > 60 && $ttl <= 43200,
        "$kind: ... with the flow's lifetime as its own there (" . ($ttl // 'none') . ' s): the server forgets it';
    $res = submit_to($nb, $flow, $res, %alice, password => 'wrong-on-b');
    is $res->code, 200, "$kind: a wrong password on B: the form again";
    $raw = $kind eq 'redis' ? redis_get(attempts_key($state)) : memcache_get(attempts_key($state));
    like $raw // '', qr/^2 \d+$/, "$kind: B counted on from A's count (2)";
    $res = submit_to($na, $flow, $res, %alice, password => 'wrong-again-on-a');
    is $res->code, 303, "$kind: the third wrong password, on A again, ends the sign-in";
    my $q = query_of($res->header('Location'));
    is $q->{error}, 'auth_limit_reached', '... auth_limit_reached: A saw the attempt made on B';
    is $q->{state}, "count-$kind", '... for that flow';
    $res = submit_to($nb, $flow, $page, %alice, password => $pw{alice});
    isnt $res->code, 303, "$kind: then even the right password on B makes nothing";
}
counter_across('memcache', $a, $b);

# ---- callers on both nodes at once: one refresh ---------------------------------------------
sub refreshes {
    my $rt = shift;
    scalar grep { $_->{method} eq 'POST' && ($_->{params}{grant_type} // '') eq 'refresh_token' }
        @{ fake_log() };
}
my $slow = CnTest::Flow->new(provider => 'google', login_hint => 'rslow.nodes@example.com', base => $a->origin);
$slow->run;
is $slow->result->{success}, 'true', 'a grant whose refreshes take a second' or diag $slow->{error};
my $sid = $slow->grant_id;
$db->dbh->do('UPDATE grants SET access_expires_at = 0 WHERE id = ?', undef, $sid);
my $before = refreshes();
my (%codes, %tokens);
for (concurrently([map { my $node = $_ % 2 ? $a : $b; sub {
    my $res = $node->api(POST => "/grants/$sid/access_token");
    $res->code . ' ' . ($res->{json}{data}{access_token} // '');
} } 1 .. 20])) {
    my ($code, $tok) = split ' ', $_ // '';
    $codes{$code // 0}++;
    $tokens{$tok // ''}++;
}
is_deeply \%codes, { 200 => 20 }, 'twenty callers, ten on each node: twenty 200s';
is scalar(keys %tokens), 1, '... all with the same token';
is refreshes() - $before, 1, '... after exactly one refresh at the provider';

# ---- an OAuth 1.0a nonce spent on A is spent on B ------------------------------------------
# Behind one balancer both nodes see the same Host: the request signed for A's
# address, sent to A, then the same request (same nonce) to B's port with A's
# Host header: the signature holds, the nonce is taken (in the shared cache).
SKIP: {
    skip cio_missing(), 4 if cio_missing();
    my $req = cio('perl', GET => '/connect_tokens', {}, origin => $a->origin, raw => 1);
    my $res = cio_send($req->clone);
    is $res->code, 200, 'a signed Context.IO call on node A: 200' or diag $res->as_string;
    my $again = $req->clone;
    my $uri = $again->uri->clone;
    $uri->port($b->port);
    $again->uri($uri);
    $again->header(Host => '127.0.0.1:' . $a->port);
    $res = cio_send($again);
    is $res->code, 401, 'the same request (same nonce) on node B: 401' or diag $res->as_string;
    like $res->content, qr/nonce/i, '... the nonce was seen';
    # a fresh nonce on B with A's Host: accepted (the refusal was the replay)
    my $fresh = cio('perl', GET => '/connect_tokens', {}, origin => $a->origin, raw => 1);
    $uri = $fresh->uri->clone;
    $uri->port($b->port);
    $fresh->uri($uri);
    $fresh->header(Host => '127.0.0.1:' . $a->port);
    is cio_send($fresh)->code, 200, 'a fresh nonce on node B: 200';
}

ok $a->stop && $b->stop, 'both nodes stop';

# ---- the same counter with redis ------------------------------------------------------------
my ($ra, $rb) = pair('redis');
counter_across('redis', $ra, $rb);
$r = $rb->api(GET => "/grants/$grant");
is $r->code, 200, 'the redis pair serves the grants of the cluster' or diag $r->as_string;
ok $ra->stop && $rb->stop, 'both nodes stop';

done_testing;
