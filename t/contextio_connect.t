# The Context.IO connect UI at a connect token's browser_redirect_url: a
# kind of flow of the flow engine. A token with an email goes straight to the
# provider auto-discovery finds for it (the fake Google here) or to the IMAP
# form; a token without one shows the first page (connect.html: one form with
# the email box, first and last name, Continue and a button per provider of
# the application, each sending what was typed). At the end the account (new, or the token's for
# an account-scoped token) gets the grant as a source, the token is marked
# used (used = the time, expires = false, account filled), the browser
# goes to callback_url?contextio_token=TOKEN and source_callback_url, when
# given, gets a POST. A 3-legged application reads the new account's access
# token and secret once, with the used token. A used, expired or unknown
# token is a page telling the user to ask the application for a new link.
# Microsoft (the fake's v2.0 endpoints) by an Outlook address or by its button;
# a source_callback_url outside ConnectAllowAddresses is never called.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Digest::SHA qw(sha256_hex);
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::ContextIO;
use CnTest::Imap;
use HTTP::Request::Common ();

plan skip_all => cio_missing() if cio_missing();

reset_db();
is make_integration('google')->code, 201, 'app one: a google integration';
my $r = api(POST => '/integrations', { name => 'Mailboxes', provider => 'imap',
                                       redirect_uris => ['http://localhost:3000/cb'] });
is $r->code, 201, 'app one: an imap integration';
my $cb = 'https://app.example/cio-back?user=7';
sub token_of { cio(perl => GET => "/connect_tokens/$_[0]")->{json} }

# ---- a token with a Gmail address: straight to Google, back with contextio_token -----------------
my $t0 = time;
my $fake_seen = scalar @{ fake_log() };
$r = cio(perl => POST => '/connect_tokens', { callback_url => $cb, email => 'cio.user@gmail.com',
                                              first_name => 'Cio', last_name => 'User',
                                              source_callback_url => fake_url('/hooks/source') });
is $r->code, 200, 'a connect token with an email' or diag $r->as_string;
my ($token, $link) = @{ $r->{json} }{qw(token browser_redirect_url)};
my $f = CnTest::Flow->new(provider => 'google');
ok $f->login(url => $link), 'its link goes to Google' or diag $f->{error};
is $f->{authorize_query}{login_hint}, 'cio.user@gmail.com', '... with the address as login_hint';
is token_of($token)->{used}, 0, '... the token not used yet';
ok $f->authorize && $f->callback, 'Google consents; the callback answers' or diag $f->{error};
is $f->{final_url}, "$cb&contextio_token=$token", '... a 302 to callback_url?contextio_token=TOKEN';

