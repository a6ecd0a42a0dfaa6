# The grants API: list (filters, paging, sorting), read, patch, delete (with
# the upstream revocation), on grants made by hosted flows; one application
# never sees another's grants.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;

reset_db();
is make_integration('google')->code, 201, 'google integration';
is make_integration('microsoft')->code, 201, 'microsoft integration';
is make_integration('google', app => 'two')->code, 201, 'app two: google integration';

# Five grants of app one, in this order, and one of app two.
my @made = ([google => 'a1@example.com'], [google => 'b2@example.com'], [microsoft => 'c3@example.com'],
            [google => 'Mixed.Case@Example.com'], [microsoft => 'a1@example.com']);
my (@ids, %id_of);
my $t0 = time;
for my $m (@made) {
    my $f = hosted_flow(provider => $m->[0], login_hint => $m->[1], state => "st-$m->[1]");
    is $f->result->{success}, 'true', "grant of $m->[1] at $m->[0]" or diag $f->{error};
    push @ids, $f->grant_id;
    $id_of{"$m->[0]:" . lc $m->[1]} = $f->grant_id;
}
my $t1 = time;
my $two = hosted_flow(provider => 'google', app => 'two', login_hint => 'a1@example.com');
is $two->result->{success}, 'true', 'app two: grant of a1@example.com at google';
my $two_id = $two->grant_id;
my %distinct = map { ($_ // 'undef') => 1 } @ids, $two_id;
is scalar(keys %distinct), 6, 'six distinct grant ids (same address at two providers or two apps: two grants)';

# ---- the grant object ---------------------------------------------------------------
my $r = api(GET => '/grants', undef, query => 'limit=200');
is $r->code, 200, 'GET /grants';
is_deeply [sort keys %{ $r->{json} }], [qw(data limit offset)], '{"data","limit","offset"}';
is scalar(@{ $r->{json}{data} }), 5, 'app one has five grants';
my @bad_keys = grep { join(',', sort keys %$_) ne join(',', grant_keys()) } @{ $r->{json}{data} };
is scalar(@bad_keys), 0, 'every grant has exactly id, provider, grant_status, email, scope, user_agent, ip, state, created_at, updated_at, provider_user_id';
my ($a1) = grep { $_->{id} eq $ids[0] } @{ $r->{json}{data} };
is $a1->{provider}, 'google', 'provider';
is $a1->{grant_status}, 'valid', 'grant_status';
is $a1->{email}, 'a1@example.com', 'email';
is_deeply $a1->{scope}, ['https://www.googleapis.com/auth/gmail.readonly'], 'scope';
is $a1->{ip}, '127.0.0.1', 'ip';
is $a1->{state}, 'st-a1@example.com', 'state';
is $a1->{provider_user_id}, google_user_id('a1@example.com'), 'provider_user_id';
ok $a1->{created_at} >= $t0 && $a1->{created_at} <= $t1, 'created_at';
my @issued = fake_issued();
ok scalar(@issued) >= 10, 'the fake issued codes and tokens';
is_deeply [grep { index($r->content, $_->{value}) >= 0 } @issued], [], 'no code or token in the list';

# Spread the times, so that order and since/before are deterministic:
# grant i was created at T + 1000 i and updated at T + 1000 i + 10.
my $T = 1_700_000_000;
for my $i (0 .. $#ids) {
    dbh()->do('UPDATE grants SET created_at = ?, updated_at = ? WHERE id = ?', undef,
              $T + 1000 * $i, $T + 1000 * $i + 10, $ids[$i]);
}
sub list {
    my ($query, %o) = @_;
    my $res = api(GET => '/grants', undef, query => $query, app => $o{app} || 'one');
    return $res;
}
sub ids_of { [ map { $_->{id} } @{ $_[0]{json}{data} || [] } ] }

# ---- paging and sorting ---------------------------------------------------------------
$r = list('');
is $r->{json}{limit}, 10, 'default limit 10';
is $r->{json}{offset}, 0, 'default offset 0';
is_deeply ids_of($r), [reverse @ids], 'default order: created_at desc';
is_deeply ids_of(list('order_by=asc')), [@ids], 'order_by=asc';
is_deeply ids_of(list('order_by=desc&sort_by=created_at')), [reverse @ids], 'sort_by=created_at&order_by=desc';
$r = list('limit=2');
is_deeply ids_of($r), [@ids[4, 3]], 'limit=2: the two newest';
is $r->{json}{limit}, 2, 'limit echoed';
$r = list('limit=2&offset=2');
is_deeply ids_of($r), [@ids[2, 1]], 'limit=2&offset=2: the next two';
is $r->{json}{offset}, 2, 'offset echoed';
is_deeply ids_of(list('limit=2&offset=4')), [$ids[0]], 'offset=4: the last one';
is_deeply ids_of(list('offset=5')), [], 'offset past the end: empty';
is_deeply ids_of(list('limit=1&order_by=asc&offset=1')), [$ids[1]], 'asc with limit and offset';
is scalar(@{ list('limit=200')->{json}{data} }), 5, 'limit=200 accepted';

# updated_at: patching the oldest grant makes it the most recently updated.
$r = api(PATCH => "/grants/$ids[0]", { scope => ['openid', 'email'] });
is $r->code, 200, 'PATCH the oldest grant';
is_deeply ids_of(list('sort_by=updated_at')), [@ids[0, 4, 3, 2, 1]], 'sort_by=updated_at: the patched one first';
is_deeply ids_of(list('sort_by=updated_at&order_by=asc')), [@ids[1, 2, 3, 4, 0]], 'sort_by=updated_at&order_by=asc: last';
is_deeply ids_of(list('sort_by=created_at')), [reverse @ids], 'created_at order unchanged';

# ---- filters ------------------------------------------------------------------------------
is_deeply ids_of(list('since=' . ($T + 2000))), [@ids[4, 3, 2]], 'since: created_at >= since';
is_deeply ids_of(list('before=' . ($T + 2000))), [@ids[1, 0]], 'before: created_at < before';
is_deeply ids_of(list('since=' . ($T + 1000) . '&before=' . ($T + 3000))), [@ids[2, 1]], 'since and before';
is_deeply ids_of(list('since=' . ($T + 9000))), [], 'since after every grant: empty';
is_deeply [sort @{ ids_of(list('email=a1@example.com')) }], [sort @ids[0, 4]], 'email: the address at both providers';
is_deeply [sort @{ ids_of(list('email=A1%40EXAMPLE.COM')) }], [sort @ids[0, 4]], 'email is case-insensitive';
is_deeply ids_of(list('email=mixed.case@example.com')), [$ids[3]], 'a mixed-case address, found lowercased';
is_deeply ids_of(list('email=nobody@example.com')), [], 'an unknown address: empty';
is_deeply ids_of(list('provider=microsoft')), [@ids[4, 2]], 'provider=microsoft';
is_deeply ids_of(list('provider=google')), [@ids[3, 1, 0]], 'provider=google';
is_deeply ids_of(list('provider=google&email=a1@example.com')), [$ids[0]], 'provider and email';
is_deeply ids_of(list('provider=imap')), [], 'provider=imap: none';
is_deeply ids_of(list('grant_status=valid')), [reverse @ids], 'grant_status=valid: all';
is_deeply ids_of(list('grant_status=invalid')), [], 'grant_status=invalid: none yet';
dbh()->do(q{UPDATE grants SET grant_status = 'invalid' WHERE id = ?}, undef, $ids[1]);
is_deeply ids_of(list('grant_status=invalid')), [$ids[1]], 'grant_status=invalid: the invalid one';
is_deeply ids_of(list('grant_status=valid')), [@ids[4, 3, 2, 0]], 'grant_status=valid: the others';
is_deeply ids_of(list('ip=127.0.0.1')), [reverse @ids], 'ip=127.0.0.1: all';
is_deeply ids_of(list('ip=10.9.8.7')), [], 'another ip: none';
dbh()->do(q{UPDATE grants SET ip = '10.9.8.7' WHERE id = ?}, undef, $ids[2]);
is_deeply ids_of(list('ip=10.9.8.7')), [$ids[2]], 'ip filter finds the one from there';
is_deeply ids_of(list('provider=microsoft&ip=127.0.0.1&grant_status=valid')), [$ids[4]], 'filters combine';
is_deeply ids_of(list('email=a1@example.com&limit=1&order_by=asc')), [$ids[0]], 'filters with paging';

for my $bad ('limit=0', 'limit=201', 'limit=abc', 'limit=-1', 'offset=-1', 'offset=x', 'sort_by=email',
             'sort_by=name', 'order_by=up', 'order_by=DESC', 'since=abc', 'since=-5', 'before=1.5',
             'before=yesterday', 'grant_status=gone', 'provider=yahoo', 'email=' . ('x' x 260) . '@example.com') {
    $r = list($bad);
    is $r->code, 400, "$bad: 400";
    is $r->{json}{error}{event_code}, 701, "... invalid_query_params";
}

# ---- read -----------------------------------------------------------------------------------
$r = api(GET => "/grants/$ids[3]");
is $r->code, 200, 'GET /grants/{id}';
is_deeply [sort keys %{ $r->{json} }], ['data'], '{"data": grant}';
is $r->{json}{data}{email}, 'mixed.case@example.com', 'the grant';
is_deeply [sort keys %{ $r->{json}{data} }], [grant_keys()], 'no token, no settings';
for my $unknown ('00000000-0000-4000-8000-000000000000', 'nope', 'x' x 100) {
    $r = api(GET => "/grants/$unknown");
    is $r->code, 404, 'an unknown grant: 404';
    is $r->{json}{error}{event_code}, 25007, '... grant_not_found';
}

# ---- patch -------------------------------------------------------------------------------------
my $t = time;
$r = api(PATCH => "/grants/$ids[3]", { scope => ['openid', 'https://mail.google.com/'] });
is $r->code, 200, 'PATCH scope';
is $r->{json}{success}, JSON::true, '{"success":true,...}';
is_deeply $r->{json}{data}{scope}, ['openid', 'https://mail.google.com/'], 'the new scope';
ok $r->{json}{data}{updated_at} >= $t, 'updated_at moved';
is $r->{json}{data}{created_at}, $T + 3000, 'created_at kept';
is_deeply api(GET => "/grants/$ids[3]")->{json}{data}{scope}, ['openid', 'https://mail.google.com/'], 'read back';
$r = api(PATCH => "/grants/$ids[3]", { settings => { label => 'work', color => 'blue' } });
is $r->code, 200, 'PATCH settings';
is_deeply [sort keys %{ $r->{json}{data} }], [grant_keys()], 'the answer has no settings';
my ($settings) = dbh()->selectrow_array('SELECT settings FROM grants WHERE id = ?', undef, $ids[3]);
is_deeply json_decode($settings), { label => 'work', color => 'blue' }, 'settings stored';
$r = api(PATCH => "/grants/$ids[3]", { settings => { color => 'red' }, scope => [] });
is $r->code, 200, 'PATCH settings and an empty scope';
is_deeply $r->{json}{data}{scope}, [], 'scope []';
($settings) = dbh()->selectrow_array('SELECT settings FROM grants WHERE id = ?', undef, $ids[3]);
is_deeply json_decode($settings), { label => 'work', color => 'red' }, 'settings merged';
for my $c ([{ colour => 'red' }, 'an unknown field'], [{ scope => 'openid' }, 'scope not an array'],
           [{ settings => [] }, 'settings not an object'], [{ grant_status => 'valid' }, 'grant_status']) {
    $r = api(PATCH => "/grants/$ids[3]", $c->[0]);
    is $r->code, 400, "PATCH with $c->[1]: 400";
    is $r->{json}{error}{event_code}, 700, '... invalid_request_payload';
}
$r = api(PATCH => '/grants/00000000-0000-4000-8000-000000000000', { scope => [] });
is $r->code, 404, 'PATCH an unknown grant: 404';
is $r->{json}{error}{event_code}, 25007, '... grant_not_found';

# A refresh token given in settings is sealed in its column, never returned.
my $patched = secret_token('rt-patched');
my ($rt_before) = dbh()->selectrow_array('SELECT refresh_token FROM grants WHERE id = ?', undef, $ids[1]);
$r = api(PATCH => "/grants/$ids[1]", { settings => { refresh_token => $patched } });
is $r->code, 200, 'PATCH settings.refresh_token';
ok index($r->content, $patched) < 0, '... not in the answer';
my ($rt_after, $st_after) = dbh()->selectrow_array('SELECT refresh_token, settings FROM grants WHERE id = ?', undef, $ids[1]);
like $rt_after, qr/\Acn1\.[0-9a-f]{8}\./, '... sealed';
isnt $rt_after, $rt_before, '... a new sealed value';
ok index($st_after, $patched) < 0, '... not in settings';

# ---- delete (and revoke at Google) ---------------------------------------------------------------
sub revokes { grep { $_->{path} =~ m{/revoke\z} } @{ fake_log() } }
my $n = revokes();
$r = api(DELETE => "/grants/$ids[1]");
is $r->code, 200, 'DELETE the grant with the patched refresh token';
is_deeply $r->{json}, { success => JSON::true, data => { message => 'Resource successfully removed' } }, 'the answer';
my @rv = revokes();
my @new = @rv[$n .. $#rv];
is scalar(@new), 1, 'one revocation at the provider';
my $rq = $new[0] || {};
is $rq->{path}, '/google/revoke', '... POST /google/revoke';
is $rq->{method}, 'POST', '... a POST';
is $rq->{params}{token}, $patched, '... of the grant\'s refresh token';
is api(GET => "/grants/$ids[1]")->code, 404, 'the grant is gone';
ok !(grep { $_->{id} eq $ids[1] } db_rows('grants')), 'its row is gone';

$n = revokes();
$r = api(DELETE => "/grants/$ids[0]");
is $r->code, 200, 'DELETE a google grant from a flow';
@rv = revokes();
@new = @rv[$n .. $#rv];
is scalar(@new), 1, 'one revocation';
$rq = $new[0] || { params => {} };
my %refresh_a1 = map { $_->{value} => 1 } fake_issued(email => 'a1@example.com', kind => 'refresh');
ok $refresh_a1{ $rq->{params}{token} // '' }, '... of a refresh token the fake issued for that mailbox';
isnt $rq->{params}{token}, $patched, '... not another grant\'s';

$n = revokes();
$r = api(DELETE => "/grants/$ids[2]");
is $r->code, 200, 'DELETE a microsoft grant';
is scalar(my @x = revokes()), $n, 'no revocation endpoint for Microsoft: none called';
$r = api(DELETE => "/grants/$ids[2]");
is $r->code, 404, 'DELETE again: 404';
is $r->{json}{error}{event_code}, 25007, '... grant_not_found';
is_deeply ids_of(list('')), [@ids[4, 3]], 'two grants left';

# ---- isolation between applications -----------------------------------------------------------------
$r = list('', app => 'two');
is_deeply ids_of($r), [$two_id], 'app two lists only its grant';
ok !(grep { $_ eq $two_id } @{ ids_of(list('limit=200')) }), 'app one does not list app two\'s grant';
is_deeply ids_of(list('email=a1@example.com', app => 'two')), [$two_id], 'filters stay within the application';
for my $m (['GET', undef], ['PATCH', { scope => ['x'] }], ['DELETE', undef]) {
    $r = api($m->[0] => "/grants/$ids[3]", $m->[1], app => 'two');
    is $r->code, 404, "app two: $m->[0] of app one's grant is 404";
    is $r->{json}{error}{event_code}, 25007, '... grant_not_found';
}
$r = api(GET => "/grants/$two_id");
is $r->code, 404, 'app one cannot read app two\'s grant';
$r = api(POST => '/auth', { provider => 'google', redirect_uri => app_redirect_uri('two'), grant_id => $ids[3] }, app => 'two');
is $r->code, 404, 'app two cannot start a re-auth of app one\'s grant';
is $r->{json}{error}{event_code}, 25007, '... grant_not_found';
$r = api(GET => "/grants/$ids[3]");
is $r->code, 200, 'app one\'s grant is untouched';
is_deeply $r->{json}{data}{scope}, [], '... its scope as app one left it';
$r = api(GET => '/grants', undef, app => undef);
is $r->code, 401, 'no credentials: 401';

# Lists are rendered from a per-process cache keyed by the grant's revision,
# which every change bumps: a change shows at once (both children are warmed
# by listing several times), whether by PATCH or by a re-authentication.
{
    my $f = hosted_flow(provider => 'google', login_hint => 'cached@example.com');
    my $gid = $f->grant_id;
    my $in_list = sub {
        my $r = api(GET => '/grants', undef, query => 'email=cached%40example.com');
        my ($g) = grep { $_->{id} eq $gid } @{ $r->{json}{data} || [] };
        return $g;
    };
    $in_list->() for 1 .. 6;
    is_deeply $in_list->()->{scope}, ['https://www.googleapis.com/auth/gmail.readonly'], 'listed with its scope';
    my $p = api(PATCH => "/grants/$gid", { scope => ['changed.scope'] });
    is $p->code, 200, 'its scope changed';
    my @seen = map { join ',', @{ $in_list->()->{scope} } } 1 .. 6;
    is_deeply \@seen, [('changed.scope') x 6], 'every list after the change shows the new scope';
    my $again = hosted_flow(provider => 'google', login_hint => 'cached@example.com');
    is $again->grant_id, $gid, 'the same mailbox connected again: the same grant';
    @seen = map { join ',', @{ $in_list->()->{scope} } } 1 .. 6;
    is_deeply \@seen, [('https://www.googleapis.com/auth/gmail.readonly') x 6],
        'every list after the re-authentication shows its scope';
    api(DELETE => "/grants/$gid");
    my $r = api(GET => '/grants', undef, query => 'email=cached%40example.com');
    is scalar @{ $r->{json}{data} }, 0, 'and a deleted grant is not listed';
}

# The browser's User-Agent ends up in JSON: invalid UTF-8 is dropped, a long
# one is cut to 512 bytes.
{
    my $bad = hosted_flow(provider => 'google', login_hint => 'ua-bad@example.com',
                          browser => CnTest::Flow::browser(agent => "Mozilla/5.0 \xff\xfe broken"));
    is $bad->result->{success}, 'true', 'a flow from a browser whose User-Agent is not UTF-8';
    my $g = api(GET => '/grants/' . $bad->grant_id);
    is $g->code, 200, '... its grant reads back as JSON';
    is $g->{json}{data}{user_agent}, undef, '... with no user_agent';
    my $long = hosted_flow(provider => 'google', login_hint => 'ua-long@example.com',
                           browser => CnTest::Flow::browser(agent => 'A' x 2000));
    $g = api(GET => '/grants/' . $long->grant_id);
    is length($g->{json}{data}{user_agent} // ''), 512, 'a 2000-byte User-Agent is kept as 512 bytes';
}

done_testing;
