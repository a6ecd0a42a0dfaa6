# The hosted sign-ins in a real browser (headless Chromium driven by
# playwright-core, t/browser/flows.js) through the real module: the IMAP
# form against the suite's Dovecot (a wrong password, then the right one;
# three wrong ones), the login screen of prompt "select_provider,detect"
# (the Google button and an address at gmail.com on through the fake Google
# to the application, an address refused, an address of an unknown domain
# to the IMAP form), and the error pages on the way (an ended sign-in's
# form, a spent link). Every page is checked at 360 px and 1280 px (no
# console error, no CSP violation, axe-core, the viewport, focus,
# screenshots under t/logs/browser). And the Context.IO connect UI: its first
# page (address and names) on through the fake Google to the application's
# callback_url?contextio_token=. Then what the walk did, seen from here: the
# grants, the connect token, what the fake Google was sent, no password in
# the log.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::Imap;
use CnTest::Browser;
use CnTest::ContextIO;

# Not a skip: scripts/test.sh starts Dovecot in every pass.
ok !imap_missing(), 'the suite\'s Dovecot runs' or do { diag imap_missing(); done_testing; exit };
ok !cio_missing(), 'the Context.IO signers are there' or do { diag cio_missing(); done_testing; exit };

reset_db();
my $RU = app_redirect_uri('one');
is make_integration('google')->code, 201, 'app one: a google integration';
is make_integration('microsoft')->code, 201, '... a microsoft one';
my $r = api(POST => '/integrations', { name => 'Mailboxes', provider => 'imap', redirect_uris => [$RU] });
is $r->code, 201, '... and an imap one' or diag $r->as_string;
my $offset = error_log_offset();
my $fake_seen = scalar @{ fake_log() };

# A login link (POST /auth), for the browser to open.
sub login_url {
    my ($what, %o) = @_;
    my $f = CnTest::Flow->new(%o);
    ok $f->auth, "POST /auth: $what" or diag $f->{error};
    return $f->{login_url};
}
my $screen = { prompt => 'select_provider,detect' };
my %logins = (
    imap           => login_url('provider imap', provider => 'imap', state => 'imap-form'),
    imap_limit     => login_url('provider imap', provider => 'imap', state => 'imap-limit'),
    screen_button  => login_url('the login screen', provider => undef, body => $screen, state => 'screen-button'),
    screen_email   => login_url('the login screen', provider => undef, body => $screen, state => 'screen-email'),
    screen_invalid => login_url('the login screen', provider => undef, body => $screen, state => 'screen-invalid'),
    screen_other   => login_url('the login screen', provider => undef, body => $screen, state => 'screen-other'),
);
# A Context.IO connect token without an email: the connect UI's first page.
my $cio = cio(perl => POST => '/connect_tokens', { callback_url => $RU });
is $cio->code, 200, 'POST /2.0/connect_tokens' or diag $cio->as_string;
$logins{cio} = $cio->{json}{browser_redirect_url};
my %imap = (email => 'alice@example.test', username => 'alice', host => '127.0.0.1',
            port => 0 + imap_port('imaps'), password => imap_password('alice'));

my $w = browser_walk('flows.js', json_encode({
    fake => fake_url(''), ca_file => conf_value('cn_cafile'), redirect_uri => $RU,
    imap => \%imap, logins => \%logins, cio_token => $cio->{json}{token},
}));

# ---- what the walk did, seen from the server and the fake ----
my %grants;
for my $g (@{ api(GET => '/grants', undef, query => 'limit=50')->{json}{data} || [] }) {
    push @{ $grants{$g->{provider}} }, $g->{email};
}
is_deeply [sort @{ $grants{imap} || [] }], ['alice@example.test'],
    'one IMAP grant, for alice (signed in twice: the same mailbox)';
is_deeply [sort @{ $grants{google} || [] }], ['cio.walk@gmail.com', 'someone@gmail.com', 'user@example.com'],
    'three Google grants: the button\'s account, the address typed and the connect UI\'s';
{
    my $t = cio(perl => GET => "/connect_tokens/$cio->{json}{token}")->{json};
    ok $t->{used}, 'the connect token is used';
    is_deeply [@{ $t->{account} }{qw(first_name last_name)}], ['Walk', 'Er'],
        '... by an account with the names typed';
    is_deeply $t->{account}{email_addresses}, ['cio.walk@gmail.com'], '... and the address';
}
my @fake = @{ fake_log() };
my @authorize = grep { $_->{path} eq '/google/authorize' } @fake[$fake_seen .. $#fake];
is scalar @authorize, 3, 'the fake Google saw the browser three times';
is_deeply [sort map { $_->{params}{login_hint} // '' } @authorize], ['', 'cio.walk@gmail.com', 'someone@gmail.com'],
    '... twice with the address typed as login_hint';
my $log = error_log_since($offset);
for my $p ($imap{password}, 'not-the-password', 'wrong-1', 'wrong-2', 'wrong-3') {
    is index($log, $p), -1, 'the error log does not have a password typed';
}
for my $name (qw(imap-form imap-form-wrong-password imap-form-sent-after-end imap-form-ended login-screen login-screen-spent
                 login-screen-invalid-address imap-form-from-screen contextio-first-page)) {
    for my $width (360, 1280) {
        ok -s "$w->{out}/$name-$width.png", "screenshot $name-$width.png";
    }
}

done_testing;