my $obj = token_of($token);
ok $obj->{used} >= $t0, 'the token: used is the time';
ok JSON::is_bool($obj->{expires}) && !$obj->{expires}, '... expires false';
my $account = $obj->{account};
ok $account->{id}, '... its account';
is_deeply $account->{email_addresses}, ['cio.user@gmail.com'], '... the account\'s address';
is $account->{first_name}, 'Cio', '... its first_name from the token';
is scalar @{ $account->{sources} }, 1, '... one source';
is $account->{sources}[0]{email}, 'cio.user@gmail.com', '... the Gmail mailbox';
is $account->{sources}[0]{authentication_type}, 'oauth2', '... by OAuth';
my $grant = $account->{sources}[0]{label};
is api(GET => "/grants/$grant")->code, 200, '... a grant of the Unified Auth API';
$r = cio(node => GET => '/accounts');
is_deeply [map { $_->{id} } @{ $r->{json} }], [$account->{id}], 'GET /accounts lists it';
{
    my @log = @{ fake_log() };
    my @hooks = grep { $_->{path} eq '/hooks/source' } @log[$fake_seen .. $#log];
    is scalar @hooks, 1, 'source_callback_url got one POST';
    is_deeply $hooks[0] && $hooks[0]{params},
        { account_id => $account->{id}, source_label => $grant, email => 'cio.user@gmail.com', status => 'OK' },
        '... naming the account and its new source';
}

# ---- the link again: spent --------------------------------------------------------------------------
{
    my $again = CnTest::Flow->new(provider => 'google');
    my $res = $again->browser_get($link);
    is $res->code, 400, 'the used link again: 400';
    like $res->header('Content-Type') // '', qr{^text/html}, '... a page';
    like $res->content, qr/new link/, '... telling the user to ask for a new link';
}

# ---- an account-scoped token adds a second source ------------------------------------------------------
$r = cio(perl => POST => "/accounts/$account->{id}/connect_tokens",
         { callback_url => 'https://app.example/more', email => 'second.box@gmail.com' });
is $r->code, 200, 'an account-scoped connect token' or diag $r->as_string;
my ($token2, $link2) = @{ $r->{json} }{qw(token browser_redirect_url)};
$f = CnTest::Flow->new(provider => 'google');
ok $f->login(url => $link2) && $f->authorize && $f->callback, 'its flow' or diag $f->{error};
is $f->{final_url}, "https://app.example/more?contextio_token=$token2", '... back to its callback_url';
$r = cio(perl => GET => "/accounts/$account->{id}");
is_deeply [sort map { $_->{email} } @{ $r->{json}{sources} }],
    ['cio.user@gmail.com', 'second.box@gmail.com'], 'the account has both mailboxes';
is token_of($token2)->{account}{id}, $account->{id}, '... and the token names it';
is scalar(my @a = db_rows('cio_accounts')), 1, '... no other account made';

# ---- a token without an email: the login screen ------------------------------------------------------
$r = cio(perl => POST => '/connect_tokens', { callback_url => $cb });
my ($token3, $link3) = @{ $r->{json} }{qw(token browser_redirect_url)};
my $b = browser();
my $res = $b->get($link3);
is $res->code, 200, 'a token without an email: a page' or diag $res->as_string;
like $res->content, qr/<input[^>]+type="email"/, '... with an email box';
like $res->content, qr/<input[^>]+name="token"[^>]+value="\Q$token3\E"|value="\Q$token3\E"[^>]+name="token"/,
    '... carrying the token';
like $res->content, qr/<input id="first_name" name="first_name"/, '... its own page (connect.html): names asked';
is scalar(() = $res->content =~ /<form\b/g), 1, '... in one form';
like $res->content, qr/<button type="submit" class="button provider provider-google" name="provider" value="google" formnovalidate>/,
    '... whose provider buttons send what was typed, with the provider';
like $res->content, qr/<input id="first_name" name="first_name"/, '... a first name box';
like $res->content, qr/<input id="last_name" name="last_name"/, '... a last name box';
$res = $b->get("$link3&email=not-an-address&first_name=Ty");
is $res->code, 200, 'an address that is not one: the first page again';
like $res->content, qr/<input id="first_name"[^>]* value="Ty"/, '... keeping the name typed';
$res = $b->get("$link3&provider=imap");
is $res->code, 302, 'the IMAP button: 302' or diag $res->as_string;
like $res->header('Location') // '', qr{/connect/imap\?state=}, '... to the module\'s IMAP form';
$res = $b->get("$link3&email=not-an-address&first_name=Ty&last_name=&provider=google");
is $res->code, 200, 'a provider button with an address that is not one: the first page again';
like $res->content, qr/<input id="email"[^>]* aria-invalid="true"/, '... the email box marked';
is token_of($token3)->{used}, 0, 'the token is not used by any of that';
{
    my $f3 = CnTest::Flow->new(provider => 'google', browser => $b);
    ok $f3->login(url => "$link3&email=typed.user%40gmail.com&first_name=Ty&last_name=Ped"),
        'the first page answered with an address and names: to Google' or diag $f3->{error};
    is $f3->{authorize_query}{login_hint}, 'typed.user@gmail.com', '... for that address';
    ok $f3->authorize && $f3->callback, '... and back' or diag $f3->{error};
    is $f3->{final_url}, "$cb&contextio_token=$token3", '... to callback_url?contextio_token=';
    my $o = token_of($token3);
    is_deeply [@{ $o->{account} }{qw(first_name last_name)}], ['Ty', 'Ped'],
        'the account has the names typed';
    is_deeply $o->{account}{email_addresses}, ['typed.user@gmail.com'], '... and the mailbox\'s address';
    is_deeply [@$o{qw(first_name last_name)}], ['Ty', 'Ped'], '... so has the token';
}

# ---- Microsoft: an Outlook address straight to the fake's v2.0 endpoints; a work address by the button -------
is make_integration('microsoft')->code, 201, 'app one: a microsoft integration';
for my $c (['an Outlook address on the token', 'cio.ms@outlook.com', ''],
           ['the first page, Microsoft chosen for a work address', undef,
            '&email=ann.work%40contoso.example&first_name=Ann&last_name=Work&provider=microsoft']) {
    my ($name, $email, $answer) = @$c;
    $r = cio(node => POST => '/connect_tokens', { callback_url => $cb, defined $email ? (email => $email) : () });
    is $r->code, 200, "$name: a connect token" or diag $r->as_string;
    my ($tok, $lnk) = @{ $r->{json} }{qw(token browser_redirect_url)};
    my $fm = CnTest::Flow->new(provider => 'microsoft');
    ok $fm->login(url => "$lnk$answer"), '... to Microsoft' or diag $fm->{error};
    like $fm->{authorize_url} // '', qr{\A\Q${\ fake_url('/microsoft/') }\E[^/]+/oauth2/v2\.0/authorize\?},
        '... its v2.0 authorize endpoint';
    my $addr = $email // 'ann.work@contoso.example';
    is $fm->{authorize_query}{login_hint}, $addr, '... the address as login_hint';
    ok $fm->authorize && $fm->callback, '... consents; the callback answers' or diag $fm->{error};
    is $fm->{final_url}, "$cb&contextio_token=$tok", '... to callback_url?contextio_token=TOKEN';
    my $o = token_of($tok);
    ok !$o->{expires} && $o->{used}, 'the token used';
    is_deeply $o->{account}{email_addresses}, [$addr], '... a new account with the mailbox\'s address';
    is scalar @{ $o->{account}{sources} || [] }, 1, '... one source';
    my $src = $o->{account}{sources}[0] || {};
    is $src->{authentication_type}, 'oauth2', '... by OAuth';
    is api(GET => "/grants/$src->{label}")->{json}{data}{provider}, 'microsoft', '... a Microsoft grant';
    is_deeply [@{ $o->{account} }{qw(first_name last_name)}], ['Ann', 'Work'], '... with the names typed'
        unless defined $email;
}

# ---- source_callback_url outside the address rule (127.0.0.0/8 here) is not called --------------------
# (private, link-local, IPv6 loopback); the flow still ends at callback_url.
for my $hook ('http://10.0.0.1:' . conf_value('cn_fakeport') . '/hooks/source',
              'http://169.254.169.254/latest/meta-data/',
              'https://[::1]:' . conf_value('cn_fakeport') . '/hooks/source') {
    my $off = error_log_offset();
    my $seen = scalar @{ fake_log() };
    $r = cio(perl => POST => '/connect_tokens', { callback_url => $cb, email => 'hooked.user@gmail.com',
                                                  source_callback_url => $hook });
    is $r->code, 200, "source_callback_url $hook: accepted on the token" or diag $r->as_string;
    my ($tok, $lnk) = @{ $r->{json} }{qw(token browser_redirect_url)};
    my $t = time;
    my $fh = CnTest::Flow->new(provider => 'google');
    ok $fh->login(url => $lnk) && $fh->authorize && $fh->callback, '... the flow' or diag $fh->{error};
    is $fh->{final_url}, "$cb&contextio_token=$tok", '... ends at callback_url?contextio_token=';
    ok time - $t < 4, '... without waiting for the refused address';
    ok token_of($tok)->{account}{id}, '... the token used, with its account';
    my ($host) = $hook =~ m{//\[?([^\]/]+?)\]?(?::\d+)?/};
    like error_log_since($off),
        qr/CN03006: source_callback_url of account \S+: not reached, status \d+: not connected: \Q$host\E is not a public address/,
        "... not called: the log says $host is not a public address";
    my @log = @{ fake_log() };
    is scalar(grep { $_->{path} eq '/hooks/source' } @log[$seen .. $#log]), 0, '... and nothing reached the fake';
}

# ---- the first page's provider button: the names typed go along, an empty email box is no address ------
{
    $r = cio(perl => POST => '/connect_tokens', { callback_url => $cb });
    my ($tok, $lnk) = @{ $r->{json} }{qw(token browser_redirect_url)};
    my $fb = CnTest::Flow->new(provider => 'google');
    ok $fb->login(url => "$lnk&email=&first_name=But&last_name=Ton&provider=google"),
        'Google\'s button with names and no address: to Google' or diag $fb->{error};
    ok !defined $fb->{authorize_query}{login_hint}, '... without a login_hint';
    ok $fb->authorize && $fb->callback, '... and back' or diag $fb->{error};
    my $o = token_of($tok);
    is_deeply [@{ $o->{account} }{qw(first_name last_name)}], ['But', 'Ton'], '... the account has the names typed';
}

# ---- the IMAP way: the module's form, proven by a LOGIN at Dovecot ------------------------------------
SKIP: {
    skip imap_missing(), 7 if imap_missing();
    $r = cio(perl => POST => '/connect_tokens', { callback_url => $cb });
    my ($token4, $link4) = @{ $r->{json} }{qw(token browser_redirect_url)};
    my $f4 = CnTest::Flow->new(provider => 'imap');
    my $go = $f4->browser_get("$link4&provider=imap");
    is $go->code, 302, 'IMAP chosen on the screen: 302';
    my $form_url = $go->header('Location') // '';
    my $page = $f4->browser_get($form_url);
    is $page->code, 200, '... the IMAP form';
    my ($csrf) = $page->content =~ /<input type="hidden" name="csrf" value="([^"]*)"/;
    my ($state) = $page->content =~ /<input type="hidden" name="state" value="([^"]*)"/;
    my %form = (csrf => $csrf, state => $state, email => 'alice@example.test', username => 'alice',
                host => '127.0.0.1', port => imap_port('imaps'), security => 'ssl');
    my $wrong = $f4->{browser}->request(HTTP::Request::Common::POST(url('/imap'), { %form, password => 'wrong' }));
    is $wrong->code, 200, '... a wrong password: the form again';
    my $done = $f4->{browser}->request(HTTP::Request::Common::POST(url('/imap'),
                                                                   { %form, password => imap_password('alice') }));
    is $done->code, 303, '... the right one: 303 (after a POST)' or diag $done->as_string;
    is $done->header('Location'), "$cb&contextio_token=$token4", '... to callback_url?contextio_token=';
    my $o = token_of($token4);
    is $o->{account}{sources}[0]{username}, 'alice', 'the token\'s account has the IMAP mailbox';
    is_deeply $o->{account}{email_addresses}, ['alice@example.test'], '... and its address';
}

