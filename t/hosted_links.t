# What a login link and a finished sign-in must still respect: a HEAD (a
# link checker, a preview) or a session that cannot be written leaves the
# link unspent; the application's redirect URI is checked again against the
# integration as it is when the flow goes on, not as it was at POST /auth.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Digest::SHA ();
use HTTP::Request ();
use CnTest qw(:all);
use CnTest::Flow;

reset_db();
my $RU = app_redirect_uri('one');
my $OLD = 'https://old.example/cb';
is make_integration('google', redirect_uris => [$RU, $OLD])->code, 201, 'google integration with two redirect URIs';

sub used_at {
    my $id = shift;
    my ($row) = grep { $_->{id_digest} eq Digest::SHA::sha256_hex($id) } db_rows('login_requests');
    return $row ? $row->{used_at} : 'no row';
}
sub exchanges_of {
    my $code = shift // '-';
    return scalar grep { $_->{method} eq 'POST' && $_->{path} =~ m{/token\z}
                         && ($_->{params}{code} // '') eq $code } @{ fake_log() };
}

# ---- HEAD does not spend the link -------------------------------------------------------
my $f = CnTest::Flow->new(provider => 'google', login_hint => 'head.check@example.com', state => 'h');
ok $f->auth, 'POST /auth';
my $head = $f->{browser}->request(HTTP::Request->new(HEAD => $f->{login_url}));
is $head->code, 200, 'HEAD /login?id=: 200';
is $head->header('Location'), undef, '... no redirect';
is_deeply [page_header_problems($head)], [], '... with the page headers';
ok !grep({ /^connect_session=/ } $head->header('Set-Cookie')), '... and no session cookie';
is used_at($f->{id}), undef, '... the login request is not spent';
$head = $f->{browser}->request(HTTP::Request->new(HEAD => $f->{login_url}));
is $head->code, 200, 'a second HEAD: still 200';
ok $f->login, 'GET /login afterwards: the redirect to the provider';
ok $f->authorize && $f->callback, '... and the sign-in completes';
is $f->result->{success}, 'true', '... successfully';
$head = $f->{browser}->request(HTTP::Request->new(HEAD => $f->{login_url}));
is $head->code, 400, 'HEAD of a spent link: 400';
$head = $f->{browser}->request(HTTP::Request->new(HEAD => url('/login?id=' . ('x' x 43))));
is $head->code, 400, 'HEAD of an unknown link: 400';

# ---- a session that cannot be written leaves the link unspent ------------------------------
$f = CnTest::Flow->new(provider => 'google', login_hint => 'no.session@example.com', state => 'ns');
ok $f->auth, 'POST /auth';
(my $elsewhere = $f->{login_url}) =~ s{/connect/login}{/nosession/login};
my $r = $f->browser_get($elsewhere);
is $r->code, 500, 'GET /login where no session is configured: 500 page';
like $r->header('Content-Type') // '', qr{^text/html}, '... an HTML page';
is $r->header('Location'), undef, '... no redirect to the provider';
is used_at($f->{id}), undef, '... the link is not spent';
ok $f->login && $f->authorize && $f->callback, 'the same link then works where the session is';
is $f->result->{success}, 'true', '... to the end';

# ---- the redirect URI is checked again ----------------------------------------------------
# Between /login and /callback.
my $n = scalar db_rows('grants');
$f = CnTest::Flow->new(provider => 'google', login_hint => 'old.cb@example.com', state => 'old',
                       redirect_uri => $OLD);
ok $f->auth && $f->login && $f->authorize, 'a sign-in for the old redirect URI, up to the provider';
$r = api(PATCH => '/integrations/google', { redirect_uris => [$RU] });
is $r->code, 200, 'the integration drops that redirect URI';
$f->callback;
is_deeply [error_page_problems($f->{callback}, 'redirect_uri_not_allowed')], [],
    'the callback: an HTML page redirect_uri_not_allowed, no redirect';
ok index($f->{callback}->content, 'old.example') < 0, '... that does not show the dropped URI';
is exchanges_of($f->{code}), 0, '... the code was not exchanged';
is scalar(db_rows('grants')), $n, '... no grant stored';

# Between POST /auth and /login.
is api(PATCH => '/integrations/google', { redirect_uris => [$RU, $OLD] })->code, 200, 'the URI back';
$f = CnTest::Flow->new(provider => 'google', login_hint => 'old.login@example.com', redirect_uri => $OLD);
ok $f->auth, 'POST /auth for it';
is api(PATCH => '/integrations/google', { redirect_uris => [$RU] })->code, 200, 'dropped again';
$r = $f->browser_get($f->{login_url});
is_deeply [error_page_problems($r, 'redirect_uri_not_allowed')], [],
    'GET /login: an HTML page redirect_uri_not_allowed, not the provider';

# A URI that stays in the list still works.
$f = hosted_flow(provider => 'google', login_hint => 'kept@example.com', state => 'k');
is $f->result->{success}, 'true', 'a sign-in for a URI still listed succeeds';
like $f->{final_url} // '', qr{\A\Q$RU\E\?}, '... and goes back there';

done_testing;
