# The hosted pages: templates compiled at start-up from ConnectTemplateDir
# (a missing or broken one, or a bad ConnectApplication name=/logo=/color=,
# refuses start-up naming it), the error page's words and escaping, the
# application's name, logo and colour, the headers of every page (a CSP with
# no inline style or script; img-src only for the logo's origin), HEAD, and
# the stylesheets served from <mount>/assets/. The browser's view of the
# same pages is t/browser_pages.t.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use File::Path ();
use File::Spec ();
use HTTP::Request ();
use URI::Escape ();
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::Httpd;

reset_db();
my $templates = File::Spec->catdir(t_dir(), File::Spec->updir, 'conf', 'templates');

# ---- the error page of the suite's server ---------------------------------------------
my $res = browser()->get(url('/login?id=' . ('A' x 43)));
is_deeply [error_page_problems($res)], [], 'an unknown login id: the error page';
my $html = $res->content;
like $html, qr{<html lang="en">}, 'the page has a language';
like $html, qr{<h1>This sign-in link cannot be used</h1>}, 'it says what happened';
like $html, qr{has expired, has already been used}, '... what went wrong in plain words';
like $html, qr{start connecting your mailbox again}, '... and what the user can do';
like $html, qr{<code>login_id_invalid</code> \(25004\)}, '... with the event as a reference';
my $rid = $res->header('X-Request-Id');
like $html, qr{request <code>\Q$rid\E</code>}, '... and the request id';
unlike $html, qr{<script|style=|<style}i, 'no script, no inline style';
like $html, qr{<link rel="stylesheet" href="/connect/assets/connect\.css\?v=[0-9a-f]{12}">},
    'the stylesheet from the mount';
unlike $html, qr{/assets/theme-}, 'no application known: no accent stylesheet';
unlike $html, qr{<img}, '... and no logo';
my $csp = $res->header('Content-Security-Policy');
is $csp, "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    'the policy: nothing inline, nothing from elsewhere';
is $res->header('X-Content-Type-Options'), 'nosniff', 'nosniff';
unlike $html, qr{no session|Session On|sqlite|/tmp/|\.c:\d}i, 'no internals on the page';

# HEAD answers like GET, without the body.
my $head = browser()->request(HTTP::Request->new(HEAD => url('/login?id=' . ('A' x 43))));
is $head->code, 400, 'HEAD of the error page: the same status';
is $head->content, '', '... no body';
is $head->header('Content-Length'), length($html), '... the length of the page';
is_deeply [page_header_problems($head)], [], '... the page headers';

