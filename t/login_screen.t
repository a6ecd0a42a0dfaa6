# The login screen (seed "Server-Side Login Screen"): a hosted login without
# a provider, or with prompt select_provider and/or detect, shows the
# application's integrations as buttons and/or an email box; the choice (or
# the provider detected for the address typed) goes on as any hosted login.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Digest::SHA ();
use HTTP::Request ();
use URI ();
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::OAuth;

reset_db();
my $RU = app_redirect_uri('one');
my $OTHER = 'https://other.example/cb';
is make_integration('google', redirect_uris => [$RU])->code, 201, 'google integration';
is make_integration('microsoft', redirect_uris => [$RU, $OTHER])->code, 201, 'microsoft integration';

sub used_at {
    my $id = shift;
    my ($row) = grep { $_->{id_digest} eq Digest::SHA::sha256_hex($id) } db_rows('login_requests');
    return $row ? $row->{used_at} : 'no row';
}
# A screen login (no provider) with PROMPT, ready to be opened.
sub screen_login {
    my (%o) = @_;
    my $f = CnTest::Flow->new(provider => undef, body => { prompt => $o{prompt} },
                              redirect_uri => $o{redirect_uri} || $RU, state => $o{state} || 's1');
    ok $f->auth, "POST /auth with prompt $o{prompt}" or diag $f->{error};
    return $f;
}
sub buttons {
    my $html = shift;
    my @b;
    while ($html =~ m{<a class="button provider provider-(\w+)" href="([^"]+)"}g) {
        my ($name, $href) = ($1, $2);
        $href =~ s/&amp;/&/g;
        push @b, [$name, $href];
    }
    return @b;
}

# ---- select_provider: one button per integration that allows the redirect URI, in order ----
my $f = screen_login(prompt => 'select_provider');
is $f->{auth}{json}{data}{request}{prompt}, 'select_provider', 'the request keeps its prompt';
ok !exists $f->{auth}{json}{data}{request}{provider}, '... and has no provider';
my $page = $f->browser_get($f->{login_url});
is $page->code, 200, 'GET /login: the login screen';
like $page->header('Content-Type'), qr{^text/html}, '... HTML';
is_deeply [page_header_problems($page)], [], '... with the page headers';
my @b = buttons($page->content);
is_deeply [map { $_->[0] } @b], ['google', 'microsoft'], '... google then microsoft (oldest first)';
unlike $page->content, qr{<form[^>]*class="detect"}, '... and no email box';
like $page->header('Content-Security-Policy') // '', qr{form-action 'self';}, '... so forms go nowhere else';
is used_at($f->{id}), undef, '... the login is not spent by showing the screen';
ok $f->login(url => $b[1][1]), 'the microsoft button leads to Microsoft' or diag $f->{error};
like $f->{authorize_url}, qr{/microsoft/}, '... at the fake Microsoft';
ok $f->authorize && $f->callback, '... consent and callback' or diag $f->{error};
is $f->result->{success}, 'true', '... the application hears of success';
is $f->result->{provider}, 'microsoft', '... from microsoft';
ok $f->grant_id, '... with a grant';
isnt used_at($f->{id}), undef, 'the login is spent';
my $again = $f->browser_get($b[0][1]);
is_deeply [error_page_problems($again)], [], 'another button of the spent login: the error page';

# ---- a provider that is not offered ----
$f = screen_login(prompt => 'select_provider', redirect_uri => $OTHER);
$page = $f->browser_get($f->{login_url});
is $page->code, 302, 'only microsoft allows the other redirect URI: straight to it (seed)';
like $page->header('Location') // '', qr{/microsoft/}, '... at the fake Microsoft';
$f = screen_login(prompt => 'select_provider');
my $u = URI->new($f->{login_url});
$u->query_param(provider => 'imap');
$page = $f->browser_get("$u");
is_deeply [error_page_problems($page, 'provider_not_supported')], [], 'provider=imap, not offered: the error page';
$u->query_param(provider => 'yahoo');
is_deeply [error_page_problems($f->browser_get("$u"), 'provider_not_supported')], [], 'provider=yahoo: the error page';
is used_at($f->{id}), undef, '... and the login is not spent';

