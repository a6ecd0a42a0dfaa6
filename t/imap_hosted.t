# Hosted IMAP sign-in: the login link leads to the module's own IMAP form,
# each submission is proven by a LOGIN at a real Dovecot, a wrong password
# shows the form again, the third ends the sign-in with auth_limit_reached,
# and only a passed LOGIN makes a grant.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use HTTP::Request ();
use HTTP::Request::Common ();
use URI ();
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::Imap;
use CnTest::OAuth;

plan skip_all => imap_missing() if imap_missing();

reset_db();
my $RU = app_redirect_uri('one');
my $r = api(POST => '/integrations', { name => 'Mailboxes', provider => 'imap', redirect_uris => [$RU] });
is $r->code, 201, 'an imap integration' or diag $r->as_string;
my %pw = imap_passwords();
my $offset = error_log_offset();

# A hosted IMAP sign-in up to its form: (flow, form URL, form page).
sub to_form {
    my (%o) = @_;
    my $f = CnTest::Flow->new(provider => 'imap', state => $o{state} || 'st',
                              ($o{login_hint} ? (login_hint => $o{login_hint}) : ()),
                              ($o{type} ? (body => { settings => { type => $o{type} } }) : ()));
    ok $f->auth, 'POST /auth provider imap' or diag $f->{error};
    my $login = $f->browser_get($f->{login_url});
    is $login->code, 302, '... GET /login: 302';
    my $form_url = $login->header('Location') // '';
    like $form_url, qr{^\Q${\ url('/imap?state=')}\E}, '... to the module\'s IMAP form';
    my $page = $f->browser_get($form_url);
    return ($f, $form_url, $page);
}
sub hidden {
    my ($html, $name) = @_;
    return $html =~ /<input type="hidden" name="\Q$name\E" value="([^"]*)"/ ? $1 : undef;
}
sub value_of {
    my ($html, $id) = @_;
    return $html =~ /<input id="\Q$id\E"[^>]* value="([^"]*)"/ ? $1 : undef;
}
# POST the form of PAGE in F's browser with FIELDS (csrf and state from the page unless given).
sub submit {
    my ($f, $page, %fields) = @_;
    my $html = $page->content;
    my %form = (csrf => hidden($html, 'csrf'), state => hidden($html, 'state'), %fields);
    delete $form{$_} for grep { !defined $form{$_} } keys %form;
    return $f->{browser}->request(HTTP::Request::Common::POST(url('/imap'), \%form));
}
my %alice = (email => 'alice@example.test', username => 'alice', host => '127.0.0.1',
             port => imap_port('imaps'), security => 'ssl');

# ---- the form ----
my ($f, $form_url, $page) = to_form(login_hint => 'alice@example.test');
is $page->code, 200, 'the IMAP form: 200';
like $page->header('Content-Type') // '', qr{^text/html}, '... HTML';
is_deeply [page_header_problems($page)], [], '... with the page headers';
my $csp = $page->header('Content-Security-Policy') // '';
my $origin = URI->new($RU)->scheme . '://' . URI->new($RU)->host_port;
$origin =~ s/:443\z//;
like $csp, qr{form-action 'self' \Q$origin\E(;| )}, '... its answer may go to the application\'s origin' or diag $csp;
is value_of($page->content, 'email'), 'alice@example.test', '... the address of the login hint';
ok hidden($page->content, 'csrf'), '... an anti-forgery token';
is hidden($page->content, 'state'), URI->new($form_url)->query_param('state'), '... the flow\'s state';
unlike $page->content, qr{<input id="password"[^>]*value=}, '... a password field without a value';
my $head = $f->{browser}->request(HTTP::Request->new(HEAD => $form_url));
is $head->code, 200, 'HEAD of the form: 200';
is $head->content, '', '... no body';

# ---- wrong, wrong, right ----
my $before = scalar db_rows('grants');
my $res = submit($f, $page, %alice, password => 'not-the-password');
is $res->code, 200, 'a wrong password: the form again';
like $res->content, qr{The email address or password is not right}, '... saying so';
like $res->content, qr{<input id="password"[^>]*aria-invalid="true"}, '... on the password field';
unlike $res->content, qr{not-the-password}, '... without the password typed';
is value_of($res->content, 'email'), 'alice@example.test', '... keeping the address';
is value_of($res->content, 'host'), '127.0.0.1', '... and the server';
is value_of($res->content, 'username'), 'alice', '... and the user name';
$res = submit($f, $res, %alice, password => 'still-wrong');
is $res->code, 200, 'a second wrong password: the form again';
$res = submit($f, $res, %alice, password => $pw{alice});
is $res->code, 303, 'the right password: 303';
my $q = query_of($res->header('Location'));
like $res->header('Location') // '', qr{^\Q$RU\E\?}, '... to the application';
is $q->{success}, 'true', '... success=true';
is $q->{provider}, 'imap', '... provider imap';
is $q->{email}, 'alice@example.test', '... the address';
is $q->{state}, 'st', '... its state';
ok $q->{grant_id}, '... a grant';
is scalar db_rows('grants'), $before + 1, 'one grant made';
$r = api(GET => "/grants/$q->{grant_id}");
is $r->{json}{data}{settings}{imap_host}, '127.0.0.1', 'the grant: where the mailbox is';
is $r->{json}{data}{settings}{imap_username}, 'alice', '... its user name';
$res = submit($f, $page, %alice, password => $pw{alice});
is_deeply [error_page_problems($res)], [], 'the form of an ended sign-in: the error page';