# ---- the application's name, colour and logo ---------------------------------------------
# GET /auth knows its application from client_id: app one (a name with markup, a
# light accent) and app two (a logo, a dark accent) have no microsoft integration.
for my $c (['one', 'App One &lt;Mail &amp; Co&gt;', '#000000', undef],
           ['two', 'App Two', '#ffffff', 'https://logo.example/app-two.png']) {
    my ($which, $name, $text_on_accent, $logo) = @$c;
    my ($id) = app_creds($which);
    my $r = browser()->get(url("/auth?client_id=$id&provider=microsoft&response_type=code&redirect_uri="
                               . app_redirect_uri($which)));
    is $r->code, 404, "app $which: integration_not_found, a 404 page";
    like $r->content, qr{<code>integration_not_found</code>}, "app $which: ... naming the event";
    is_deeply [page_header_problems($r)], [], "app $which: ... with the page headers";
    my $h = $r->content;
    like $h, qr{<p class="app-name">\Q$name\E</p>}, "app $which: its name, escaped";
    unlike $h, qr{App One <Mail}, "app $which: never unescaped";
    like $h, qr{<title>This sign-in is not available · \Q$name\E</title>}, "app $which: in the title";
    my ($theme) = $h =~ m{<link rel="stylesheet" href="(/connect/assets/theme-[0-9a-f]{12}\.css)">};
    ok $theme, "app $which: its accent stylesheet";
    my $css = browser()->get(base_url() . ($theme // '/none'));
    is $css->code, 200, "app $which: the accent stylesheet is served";
    like $css->content, qr{--on-accent: \Q$text_on_accent\E;}, "app $which: text on the accent is $text_on_accent";
    my $p = $r->header('Content-Security-Policy');
    if ($logo) {
        like $h, qr{<img class="logo" src="\Q$logo\E" alt="" width="40" height="40">}, "app $which: its logo";
        like $p, qr{; img-src https://logo\.example; }, "app $which: img-src is the logo's origin, exactly";
    }
    else {
        unlike $h, qr{<img}, "app $which: no logo";
        unlike $p, qr{img-src}, "app $which: no img-src";
    }
}

# ---- ConnectTemplatePreview On (the suite's server) ----------------------------------------
for my $page (qw(error imap choose)) {
    my $r = browser()->get(url("/preview/$page?errors=1&client_id=app-two"));
    is $r->code, 200, "preview of $page: 200";
    like $r->content, qr{<p class="app-name">App Two</p>}, '... as the application asked for';
    is_deeply [page_header_problems($r)], [], '... with the page headers';
}
my $imap = browser()->get(url('/preview/imap?errors=1'))->content;
like $imap, qr{<input id="password" name="password" type="password" autocomplete="current-password" required aria-describedby="password-error password-help password-hint" aria-invalid="true" autofocus>},
    'IMAP form: the password field has no value, its error and hint are tied to it, it has the focus';
like $imap, qr{<p class="error" id="password-error" role="alert">The email address or password is not right\.</p>},
    '... the error message under it';
like $imap, qr{<details class="advanced" open>}, '... the advanced settings open';
like $imap, qr{<option value="ssl" selected>SSL/TLS</option>}, '... SSL/TLS selected';
like $imap, qr{<input type="hidden" name="csrf" value="preview-csrf">}, '... the csrf field';
unlike $imap, qr{id="form-error"}, '... no message above the form (it is the field\'s)';
is browser()->get(url('/preview/nothing'))->code, 404, 'a preview of no page: 404';

# The sources a caller adds to form-action (the application's redirect URI's
# origin): origins go in, anything that could end the directive or add a
# keyword stays out, and the log says so.
for my $c (['https://app-one.example', "form-action 'self' https://app-one.example;"],
           ['https://app-one.example com.example.app: http://127.0.0.1:3000',
            "form-action 'self' https://app-one.example com.example.app: http://127.0.0.1:3000;"],
           ["https://a.example 'unsafe-inline' https://b.example;script-src * data:x,y",
            "form-action 'self' https://a.example;"]) {
    my ($extra, $want) = @$c;
    my $off = error_log_offset();
    my $r = browser()->get(url('/preview/imap?form_action=' . URI::Escape::uri_escape($extra)));
    my $p = $r->header('Content-Security-Policy');
    like $p, qr{\Q$want\E frame-ancestors 'none'; base-uri 'none'$}, "form-action with '$extra'";
    unlike $p, qr{unsafe|script-src|\*}, '... nothing else';
    my $refused = () = error_log_since($off) =~ /CN00803: form-action source refused/g;
    is $refused, ($extra =~ /unsafe/ ? 4 : 0), '... and each refused source is logged';
}

# ---- the stylesheets ---------------------------------------------------------------------
my ($css_url) = $html =~ m{href="(/connect/assets/connect\.css\?v=[0-9a-f]{12})"};
my $css = browser()->get(base_url() . $css_url);
is $css->code, 200, 'connect.css is served';
like $css->header('Content-Type'), qr{^text/css; charset=utf-8}, '... as text/css';
like $css->header('Cache-Control'), qr{\bpublic, max-age=31536000, immutable\b}, '... cacheable for a year';
is $css->header('X-Content-Type-Options'), 'nosniff', '... nosniff';
open my $fh, '<', "$templates/connect.css" or die "$templates/connect.css: $!";
my $file = do { local $/; <$fh> };
is $css->content, $file, '... the file next to the templates';
is browser()->get(url('/assets/connect.css'))->code, 200, '... also without its version';
$head = browser()->request(HTTP::Request->new(HEAD => base_url() . $css_url));
is $head->code, 200, 'HEAD of connect.css: 200';
is $head->content, '', '... no body';
for my $path ('/assets/none.css', '/assets/CONNECT.CSS', '/assets/connect.css.bak', '/assets/theme-000000000000.css') {
    my $r = browser()->get(url($path));
    is $r->code, 404, "GET $path: 404";
    like $r->header('Content-Type') // '', qr{^text/html}, '... a page';
}

# ---- start-up: templates and application options -----------------------------------------
SKIP: {
    skip 'start-up cases run their own httpd on SQLite; they run in the sqlite pass', 1
        if db_driver() ne 'sqlite3';

    # refuses($name, \%conf_options, qr/the line/)
    my $refuses = sub {
        my ($name, $conf, $re) = @_;
        my $h = CnTest::Httpd->new;
        $h->write_conf(%$conf);
        my $started = $h->start;
        ok !$started, "$name: refused";
        ok $h->gone, "$name: no process left";
        is scalar(my @l = $h->lines_matching($re)), 1, "$name: one line says why" or diag $h->output;
        $h->stop if $started;
    };
    # A copy of the templates to break.
    my $h0 = CnTest::Httpd->new;
    my $copy = sub {
        my ($name, %change) = @_;
        my $dir = $h0->path($name);
        File::Path::make_path($dir);
        for my $f (qw(error.html imap.html choose.html connect.html connect.css)) {
            next if exists $change{$f} && !defined $change{$f};
            open my $in, '<', "$templates/$f" or die "$templates/$f: $!";
            my $text = do { local $/; <$in> };
            $text = $change{$f}->($text) if $change{$f};
            open my $out, '>', "$dir/$f" or die "$dir/$f: $!";
            print $out $text;
            close $out;
        }
        return $dir;
    };
    my $missing = $h0->path('no-such-dir');
    my $no_choose = $copy->('no-choose', 'choose.html' => undef);
    my $no_css = $copy->('no-css', 'connect.css' => undef);
    my $no_connect = $copy->('no-connect', 'connect.html' => undef);
    my $broken = $copy->('broken', 'imap.html' => sub { my $t = shift; $t =~ s/\{\{\/error\.on\.email\}\}//; $t });
    my $triple = $copy->('triple', 'error.html' => sub { my $t = shift; $t =~ s/\{\{message\}\}/{{{message}}}/; $t });
    my $line = do {
        open my $f, '<', "$triple/error.html" or die "$triple/error.html: $!";
        my @lines = <$f>;
        (grep { $lines[$_] =~ /\{\{\{message\}\}\}/ } 0 .. $#lines)[0] + 1;
    };
    my @app = ('app', 'file:' . $h0->path('app.secret'));
    for my $c (
        ['ConnectTemplateDir missing', { templates => $missing },
         qr/ConnectTemplateDir: \Q$missing\E is not a directory$/],
        ['choose.html missing', { templates => $no_choose },
         qr/ConnectTemplateDir: \Q$no_choose\E\/choose\.html: cannot open/],
        ['connect.html missing', { templates => $no_connect },
         qr/ConnectTemplateDir: \Q$no_connect\E\/connect\.html: cannot open/],
        ['connect.css missing', { templates => $no_css },
         qr/ConnectTemplateDir: \Q$no_css\E\/connect\.css: cannot open/],
        ['imap.html with an unclosed section', { templates => $broken },
         qr/ConnectTemplateDir: \Q$broken\E\/imap\.html:\d+: \{\{#error\.on\.email\}\} is never closed/],
        ['error.html with unescaped output', { templates => $triple },
         qr/ConnectTemplateDir: \Q$triple\E\/error\.html:$line: unescaped output/],
        ['application option unknown', { apps => [[@app, 'colour=#ffffff']] },
         qr/ConnectApplication: app: unknown option 'colour' \(name, logo, color, three_legged, webhook_url, webhook_secret\)/],
        ['application color not #rrggbb', { apps => [[@app, 'color=red']] },
         qr/ConnectApplication: app: color= must be a colour #rrggbb, got 'red'/],
        ['application color #fff', { apps => [[@app, 'color=#fff']] },
         qr/ConnectApplication: app: color= must be a colour #rrggbb/],
        ['application logo over http', { apps => [[@app, 'logo=http://logo.example/l.png']] },
         qr/ConnectApplication: app: logo= must be an https URL/],
        ['application logo with a quote', { apps => [[@app, q{logo=https://logo.example/l.png'x}]] },
         qr/ConnectApplication: app: logo= must be an https URL/],
        ['application logo with a user', { apps => [[@app, 'logo=https://me@logo.example/l.png']] },
         qr/ConnectApplication: app: logo= must be an https URL/],
        ['application logo not a URL', { apps => [[@app, 'logo=logo.png']] },
         qr/ConnectApplication: app: logo= must be an https URL/],
        ['application name empty', { apps => [[@app, 'name=']] },
         qr/ConnectApplication: app: name= must be 1 to 100 bytes of UTF-8 text/],
        ['application name too long', { apps => [[@app, 'name=' . ('n' x 101)]] },
         qr/ConnectApplication: app: name= must be 1 to 100 bytes/],
        ['application name not UTF-8', { apps => [[@app, "name=caf\xe9"]] },
         qr/ConnectApplication: app: name= must be 1 to 100 bytes of UTF-8 text/],
        ['application three_legged=maybe', { apps => [[@app, 'three_legged=maybe']] },
         qr/ConnectApplication: app: three_legged= must be on or off, got 'maybe'/],
    ) {
        $refuses->(@$c);
    }

    # A template directory of one's own: the page is the operator's.
    my $own = $copy->('own', 'error.html' => sub { my $t = shift; $t =~ s{<h1>}{<h1 class="ours">Acme: }; $t });
    my $h = CnTest::Httpd->new;
    $h->write_conf(templates => $own, apps => [[@app, '"name=Acme Mail"', 'color=#123456']]);
    ok $h->start, 'ConnectTemplateDir of its own: starts' or diag $h->output;
    my $r = browser()->get($h->base_url . '/connect/login?id=' . ('B' x 43));
    is $r->code, 400, '... an error page';
    like $r->content, qr{<h1 class="ours">Acme: This sign-in link cannot be used</h1>}, '... from its templates';
    like $h->output, qr/CN00802: ConnectTemplateDir: the pages' templates are in \Q$own\E/,
        '... and the log says where they are';
    $r = browser()->get($h->base_url . '/connect/preview/imap');
    is $r->code, 404, 'ConnectTemplatePreview is off by default: no preview';
    like $r->content, qr{<code>not_found_error</code>}, '... a not-found page';
    $h->stop;

    # No ConnectTemplateDir: the templates next to the module (build/templates).
    my $next_to = File::Spec->catdir((File::Spec->splitpath(conf_value('cn_module')))[1], 'templates');
    SKIP: {
        skip "no templates next to the module ($next_to)", 3 unless -d $next_to;
        $h = CnTest::Httpd->new;
        $h->write_conf(templates => undef);
        ok $h->start, 'no ConnectTemplateDir: starts with the templates next to the module' or diag $h->output;
        like $h->output, qr/CN00802: ConnectTemplateDir: the pages' templates are in \Q$next_to\E/,
            '... which the log names';
        like browser()->get($h->base_url . '/connect/login?id=' . ('B' x 43))->content,
            qr{<h1>This sign-in link cannot be used</h1>}, '... and renders';
        $h->stop;
    }
}

done_testing;
