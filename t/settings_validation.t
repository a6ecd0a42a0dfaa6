# What an application registers and what ends up in a URL or a Location
# header: the Microsoft tenant and the redirect URIs are checked on POST and
# PATCH /integrations (400 invalid_request_payload naming the field, nothing
# stored), values stored before the checks cannot steer a flow (the tenant is
# checked and percent-encoded where it meets the provider URL, a redirect URI
# is checked again at POST /auth and at the callback), and every value copied
# into the provider's or the application's URL is percent-encoded.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;

reset_db();
my $log_at = error_log_offset();

my $GUID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
my @good_uris = (app_redirect_uri('one'), 'http://localhost:3000/callback');
my $r = make_integration('microsoft', tenant => $GUID, redirect_uris => \@good_uris);
is $r->code, 201, 'microsoft integration with a GUID tenant' or diag $r->as_string;
is $r->{json}{data}{settings}{tenant}, $GUID, '... kept';
$r = make_integration('google', redirect_uris => \@good_uris);
is $r->code, 201, 'google integration' or diag $r->as_string;

sub row_of {
    my ($provider, $app) = @_;
    my ($row) = grep { $_->{provider} eq $provider && $_->{app_id} eq "app-" . ($app || 'one') }
        db_rows('integrations');
    return $row;
}
my %before = (microsoft => row_of('microsoft'), google => row_of('google'));

sub refused_naming {
    my ($res, $field, $what) = @_;
    is $res->code, 400, "$what: 400" or diag $res->as_string;
    is $res->{json}{error}{event_code}, 700, '... invalid_request_payload';
    like $res->{json}{error}{message} // '', qr/\Q$field\E/, "... naming $field";
}

# ---- tenants ------------------------------------------------------------------------------
my @bad_tenants = ('../../evil?x=', 'a/b', '%2e%2e', '..', 'evil', 'common.', 'a b.example',
                   "contoso.example\r\nX-Evil: 1", 'contoso.example#x', 'user@contoso.example',
                   '-x.example', "caf\x{e9}.example", ('a' x 64) . '.example', "$GUID}", '');
for my $t (@bad_tenants) {
    (my $shown = $t) =~ s/([^\x21-\x7e])/sprintf '\\x%02x', ord $1/ge;
    $r = api(POST => '/integrations', { name => 'ms', provider => 'microsoft', redirect_uris => \@good_uris,
                                        settings => { client_id => 'c', client_secret => 's', tenant => $t } },
             app => 'two');
    # An empty string was refused before (settings must be non-empty strings).
    if ($t eq '') {
        is $r->code, 400, "POST tenant '': 400";
    }
    else {
        refused_naming($r, 'settings.tenant', "POST tenant '$shown'");
    }
    $r = api(PATCH => '/integrations/microsoft', { name => 'renamed', settings => { tenant => $t } });
    $t eq '' ? is($r->code, 400, "PATCH tenant '': 400")
             : refused_naming($r, 'settings.tenant', "PATCH tenant '$shown'");
}
is api(GET => '/integrations/microsoft', undef, app => 'two')->code, 404, 'app two: no integration was stored';
$r = api(GET => '/integrations/microsoft');
is $r->{json}{data}{settings}{tenant}, $GUID, 'app one: the tenant is unchanged';
is $r->{json}{data}{name}, 'fake microsoft', '... and so is the name patched with it';
is_deeply row_of('microsoft'), $before{microsoft}, '... the stored row is as it was';

for my $t ('login.example.com', 'contoso.onmicrosoft.com', 'organizations', 'consumers', 'common',
           uc $GUID) {
    $r = api(PATCH => '/integrations/microsoft', { settings => { tenant => $t } });
    is $r->code, 200, "PATCH tenant '$t': 200" or diag $r->as_string;
    is api(GET => '/integrations/microsoft')->{json}{data}{settings}{tenant}, $t, '... read back';
}
$r = api(PATCH => '/integrations/microsoft', { settings => { tenant => $GUID } });
is $r->code, 200, 'back to the GUID tenant';

# A hosted flow goes to the tenant's endpoints.
my $f = hosted_flow(provider => 'microsoft', login_hint => 'guid.user@contoso.example');
is $f->result->{success}, 'true', 'a hosted flow with a GUID tenant' or diag $f->{error};
like $f->{authorize_url} // '', qr{\A\Q${\ fake_url("/microsoft/$GUID/oauth2/v2.0/authorize?") }\E},
    '... authorizes at /{GUID}/oauth2/v2.0/authorize';
