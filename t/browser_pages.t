# The hosted pages in a real browser: headless Chromium (Debian's chromium,
# driven by playwright-core) visits the module's error pages — a bogus login
# link, a callback without state, GET /auth of an unknown application, of an
# application without the integration (with its logo and accent colour), a
# redirect URI that is not registered — and the IMAP form and the login
# screen (ConnectTemplatePreview's sample values, with and without their
# errors), each at 360 px and 1280 px wide. Each must load without a console
# error or a Content-Security-Policy violation, pass axe-core with zero
# violations, fit the viewport, show its focus, say what went wrong, and
# leave screenshots under t/logs/browser (t/var/results/<pass>/browser).
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use URI::Escape ();
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::Browser;

reset_db();
is make_integration('google')->code, 201, 'app one: a google integration';
my $RU = URI::Escape::uri_escape(app_redirect_uri('one'));
my $auth = '/auth?response_type=code&state=st&scope=openid';
my $internals = ['sqlite', 'postgres', '/tmp/', 'Session On', 'mod_session', 'stack'];

my @pages = (
    { name => 'login-bogus', path => '/login?id=bogus', status => 400,
      text => ['This sign-in link cannot be used', 'expired', 'start connecting your mailbox again',
               'login_id_invalid'], notText => $internals },
    { name => 'callback-no-state', path => '/callback?code=abc', status => 400,
      text => ['This sign-in link cannot be used', 'login_id_invalid'], notText => $internals },
    { name => 'auth-unknown-client', path => "$auth&client_id=app-nobody&provider=google&redirect_uri=$RU",
      status => 400, text => ['This sign-in is not available', 'not set up', 'invalid_client'],
      notText => $internals },
    { name => 'auth-app-two-no-integration', path => "$auth&client_id=app-two&provider=microsoft&redirect_uri="
          . URI::Escape::uri_escape(app_redirect_uri('two')),
      status => 404, text => ['App Two', 'This sign-in is not available', 'integration_not_found'],
      notText => $internals },
    { name => 'auth-redirect-uri-not-registered',
      path => "$auth&client_id=app-one&provider=google&redirect_uri=" . URI::Escape::uri_escape('https://evil.example/cb'),
      status => 400, text => ['App One <Mail & Co>', 'not registered', 'redirect_uri_not_allowed'],
      notText => [@$internals, 'evil.example'] },
    { name => 'preview-error', path => '/preview/error', status => 200,
      text => ['This sign-in link cannot be used'] },
    { name => 'preview-imap', path => '/preview/imap?client_id=app-one', status => 200,
      text => ['Connect your mailbox', 'Email address', 'Password', 'Advanced settings', 'App One <Mail & Co>'] },
    { name => 'preview-imap-errors', path => '/preview/imap?errors=1&client_id=app-two', status => 200,
      text => ['The email address or password is not right', 'Yahoo needs an app password',
               'How to make an app password', 'IMAP server', 'STARTTLS'] },
    { name => 'preview-choose', path => '/preview/choose?client_id=app-one', status => 200,
      text => ['Continue with Google', 'Continue with Microsoft', 'Other email', 'Email address'] },
    { name => 'preview-choose-errors', path => '/preview/choose?errors=1&client_id=app-two', status => 200,
      text => ['We could not find out how to connect this address'] },
    { name => 'preview-connect', path => '/preview/connect?client_id=app-one', status => 200,
      text => ['Email address', 'First name', 'Last name', 'Continue with Google', 'Other email'] },
    { name => 'preview-connect-errors', path => '/preview/connect?errors=1&client_id=app-two', status => 200,
      text => ['We could not find out how to connect this address', 'First name', 'Other email'] },
);

my $r = browser_walk('pages.js', json_encode(\@pages));
for my $p (@pages) {
    for my $w (360, 1280) {
        ok -s "$r->{out}/$p->{name}-$w.png", "screenshot $p->{name}-$w.png written";
    }
}

done_testing;