# ---- three wrong passwords end it ----
($f, $form_url, $page) = to_form(state => 'limit');
$before = scalar db_rows('grants');
$res = $page;
for my $n (1 .. 2) {
    $res = submit($f, $res, %alice, password => "wrong-$n");
    is $res->code, 200, "wrong password $n: the form again";
}
$res = submit($f, $res, %alice, password => 'wrong-3');
is $res->code, 303, 'the third wrong password: 303';
$q = query_of($res->header('Location'));
is $q->{success}, 'false', '... success=false';
is $q->{error}, 'auth_limit_reached', '... auth_limit_reached';
is $q->{state}, 'limit', '... its state';
$res = submit($f, $page, %alice, password => $pw{alice});
is_deeply [error_page_problems($res)], [], 'then even the right password: the error page';
is scalar db_rows('grants'), $before, 'no grant made';

# ---- the count holds across the server's processes (ConnectCache, shmcb) ----
# Each POST is a new connection; the error log says which process counted it.
{
    my ($across, $ended) = (0, '');
    for my $try (1 .. 12) {
        my ($af, undef, $pg) = to_form(state => "across-$try");
        my (%pids, $last);
        $pg = $pg;
        for my $n (1 .. 3) {
            my $at = error_log_offset();
            $last = submit($af, $pg, %alice, password => "wrong-$n");
            my $rid = $last->header('X-Request-Id') // '-';
            my ($pid) = error_log_since($at) =~ /\[pid (\d+):[^\]]*\] \[\Q$rid\E\]/;
            $pids{$pid // '?'} = 1;
            $pg = $last if $last->code == 200;
        }
        next unless keys %pids > 1 && !$pids{'?'};
        $across = keys %pids;
        $ended = query_of($last->header('Location'))->{error} // $last->code;
        last;
    }
    ok $across > 1, 'three wrong passwords counted by more than one process' or diag 'never spread';
    is $ended, 'auth_limit_reached', '... and the third still ended the sign-in';
}

# ---- what the form refuses without asking the server ----
($f, $form_url, $page) = to_form(state => 'refusals');
for my $c (['no password', { %alice, password => undef }, 'password', qr/Enter your password/],
           ['no address', { %alice, email => '', password => 'x' }, 'email', qr/Enter your email address/],
           ['a port out of range', { %alice, port => '99999', password => 'x' }, 'port', qr/port number/],
           ['a host that is no name', { %alice, host => 'bad host!', password => 'x' }, 'host', qr/host name/]) {
    my ($name, $fields, $field, $re) = @$c;
    $res = submit($f, $page, %$fields);
    is $res->code, 200, "$name: the form again";
    like $res->content, $re, '... saying what to do';
    like $res->content, qr{<input id="\Q$field\E"[^>]*aria-invalid="true"}, "... on the $field field";
}

# ---- the server's failures: the form again, never counted ----
$res = submit($f, $page, %alice, port => imap_port('silent'), password => $pw{alice});
is $res->code, 200, 'a server that never answers: the form again';
like $res->content, qr{did not answer}, '... saying so';
like $res->content, qr{<details class="advanced" open>}, '... with the advanced settings open';
$res = submit($f, $page, %alice, host => imap_untrusted_host(), password => $pw{alice});
is $res->code, 200, 'a server whose certificate is not trusted: the form again';
like $res->content, qr{secure connection}, '... saying so';
$res = submit($f, $page, %alice, password => $pw{alice});
is $res->code, 303, 'then the right password: 303';
is query_of($res->header('Location'))->{success}, 'true', '... success (those were not wrong passwords)';

# ---- forgery ----
($f, $form_url, $page) = to_form(state => 'forged');
$res = submit($f, $page, %alice, password => $pw{alice}, csrf => 'x' x 43);
is $res->code, 403, 'another anti-forgery token: 403';
is_deeply [page_header_problems($res)], [], '... a page';
$res = submit($f, $page, %alice, password => $pw{alice}, csrf => undef);
is $res->code, 403, 'none: 403';
my $other = CnTest::Flow->new(provider => 'imap');
$res = $other->{browser}->request(HTTP::Request::Common::POST(url('/imap'),
    [csrf => hidden($page->content, 'csrf'), state => hidden($page->content, 'state'), %alice, password => $pw{alice}]));