my @token = grep { $_->{method} eq 'POST' && ($_->{params}{code} // '') eq ($f->{code} // '-') } @{ fake_log() };
is $token[0] && $token[0]{path}, "/microsoft/$GUID/oauth2/v2.0/token", '... and exchanges the code at its token endpoint';

# ---- redirect URIs --------------------------------------------------------------------------
my @bad_uris = (
    ["CR LF", "https://app.example/cb\r\nSet-Cookie: x=1"],
    ['LF', "https://app.example/cb\nLocation: https://evil.example/"],
    ['a fragment', 'https://app.example/cb#frag'],
    ['an empty fragment', 'https://app.example/cb#'],
    ['a space', 'https://app.example/c b'],
    ['a tab', "https://app.example/c\tb"],
    ['DEL', "https://app.example/cb\x7f"],
    ['a NUL escape', "https://app.example/cb\x{0}x"],
    ['javascript:', 'javascript:alert(1)'],
    ['data:', 'data:text/html;base64,PGI+'],
    ['file:', 'file:///etc/passwd'],
    ['vbscript:', 'vbscript:msgbox(1)'],
    ['a relative URI', '/oauth/done'],
    ['a scheme-relative URI', '//app.example/cb'],
    ['https without a host', 'https:/cb'],
    ['a 3 KiB URI', 'https://app.example/' . ('a' x 3072)],
    ['a 2049-byte URI', 'https://app.example/' . ('a' x (2049 - 20))],
    ['an empty string', ''],
);
for my $c (@bad_uris) {
    my ($what, $uri) = @$c;
    $r = api(POST => '/integrations', google_integration(redirect_uris => ['https://ok.example/cb', $uri]),
             app => 'two');
    # NUL: the module refuses JSON with NUL before looking at the field.
    if ($uri =~ /\x00/) {
        is $r->code, 400, "POST a redirect URI with $what: 400";
        is $r->{json}{error}{event_code}, 700, '... invalid_request_payload';
    }
    else {
        refused_naming($r, 'redirect_uris', "POST a redirect URI with $what");
    }
    $r = api(PATCH => '/integrations/google', { name => 'renamed', redirect_uris => [$uri] });
    is $r->code, 400, "PATCH a redirect URI with $what: 400";
    like $r->{json}{error}{message} // '', qr/redirect_uris/, '... naming redirect_uris'
        unless $uri =~ /\x00/;
}
$r = api(POST => '/integrations', google_integration(redirect_uris => [map { "https://app.example/cb$_" } 1 .. 51]),
         app => 'two');
refused_naming($r, 'redirect_uris', 'POST 51 redirect URIs');
$r = api(PATCH => '/integrations/google', { redirect_uris => [map { "https://app.example/cb$_" } 1 .. 51] });
refused_naming($r, 'redirect_uris', 'PATCH 51 redirect URIs');
is api(GET => '/integrations/google', undef, app => 'two')->code, 404, 'app two: no integration was stored';
$r = api(GET => '/integrations/google');
is_deeply $r->{json}{data}{redirect_uris}, \@good_uris, 'app one: the redirect URIs are unchanged';
is $r->{json}{data}{name}, 'fake google', '... and so is the name patched with them';
is_deeply row_of('google'), $before{google}, '... the stored row is as it was';

my @fine = ('com.example.app:/oauth', 'https://app.example/cb?x=1&y=%20', 'http://127.0.0.1:8080/cb',
            app_redirect_uri('one'), 'https://app.example/' . ('a' x (2048 - 20)));
$r = api(PATCH => '/integrations/google', { redirect_uris => \@fine });
is $r->code, 200, 'a native app scheme, a query, a loopback port and a 2048-byte URI are accepted' or diag $r->as_string;
is_deeply api(GET => '/integrations/google')->{json}{data}{redirect_uris}, \@fine, '... read back';
$r = api(PATCH => '/integrations/google', { redirect_uris => [map { "https://app.example/cb$_" } 1 .. 50] });
is $r->code, 200, '50 redirect URIs are accepted';
$r = api(POST => '/integrations', google_integration(redirect_uris => ['com.example.app:/oauth']), app => 'two');
is $r->code, 201, 'POST with com.example.app:/oauth: 201' or diag $r->as_string;
$r = api(PATCH => '/integrations/google', { redirect_uris => \@good_uris });
is $r->code, 200, 'app one: back to its redirect URIs';

# ---- values copied into URLs are percent-encoded ------------------------------------------------
{
    my $hint = 'enc+1&prompt=none&x=%41@example.com';
    my $state = 'st&success=true&grant_id=forged#x y';
    my $g = hosted_flow(provider => 'google', login_hint => $hint, state => $state);
    is $g->result->{success}, 'true', 'a flow with &, =, %, + and # in login_hint and state' or diag $g->{error};
    my $q = $g->{authorize_query};
    is $q->{login_hint}, $hint, '... the provider gets the login_hint as it was given';
    is $q->{prompt}, 'consent', '... which adds no parameter';
    unlike $g->{authorize_url} // '', qr/prompt=none/, '... not even a second prompt';
    is $g->result->{state}, $state, '... the application gets its state back as it was';
    like $g->result->{grant_id} // '', qr/\A[0-9a-f-]{36}\z/, '... and the real grant id';
    unlike $g->{final_url} // '', qr/#/, '... no fragment in the redirect';
}

# ---- values stored before the checks ----------------------------------------------------------------
# A tenant written straight into the store: the flow stops with a page, the
# provider URL is never built from it.
{
    my $row = row_of('microsoft');
    my $settings = json_decode($row->{settings});
    $settings->{tenant} = '../../evil?x=';
    dbh()->do('UPDATE integrations SET settings = ? WHERE id = ?', undef, json_encode($settings), $row->{id});
    my $n = @{ fake_log() };
    my $m = CnTest::Flow->new(provider => 'microsoft', login_hint => 'stored.tenant@example.com');
    ok $m->auth, 'a stored hostile tenant: POST /auth' or diag $m->{error};
    $m->login;
    is_deeply [error_page_problems($m->{login}, 'integration_problem')], [],
        '... /login answers the integration_problem page, no redirect';
    my @log = @{ fake_log() };
    is_deeply [grep { $_->{path} !~ m{\A/_} } @log[$n .. $#log]], [], '... and nothing reached the provider';
    $settings->{tenant} = $GUID;
    dbh()->do('UPDATE integrations SET settings = ? WHERE id = ?', undef, json_encode($settings), $row->{id});
}

# A redirect URI with CR/LF written straight into the store: POST /auth refuses it.
my $crlf = "https://app-one.example/oauth/done\r\nSet-Cookie: evil=1";
{
    my $row = row_of('google');
    dbh()->do('UPDATE integrations SET redirect_uris = ? WHERE id = ?', undef,
              json_encode([app_redirect_uri('one'), $crlf]), $row->{id});
    my $logins = () = db_rows('login_requests');
    $r = api(POST => '/auth', { provider => 'google', redirect_uri => $crlf });
    is $r->code, 400, 'a stored redirect URI with CR/LF: POST /auth 400';
    is $r->{json}{error}{type}, 'redirect_uri_not_allowed', '... redirect_uri_not_allowed';
    is scalar(() = db_rows('login_requests')), $logins, '... and no login request was stored';
}

# A login request whose redirect URI went bad in the store: the callback
# answers a page before the code is exchanged or a grant stored.
{
    my $g = CnTest::Flow->new(provider => 'google', login_hint => 'crlf.callback@example.com');
    ok $g->auth, 'a login request for the callback check' or diag $g->{error};
    my $grants = () = db_rows('grants');
    ok $g->login && $g->authorize, '... through /login and the provider' or diag $g->{error};
    for my $l (db_rows('login_requests')) {
        my $req = json_decode($l->{request});
        next unless ($req->{login_hint} // '') eq 'crlf.callback@example.com';
        $req->{redirect_uri} = $crlf;
        dbh()->do('UPDATE login_requests SET request = ? WHERE id_digest = ?', undef, json_encode($req),
                  $l->{id_digest});
    }
    $g->callback;
    is_deeply [error_page_problems($g->{callback}, 'redirect_uri_not_allowed')], [],
        '... the callback answers the redirect_uri_not_allowed page (not a 500, no Location)';
    my @exchanged = grep { $_->{method} eq 'POST' && ($_->{params}{code} // '') eq ($g->{code} // '-') } @{ fake_log() };
    is scalar(@exchanged), 0, '... the code was not exchanged';
    is scalar(() = db_rows('grants')), $grants, '... and no grant was stored';
}
# The same, tampered before /login: the page comes at once, and the provider sees nothing.
{
    my $g = CnTest::Flow->new(provider => 'google', login_hint => 'crlf.login@example.com');
    ok $g->auth, 'a login request for the /login check' or diag $g->{error};
    for my $l (db_rows('login_requests')) {
        my $req = json_decode($l->{request});
        next unless ($req->{login_hint} // '') eq 'crlf.login@example.com';
        $req->{redirect_uri} = $crlf;
        dbh()->do('UPDATE login_requests SET request = ? WHERE id_digest = ?', undef, json_encode($req),
                  $l->{id_digest});
    }
    my $res = $g->browser_get($g->{login_url});
    is_deeply [error_page_problems($res, 'redirect_uri_not_allowed')], [],
        '... GET /login answers the redirect_uri_not_allowed page';
    ok !(grep { ($_->{params}{login_hint} // '') eq 'crlf.login@example.com' } @{ fake_log() }),
        '... and the provider was never asked';
}
dbh()->do('UPDATE integrations SET redirect_uris = ? WHERE id = ?', undef, json_encode(\@good_uris),
          row_of('google')->{id});

unlike error_log_since($log_at), qr/evil=1|X-Evil/, 'nothing hostile reached the error log';

done_testing;
