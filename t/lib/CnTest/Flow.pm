package CnTest::Flow;
# The hosted OAuth dance of mod_connect against the fake providers
# (t/fake/fake_provider.py, started by scripts/test.sh or t/TEST.PL), hop by
# hop, as a browser with a cookie jar would do it, plus helpers around the
# fake (what it received, what it issued, its seeded refresh tokens).
#
#   use CnTest::Flow;
#   make_integration('google');                        # app one, the fake's client
#   my $f = hosted_flow(provider => 'google', login_hint => 'ann@example.com',
#                       state => 'xyz');
#   is $f->{result}{success}, 'true';                  # the app redirect's query
#   $f->{auth}, $f->{login}, $f->{authorize}, $f->{callback}   # HTTP::Responses
#   $f->{authorize_query}{code_challenge}              # what /login sent the browser to
#
#   # or step by step, to break one hop:
#   my $f = CnTest::Flow->new(provider => 'google', login_hint => 'x@example.com');
#   $f->auth; $f->login; $f->authorize; $f->callback(url => $forged);
#
# Options of new()/hosted_flow(): provider (google), app ('one' | 'two'),
# login_hint, state, scope, grant_id, expires_in, cookie_nonce,
# redirect_uri (default app_redirect_uri(app)), body (extra /auth fields),
# browser (an LWP::UserAgent with a cookie jar; default a fresh one),
# base (the origin POST /auth goes to; default the test server).
# A hop that does not answer as the next one needs sets ->{error} and the
# later hops are skipped (their responses stay 599 "not reached").
use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use URI ();
use URI::QueryParam ();
use HTTP::Cookies ();
use HTTP::Request ();
use HTTP::Response ();
use LWP::UserAgent ();
use Digest::SHA ();
use CnTest qw(:all);

our @EXPORT = qw(hosted_flow make_integration app_redirect_uri browser fake_url fake_ua
                 fake_log fake_issued fake_seed seeded_tokens query_of fake_client
                 google_user_id microsoft_user_id microsoft_tenant_id page_header_problems error_page_problems
                 grant_keys);

# The client credentials the fake accepts.
my %CLIENT = (google    => ['test-google-client', 'test-google-secret'],
              microsoft => ['test-ms-client', 'test-ms-secret']);

sub fake_client { @{ $CLIENT{ $_[0] } or croak "fake_client: no provider $_[0]" } }

sub fake_port { conf_value('cn_fakeport') }
sub ca_file   { conf_value('cn_cafile') }
sub fake_url  { 'https://127.0.0.1:' . fake_port() . (defined $_[0] ? $_[0] : '') }

# The fake's accounts: a login_hint "email" or "who|email" (another account
# showing the same address). Its identity derives from who and the
# lowercased address (t/fake/fake_provider.py).
sub _account_key { my ($email, $who) = @_; ($who ? "$who|" : '') . lc $email }
# The provider_user_id the fake gives that account: Google's sub, Microsoft's oid.
sub google_user_id    { Digest::SHA::sha1_hex(_account_key(@_)) }
sub microsoft_user_id { 'ms-' . substr Digest::SHA::sha1_hex(_account_key(@_)), 0, 16 }
# The Microsoft tenant of an account (tid).
sub microsoft_tenant_id {
    my $who = shift;
    return '9188040d-6c67-4c5b-b112-36a304b66dad' unless $who;
    my $h = Digest::SHA::sha1_hex($who);
    return join '-', substr($h, 0, 8), substr($h, 8, 4), substr($h, 12, 4), substr($h, 16, 4), substr($h, 20, 12);
}

# The redirect URI an application registers (never contacted: the tests
# read the Location that points there).
sub app_redirect_uri {
    my $app = shift || 'one';
    $app =~ s/^app-//;
    return "https://app-$app.example/oauth/done";
}

my %UAS;

# An LWP client that trusts the fake's CA, follows no redirect.
sub fake_ua {
    return $UAS{$$} ||= LWP::UserAgent->new(
        timeout => 30, max_redirect => 0, keep_alive => 2, agent => 'cntest-fake/1',
        ssl_opts => { SSL_ca_file => ca_file(), verify_hostname => 1 });
}

# A browser: cookie jar, follows no redirect, trusts the fake's CA.
sub browser {
    my %o = @_;
    return LWP::UserAgent->new(
        timeout => 30, max_redirect => 0, keep_alive => 0,
        agent => $o{agent} || 'Mozilla/5.0 (cntest browser)',
        cookie_jar => HTTP::Cookies->new,
        ssl_opts => { SSL_ca_file => ca_file(), verify_hostname => 1 });
}

