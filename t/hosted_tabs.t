# One browser, several sign-ins at once (two tabs, a retry after a closed
# popup): each flow is its own sealed value in the session, keyed by its
# state, so each callback finds its own flow, in any order; a few are kept
# (the oldest goes), and each is spent by its callback.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;

reset_db();
is make_integration('google')->code, 201, 'google integration';
is make_integration('microsoft')->code, 201, 'microsoft integration';

sub started {
    my ($browser, %o) = @_;
    my $f = CnTest::Flow->new(browser => $browser, %o);
    $f->auth && $f->login && $f->authorize;
    return $f;
}
# The flows in the browser's cookie, when it can be read (with
# mod_session_crypto the whole cookie is encrypted: then only what the
# callbacks do shows them).
my $crypto = conf_value('cn_sessioncrypto') ? 1 : 0;
sub flow_keys {
    my ($f, $want, $name) = @_;
    return if $crypto;
    my $v = $f->session_cookie // '';
    return is scalar(() = $v =~ /connect-flow-[0-9a-f]{8}=/g), $want, $name;
}

# Two tabs, completed in the other order.
my $b = browser();
my $one = started($b, provider => 'google', login_hint => 'tab.one@example.com', state => 'tab-1');
my $two = started($b, provider => 'microsoft', login_hint => 'tab.two@example.com', state => 'tab-2');
ok !$one->{error} && !$two->{error}, 'two sign-ins started in one browser' or diag $one->{error} // $two->{error};
flow_keys($two, 2, 'the session holds two flows');
$two->callback;
is $two->result->{success}, 'true', 'the second tab completes first';
is $two->result->{state}, 'tab-2', '... with its own state';
is $two->result->{email}, 'tab.two@example.com', '... and its own mailbox';
$one->callback;
is $one->result->{success}, 'true', 'the first tab completes after it (it was overwritten before flows had keys)';
is $one->result->{state}, 'tab-1', '... with its own state';
is $one->result->{provider}, 'google', '... and its own provider';
isnt $one->grant_id, $two->grant_id, 'two grants';
flow_keys($one, 0, 'both flows are spent');

# The same in the first order.
$b = browser();
$one = started($b, provider => 'google', login_hint => 'order.one@example.com', state => 'o-1');
$two = started($b, provider => 'google', login_hint => 'order.two@example.com', state => 'o-2');
$one->callback;
$two->callback;
is $one->result->{success} . $two->result->{success}, 'truetrue', 'in the order they started: both succeed';

# A callback is single use, also with other flows in the session.
$b = browser();
my $a = started($b, provider => 'google', login_hint => 'replay.a@example.com');
my $c = started($b, provider => 'google', login_hint => 'replay.c@example.com');
$a->callback;
is $a->result->{success}, 'true', 'a callback';
$a->callback(url => $a->{callback_url});
is_deeply [error_page_problems($a->{callback})], [], 'its replay: the error page';
$c->callback;
is $c->result->{success}, 'true', 'the other flow is still there';

# At most four flows: a fifth makes the oldest go.
$b = browser();
my @f = map { started($b, provider => 'google', login_hint => "many.$_\@example.com", state => "m-$_") } 1 .. 5;
flow_keys($f[-1], 4, 'five sign-ins started: four flows kept');
$f[0]->callback;
is_deeply [error_page_problems($f[0]->{callback})], [], 'the oldest one\'s callback: the error page';
for my $i (1 .. 4) {
    $f[$i]->callback;
    is $f[$i]->result->{state}, "m-" . ($i + 1), 'sign-in ' . ($i + 1) . ' completes';
}
flow_keys($f[-1], 0, 'the session is empty again');

# A state of another browser's flow finds nothing here.
my $x = started(browser(), provider => 'google', login_hint => 'other.browser@example.com');
my $y = started(browser(), provider => 'google', login_hint => 'this.browser@example.com');
my $res = $y->browser_get($x->{callback_url});
is_deeply [error_page_problems($res)], [], 'another browser\'s callback URL: the error page';
$y->callback;
is $y->result->{success}, 'true', '... and this browser\'s own flow is untouched';

done_testing;