# ---- detect: the email box; the address's provider goes on ----
$f = screen_login(prompt => 'detect');
$page = $f->browser_get($f->{login_url});
is $page->code, 200, 'prompt detect: the login screen';
like $page->content, qr{<form method="get" action="[^"]+/login" class="detect">}, '... with an email box sent to /login';
like $page->content, qr{<input type="hidden" name="id" value="\Q$f->{id}\E">}, '... carrying the login id';
is scalar(buttons($page->content)), 0, '... and no buttons';
# Chromium checks form-action on the redirect the box's answer is, too.
like $page->header('Content-Security-Policy') // '',
    qr{form-action 'self' \Q${\ fake_url('')} https://app-one.example\E;},
    '... whose answer may go on to the providers\' authorize origin (both fakes\', once), then the application\'s';
$u = URI->new($f->{login_url});
$u->query_param(email => 'someone@gmail.com');
ok $f->login(url => "$u"), 'an address at gmail.com goes to Google' or diag $f->{error};
like $f->{authorize_url}, qr{/google/}, '... the fake Google';
is $f->{authorize_query}{login_hint}, 'someone@gmail.com', '... with the address as login_hint';
ok $f->authorize && $f->callback, '... consent and callback' or diag $f->{error};
is $f->result->{success}, 'true', '... success';
is $f->result->{provider}, 'google', '... from google';

$f = screen_login(prompt => 'detect');
for my $c (['not an address', 'not-an-address', qr/Enter your email address/],
           ['an address of a provider without an integration', 'someone@yahoo.com', qr/cannot connect that address/]) {
    my ($name, $email, $re) = @$c;
    $u = URI->new($f->{login_url});
    $u->query_param(email => $email);
    $page = $f->browser_get("$u");
    is $page->code, 200, "$name: the screen again";
    like $page->content, $re, '... saying what is wrong';
    like $page->content, qr{aria-invalid="true" aria-describedby="email-error"}, '... tied to the email box';
    like $page->content, qr{value="\Q$email\E"}, '... showing what was typed';
}
is used_at($f->{id}), undef, 'the login is still not spent';

# ---- both, in the prompt's order ----
for my $c (['select_provider,detect', 'buttons'], ['detect,select_provider', 'email box']) {
    my ($prompt, $first) = @$c;
    $f = screen_login(prompt => $prompt);
    my $html = $f->browser_get($f->{login_url})->content;
    my $at_box = index $html, 'class="detect"';
    my $at_buttons = index $html, 'class="providers"';
    ok $at_box > 0 && $at_buttons > 0, "$prompt: both parts";
    ok(($first eq 'buttons') == ($at_buttons < $at_box), "... the $first first");
}

# ---- a login for one provider with a prompt: the screen; without: never ----
$f = CnTest::Flow->new(provider => 'google', body => { prompt => 'select_provider' });
ok $f->auth, 'POST /auth google + prompt select_provider';
is scalar(buttons($f->browser_get($f->{login_url})->content)), 2, '... the screen with both buttons';
$f = CnTest::Flow->new(provider => 'google');
ok $f->auth, 'POST /auth google without a prompt';
$u = URI->new($f->{login_url});
$u->query_param(provider => 'microsoft');
is_deeply [error_page_problems($f->browser_get("$u"))], [], '... provider=microsoft is refused';
ok $f->login, '... while the link itself goes to Google' or diag $f->{error};

# ---- HEAD of a screen login ----
$f = screen_login(prompt => 'select_provider');
my $head = $f->{browser}->request(HTTP::Request->new(HEAD => $f->{login_url}));
is $head->code, 200, 'HEAD of a login screen: 200';
is $head->content, '', '... no body';
is used_at($f->{id}), undef, '... nothing spent';

# ---- with an imap integration: other addresses go to the IMAP form ----
is api(POST => '/integrations', { name => 'Mailboxes', provider => 'imap', redirect_uris => [$RU] })->code,
    201, 'an imap integration';
$f = screen_login(prompt => 'select_provider,detect');
@b = buttons($f->browser_get($f->{login_url})->content);
is_deeply [map { $_->[0] } @b], ['google', 'microsoft', 'imap'], 'three buttons, imap last';
like $f->browser_get($f->{login_url})->content, qr{Other email \(IMAP\)}, '... "Other email (IMAP)"';
$u = URI->new($f->{login_url});
$u->query_param(email => 'someone@nothing-known.test');
$page = $f->browser_get("$u");
is $page->code, 302, 'an address nothing is known of: 302';
like $page->header('Location') // '', qr{^\Q${\ url('/imap?state=')}\E}, '... to the IMAP form';
my $form = $f->browser_get($page->header('Location'));
like $form->content, qr{<input id="email"[^>]* value="someone\@nothing-known\.test"}, '... with the address typed';
$f = screen_login(prompt => 'detect');
$u = URI->new($f->{login_url});
$u->query_param(email => 'someone@yahoo.com');
$page = $f->browser_get("$u");
like $page->header('Location') // '', qr{/imap\?state=}, 'an address at yahoo.com: the IMAP form';
like $f->browser_get($page->header('Location'))->content, qr{imap\.mail\.yahoo\.com}, '... with Yahoo\'s server';

# ---- the same screen for the authorization request (GET /auth, seed's example) ----
{
    my $b = browser();
    my $res = $b->get(authorize_url(provider => undef, prompt => 'select_provider,detect', state => 'az'));
    is $res->code, 200, 'GET /auth without a provider, prompt select_provider,detect: the login screen';
    my @ab = buttons($res->content);
    is_deeply [map { $_->[0] } @ab], ['google', 'microsoft', 'imap'], '... its buttons';
    like $res->content, qr{<input type="hidden" name="state" value="az">}, '... the request in the email box';
    unlike $res->content, qr{name="provider"}, '... but no provider';
    my $a = authorize(browser => $b, provider => undef, prompt => 'select_provider,detect', state => 'az',
                      query => 'provider=google');
    ok $a->{code}, 'the Google button: through Google to a code' or diag $a->{error};
    is $a->{result}{state}, 'az', '... with its state';
    $res = $b->get(authorize_url(provider => undef, prompt => 'detect', state => 'az', login_hint => undef)
                   . '&email=someone%40gmail.com');
    is $res->code, 302, 'the address typed, at gmail.com: 302';
    like $res->header('Location') // '', qr{/google/authorize}, '... to Google';
    is query_of($res->header('Location'))->{login_hint}, 'someone@gmail.com', '... with it as login_hint';
    $res = $b->get(authorize_url(provider => undef, prompt => 'detect', state => 'az') . '&email=nope');
    is $res->code, 200, 'not an address: the screen again';
    like $res->content, qr{aria-invalid="true" aria-describedby="email-error"}, '... the error on the email box';
    $res = $b->get(authorize_url(provider => undef, prompt => 'select_provider', redirect_uri => 'https://evil.example/cb'));
    is_deeply [error_page_problems($res, 'redirect_uri_not_allowed')], [], 'a redirect_uri of no integration: the error page';
    $res = $b->get(authorize_url(provider => undef, state => 'az'));
    is_deeply [error_page_problems($res, 'provider_required')], [], 'no provider and no prompt: provider_required';
}

done_testing;