sub _fake_json {
    my $path = shift;
    my $res = fake_ua()->get(fake_url($path));
    croak "GET $path of the fake providers: " . $res->status_line unless $res->is_success;
    return json_decode($res->content);
}

# What the fake received: [{method, path, params}, ...], in order.
sub fake_log { _fake_json('/_log') }

# What the fake handed out: [{kind => code|access|refresh, value, email, provider}];
# filtered by email => (exact, as signed in) and kind => when given.
sub fake_issued {
    my %o = @_;
    my @all = @{ _fake_json('/_issued') };
    @all = grep { $_->{email} eq $o{email} } @all if defined $o{email};
    @all = grep { $_->{kind} eq $o{kind} } @all if defined $o{kind};
    return @all;
}

# Register a refresh token with the fake: fake_seed(provider, token, email).
sub fake_seed {
    my ($provider, $token, $email) = @_;
    my $res = fake_ua()->post(fake_url('/_seed'),
                              { provider => $provider, refresh_token => $token, email => $email });
    croak 'POST /_seed: ' . $res->status_line unless $res->is_success;
    return 1;
}

# The refresh tokens of the seed file: ([provider, token, email], ...).
sub seeded_tokens {
    my $file = conf_value('cn_fakeseed');
    return () unless $file && open my $fh, '<', $file;
    my @t;
    while (<$fh>) {
        next if /^\s*(#|$)/;
        my @f = split;
        push @t, [@f[0 .. 2]] if @f >= 3;
    }
    return @t;
}

# The query of a URL as a hashref (the last value of a repeated name).
sub query_of {
    my $u = shift;
    return {} unless defined $u;
    my $uri = URI->new($u);
    my %q;
    for my $k ($uri->query_param) { $q{$k} = ($uri->query_param($k))[-1] }
    return \%q;
}

my %DEFAULT_SCOPE = (google    => ['https://www.googleapis.com/auth/gmail.readonly'],
                     microsoft => ['https://graph.microsoft.com/Mail.Read']);

# POST /integrations for PROVIDER with the fake's client; returns the response.
#   app => 'one', scope => [...], tenant => '...', redirect_uris => [...],
#   expires_in => N, name => '...'
sub make_integration {
    my ($provider, %o) = @_;
    my ($id, $secret) = fake_client($provider);
    my %settings = (client_id => $id, client_secret => $secret);
    $settings{tenant} = $o{tenant} if defined $o{tenant};
    my $body = {
        name          => $o{name} || "fake $provider",
        provider      => $provider,
        settings      => \%settings,
        redirect_uris => $o{redirect_uris} || [app_redirect_uri($o{app})],
        scope         => exists $o{scope} ? $o{scope} : $DEFAULT_SCOPE{$provider},
    };
    $body->{expires_in} = $o{expires_in} if defined $o{expires_in};
    return api(POST => '/integrations', $body, app => $o{app} || 'one');
}

# The keys of a grant object in an answer.
sub grant_keys {
    return sort qw(id provider grant_status email scope user_agent ip state created_at updated_at
                   provider_user_id);
}

# What is wrong with the headers every page and redirect of the flow must
# carry (empty list: nothing).
sub page_header_problems {
    my $res = shift;
    my @p;
    my $csp = $res->header('Content-Security-Policy') // '';
    push @p, "Content-Security-Policy '$csp'"
        unless $csp =~ /default-src 'none'/ && $csp =~ /frame-ancestors 'none'/;
    my $xfo = $res->header('X-Frame-Options') // '';
    push @p, "X-Frame-Options '$xfo'" unless $xfo eq 'DENY';
    my $rp = $res->header('Referrer-Policy') // '';
    push @p, "Referrer-Policy '$rp'" unless $rp eq 'no-referrer';
    my $cc = join ', ', $res->header('Cache-Control');
    push @p, "Cache-Control '$cc'" unless $cc =~ /\bno-store\b/;
    return @p;
}

# What is wrong with RES as the HTML error page of TYPE (default
# login_id_invalid): 400, text/html, names the type, no redirect, the page headers.
sub error_page_problems {
    my ($res, $type) = @_;
    $type ||= 'login_id_invalid';
    my @p;
    push @p, 'status ' . $res->code unless $res->code == 400;
    my $ct = $res->header('Content-Type') // '';
    push @p, "Content-Type '$ct'" unless $ct =~ m{^text/html\b};
    push @p, "the page does not name $type" unless index($res->content, $type) >= 0;
    push @p, 'a Location header: ' . $res->header('Location') if defined $res->header('Location');
    push @p, page_header_problems($res);
    return @p;
}

sub new {
    my ($class, %o) = @_;
    my $self = bless { provider => 'google', app => 'one', %o }, $class;
    # A hop not (yet) made answers 599, so assertions on it fail instead of dying.
    $self->{$_} = HTTP::Response->new(599, "$_ not reached") for qw(auth login authorize callback);
    $self->{redirect_uri} = app_redirect_uri($self->{app}) unless exists $self->{redirect_uri};
    $self->{browser} ||= browser();
    return $self;
}

sub hosted_flow { CnTest::Flow->new(@_)->run }

sub run {
    my $self = shift;
    $self->auth && $self->login && $self->authorize && $self->callback;
    return $self;
}

sub _fail {
    my ($self, $hop, $res, $why) = @_;
    $self->{error} ||= "$hop: $why (" . ($res ? $res->status_line : 'no answer') . ')';
    return 0;
}

sub browser_get {
    my ($self, $url) = @_;
    return $self->{browser}->request(HTTP::Request->new(GET => $url));
}

# POST /auth. Sets ->{auth}, ->{id}, ->{login_url}.
sub auth {
    my $self = shift;
    my %body;
    $body{provider} = $self->{provider} if defined $self->{provider};
    $body{redirect_uri} = $self->{redirect_uri} if defined $self->{redirect_uri};
    for my $k (qw(scope state login_hint grant_id expires_in cookie_nonce)) {
        $body{$k} = $self->{$k} if defined $self->{$k};
    }
    %body = (%body, %{ $self->{body} || {} });
    my $res = $self->{auth} = api(POST => '/auth', \%body, app => $self->{app},
                                  ($self->{base} ? (base => $self->{base}) : ()));
    my $d = $res->{json} && $res->{json}{data};
    return $self->_fail('POST /auth', $res, 'no login url') unless $res->code == 200 && $d && $d->{url};
    $self->{id} = $d->{id};
    $self->{login_url} = $d->{url};
    return 1;
}

# GET /login?id= in the browser. Sets ->{login}, ->{authorize_url}, ->{authorize_query}.
sub login {
    my ($self, %o) = @_;
    my $res = $self->{login} = $self->browser_get($o{url} || $self->{login_url});
    my $loc = $res->header('Location');
    return $self->_fail('GET /login', $res, 'no redirect to the provider')
        unless $res->code == 302 && $loc && index($loc, fake_url('/')) == 0;
    $self->{authorize_url} = $loc;
    $self->{authorize_query} = query_of($loc);
    return 1;
}

# The provider's authorize page (auto-consent). Sets ->{authorize},
# ->{callback_url}, ->{code}.
sub authorize {
    my ($self, %o) = @_;
    my $res = $self->{authorize} = $self->browser_get($o{url} || $self->{authorize_url});
    my $loc = $res->header('Location');
    return $self->_fail('provider authorize', $res, 'no redirect back')
        unless $res->code == 302 && $loc;
    $self->{callback_url} = $loc;
    $self->{callback_query} = query_of($loc);
    $self->{code} = $self->{callback_query}{code};
    return 1;
}

# GET /callback in the browser (url => another URL). Sets ->{callback},
# ->{final_url} and ->{result} (the query of the redirect to the application).
sub callback {
    my ($self, %o) = @_;
    my $res = $self->{callback} = $self->browser_get($o{url} || $self->{callback_url});
    my $loc = $res->header('Location');
    return $self->_fail('GET /callback', $res, 'no redirect to the application')
        unless $res->code == 302 && $loc;
    $self->{final_url} = $loc;
    $self->{result} = query_of($loc);
    return 1;
}

# The grant id of a successful flow (undef otherwise).
sub grant_id { $_[0]{result} ? $_[0]{result}{grant_id} : undef }
sub result { $_[0]{result} || {} }

# The session cookie in the browser's jar (its raw value), or undef.
sub session_cookie {
    my $self = shift;
    my $v;
    $self->{browser}->cookie_jar->scan(sub { $v = $_[2] if $_[1] eq 'connect_session' });
    return $v;
}

1;