is_deeply [error_page_problems($res)], [], 'the form posted from another browser: the error page';
$res = $f->browser_get(url('/callback?state=' . hidden($page->content, 'state') . '&code=x'));
is_deeply [error_page_problems($res)], [], 'its state at /callback: the error page';
$res = $f->{browser}->request(HTTP::Request::Common::POST(url('/imap'), Content_Type => 'application/json',
                                                          Content => '{"state":"x"}'));
is $res->code, 400, 'the form as JSON: 400';
$res = submit($f, $page, %alice, password => $pw{alice});
is $res->code, 303, 'the real form still goes through';
is query_of($res->header('Location'))->{success}, 'true', '... success';

# ---- what the form knows beforehand ----
(undef, undef, $page) = to_form(login_hint => 'someone@yahoo.com');
is value_of($page->content, 'host'), 'imap.mail.yahoo.com', 'a yahoo.com address: the server filled in';
is value_of($page->content, 'port'), '993', '... port 993';
like $page->content, qr{<option value="ssl" selected>}, '... SSL/TLS';
like $page->content, qr{Yahoo Mail asks for an app password}, '... and the app-password hint';
like $page->content, qr{<a href="https://[^"]*yahoo[^"]*"}, '... linking Yahoo\'s guide';
($f, undef, $page) = to_form(login_hint => 'alice@dovecot.test');
is value_of($page->content, 'host'), 'imap.dovecot.test', 'an address whose domain has SRV records: its server filled in';
is value_of($page->content, 'port'), imap_port('imaps'), '... and port';
$res = submit($f, $page, email => 'alice@dovecot.test', username => 'alice', host => '', port => '',
              security => 'ssl', password => $pw{alice});
is $res->code, 303, '... the right password with the server left to discovery: 303';
is query_of($res->header('Location'))->{success}, 'true', '... success';
($f, undef, $page) = to_form(login_hint => 'alice@dovecot-starttls.test');
like $page->content, qr{<option value="starttls" selected>}, 'a domain of IMAP with STARTTLS: STARTTLS chosen';
$res = submit($f, $page, email => 'alice@dovecot-starttls.test', username => 'alice', host => '', port => '',
              security => 'ssl', password => $pw{alice});
is $res->code, 303, '... the select\'s default left, the server to discovery: 303';
is query_of($res->header('Location'))->{success}, 'true', '... success over STARTTLS' or diag $res->content;
(undef, undef, $page) = to_form(type => 'yahoo');
is value_of($page->content, 'host'), 'imap.mail.yahoo.com', 'settings.type yahoo: the server filled in';
like $page->content, qr{Yahoo Mail asks for an app password}, '... and the hint';
(undef, undef, $page) = to_form();
is value_of($page->content, 'email'), '', 'no hint: an empty form';
unlike $page->content, qr{app password here}, '... without a hint';

# ---- the OAuth 2.0 authorization request (GET /auth) of an IMAP mailbox ----
{
    my $b = browser();
    my $res = $b->request(HTTP::Request->new(GET => authorize_url(provider => 'imap', state => 'az',
                                                                   login_hint => 'alice@example.test',
                                                                   access_type => 'offline')));
    is $res->code, 302, 'GET /auth provider imap: 302';
    my $form = $res->header('Location') // '';
    like $form, qr{^\Q${\ url('/imap?state=')}\E}, '... to the IMAP form';
    my $af = { browser => $b };
    my $pg = $b->request(HTTP::Request->new(GET => $form));
    is value_of($pg->content, 'email'), 'alice@example.test', '... with the login hint';
    $res = submit($af, $pg, %alice, password => 'wrong');
    is $res->code, 200, 'a wrong password: the form again';
    $res = submit($af, $res, %alice, password => $pw{alice});
    is $res->code, 303, 'the right one: 303';
    my $aq = query_of($res->header('Location'));
    like $res->header('Location') // '', qr{^\Q$RU\E\?}, '... to the application';
    ok $aq->{code}, '... with an authorization code';
    is $aq->{state}, 'az', '... and its state';
    my $t = token(grant_type => 'authorization_code', code => $aq->{code}, redirect_uri => $RU,
                  _basic => 'one');
    is $t->code, 200, 'the code exchanged: 200' or diag $t->content;
    ok $t->{json}{access_token} && $t->{json}{refresh_token}, '... access and refresh tokens';
    my $me = grant_me($t->{json}{access_token});
    is $me->{json}{data}{provider}, 'imap', 'GET /grants/me: the IMAP grant';
    is $me->{json}{data}{email}, 'alice@example.test', '... of alice';
}

# ---- no password in the log ----
my $log = error_log_since($offset);
for my $p (values %pw, 'not-the-password', 'still-wrong', 'wrong-1', 'wrong-3') {
    is index($log, $p), -1, 'the error log does not have a password typed';
}

done_testing;