# ---- a 3-legged application: the account's token on the first read of the used token -----------------
is make_integration('google', app => 'three')->code, 201, 'app three (3-legged): a google integration';
$r = cio(perl => POST => '/connect_tokens', { callback_url => $cb, email => 'three.legs@gmail.com' },
         app => 'three');
my ($token6, $link6) = @{ $r->{json} }{qw(token browser_redirect_url)};
$f = CnTest::Flow->new(provider => 'google', app => 'three');
ok $f->login(url => $link6) && $f->authorize && $f->callback, 'app three: the connect UI\'s flow'
    or diag $f->{error};
$r = cio(node => GET => "/connect_tokens/$token6", {}, app => 'three');
my ($acc6, $at6, $ats6) = @{ $r->{json}{account} }{qw(id access_token access_token_secret)};
ok $acc6 && $at6 && $ats6, 'the first read of the used token: the account with access_token and secret';
$r = cio(node => GET => "/connect_tokens/$token6", {}, app => 'three');
ok !exists $r->{json}{account}{access_token} && !exists $r->{json}{account}{access_token_secret},
    '... the next read: not again';
my ($row6) = grep { $_->{id} eq $acc6 } db_rows('cio_accounts');
like $row6->{access_token_secret}, sealed_re(), '... the secret sealed at rest';
$r = cio(perl => GET => "/accounts/$acc6", {}, app => 'three', token => [$at6, $ats6]);
is $r->code, 200, '... and account calls signed with it work' or diag $r->as_string;
$r = cio(perl => GET => "/accounts/$acc6", {}, app => 'three');
is $r->code, 401, '... unsigned by it, refused';

# ---- links that cannot be used -----------------------------------------------------------------------
for my $c (['an unknown token', url('/contextio/connect?token=no-such-token')],
           ['no token', url('/contextio/connect')]) {
    $res = browser()->get($c->[1]);
    is $res->code, 400, "$c->[0]: 400";
    like $res->content, qr/new link/, '... the page says to ask for a new link';
}
$r = cio(perl => POST => '/connect_tokens', { callback_url => $cb });
my ($token5, $link5) = @{ $r->{json} }{qw(token browser_redirect_url)};
dbh()->do('UPDATE cio_connect_tokens SET expires_at = ? WHERE digest = ?', undef, time - 1,
          sha256_hex($token5));
$res = browser()->get($link5);
is $res->code, 400, 'an expired token: 400';
like $res->content, qr/new link/, '... the same page';
done_testing();
