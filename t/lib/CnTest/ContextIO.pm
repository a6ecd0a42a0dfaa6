package CnTest::ContextIO;
# Signed calls of the Context.IO 2.0 API (mounted at /2.0 by t/conf/extra.conf.in),
# each signed by one of two independent OAuth 1.0a implementations:
#
#   use CnTest::ContextIO;
#   plan skip_all => cio_missing() if cio_missing();
#   my $r = cio(perl => GET => '/connect_tokens');                # Net::OAuth, header
#   $r = cio(node => POST => '/connect_tokens', {callback_url => $cb}, mode => 'query');
#   $r->{json}; $r->code; $r->header('WWW-Authenticate')
#
# Options: app => 'one'|'two'|'three' (the consumer), secret => another consumer
# secret, token => [access_token, secret] (3-legged), mode => 'header' (default),
# 'header-nospace' (no space after the commas), 'realm' (header with a realm),
# 'query' (oauth_* in the query string, the parameters in the query (GET,
# DELETE) or the form (POST)), 'form' (everything in the form body), 'php'
# (the PHP client's POST: every parameter in the query string, the request's
# parameters in the form as well); timestamp, nonce; method_signed and
# path_signed (sign something else than what is sent); tamper => sub
# { my ($oauth_params) = @_; ... } (change the oauth_* parameters after
# signing); raw => 1 (return the request without sending it).
use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use File::Spec ();
use HTTP::Request ();
use URI::Escape qw(uri_escape_utf8);
use CnTest ();

our @EXPORT = qw(cio cio_missing cio_url cio_send);

sub cio_missing {
    eval { require Net::OAuth; 1 } or return 'Net::OAuth is missing (make deps: libnet-oauth-perl)';
    my $mod = File::Spec->catdir(CnTest::t_dir(), 'cio', 'node_modules', 'oauth-1.0a');
    return "$mod is missing (make deps: npm ci in t/cio)" unless -d $mod;
    return 'node is missing (make deps)' unless grep { -x "$_/node" } split /:/, $ENV{PATH};
    return '';
}

sub cio_url { CnTest::base_url() . '/2.0' . (defined $_[0] ? $_[0] : '') }

# The URL of PATH at ORIGIN (another server's scheme://host:port), or at the
# test server's.
sub _url_at {
    my ($origin, $path) = @_;
    return cio_url($path) unless defined $origin;
    return $origin . '/2.0' . (defined $path ? $path : '');
}

# RFC 3986 percent-encoding, as both signers do it.
sub _enc { uri_escape_utf8(defined $_[0] ? $_[0] : '', '^A-Za-z0-9\-._~') }

sub _pairs {
    my $h = shift;
    return join '&', map { _enc($_) . '=' . _enc($h->{$_}) } sort keys %$h;
}

my $NONCES = 0;

# The oauth_* parameters (signature included) of METHOD URL with PARAMS.
sub _sign_perl {
    my ($o) = @_;
    require Net::OAuth;
    local $Net::OAuth::PROTOCOL_VERSION = Net::OAuth::PROTOCOL_VERSION_1_0A();
    my %common = (
        consumer_key     => $o->{key},
        consumer_secret  => $o->{secret},
        request_url      => $o->{url},
        request_method   => $o->{method},
        signature_method => 'HMAC-SHA1',
        timestamp        => $o->{timestamp},
        nonce            => $o->{nonce},
        version          => '1.0',
        extra_params     => { %{ $o->{data} } },
    );
    my $req = $o->{token}
        ? Net::OAuth->request('protected resource')->new(%common, token => $o->{token},
                                                         token_secret => $o->{token_secret})
        : Net::OAuth->request('consumer')->new(%common);
    $req->sign;
    my %all = %{ $req->to_hash };
    return { map { $_ => $all{$_} } grep { /^oauth_/ } keys %all };
}

sub _sign_node {
    my ($o) = @_;
    my %in = (key => $o->{key}, secret => $o->{secret}, method => $o->{method},
              url => $o->{url}, data => $o->{data}, timestamp => $o->{timestamp} + 0,
              nonce => $o->{nonce});
    if ($o->{token}) {
        $in{token} = $o->{token};
        $in{token_secret} = $o->{token_secret};
    }
    my $script = File::Spec->catfile(CnTest::t_dir(), 'cio', 'sign.js');
    open my $fh, '-|', 'node', $script, CnTest::json_encode(\%in) or croak "node: $!";
    local $/;
    my $out = <$fh>;
    close $fh or croak "node $script failed";
    return CnTest::json_decode($out)->{oauth};
}

# The Authorization header of OAUTH (a hash of oauth_* parameters).
sub _header {
    my ($oauth, $sep, $realm) = @_;
    my @p = map { _enc($_) . '="' . _enc($oauth->{$_}) . '"' } sort keys %$oauth;
    unshift @p, 'realm="' . $realm . '"' if defined $realm;
    return 'OAuth ' . join($sep, @p);
}

sub cio {
    my ($signer, $method, $path, $params, %opt) = @_;
    croak 'cio: signer perl or node' unless $signer && $signer =~ /^(perl|node)$/;
    $params ||= {};
    my ($key, $secret) = CnTest::app_creds($opt{app} || 'one');
    $secret = $opt{secret} if defined $opt{secret};
    my $mode = $opt{mode} || 'header';
    my %o = (
        key       => $key,
        secret    => $secret,
        method    => uc($opt{method_signed} || $method),
        url       => _url_at($opt{origin}, defined $opt{path_signed} ? $opt{path_signed} : $path),
        data      => $params,
        timestamp => defined $opt{timestamp} ? $opt{timestamp} : time,
        nonce     => defined $opt{nonce} ? $opt{nonce} : sprintf('n%d-%d-%d', $$, time, ++$NONCES),
    );
    if ($opt{token}) {
        ($o{token}, $o{token_secret}) = @{ $opt{token} };
    }
    my $oauth = $signer eq 'perl' ? _sign_perl(\%o) : _sign_node(\%o);
    $opt{tamper}->($oauth) if $opt{tamper};

    my $url = _url_at($opt{origin}, $path);
    my $is_post = uc $method eq 'POST';
    my ($query, $form, $auth) = ('', undef, undef);
    if ($mode =~ /^(header|header-nospace|realm)$/) {
        $auth = _header($oauth, $mode eq 'header-nospace' ? ',' : ', ',
                        $mode eq 'realm' ? 'Context.IO' : undef);
        if ($is_post) { $form = _pairs($params) } else { $query = _pairs($params) }
    }
    elsif ($mode eq 'query') {
        if ($is_post) { $query = _pairs($oauth); $form = _pairs($params) }
        else { $query = _pairs({ %$params, %$oauth }) }
    }
    elsif ($mode eq 'form') {
        $form = _pairs({ %$params, %$oauth });
    }
    elsif ($mode eq 'php') {
        $query = _pairs({ %$params, %$oauth });
        $form = _pairs($params);
    }
    else {
        croak "cio: unknown mode $mode";
    }
    $url .= "?$query" if length $query;
    my $req = HTTP::Request->new(uc $method => $url);
    $req->header(Authorization => $auth) if defined $auth;
    if (defined $form) {
        $req->header('Content-Type' => 'application/x-www-form-urlencoded');
        $req->content($form);
        $req->header('Content-Length' => length $form);
    }
    elsif ($is_post) {
        $req->header('Content-Length' => 0);
    }
    while (my ($k, $v) = each %{ $opt{headers} || {} }) {
        if (defined $v) { $req->header($k => $v) } else { $req->remove_header($k) }
    }
    return $req if $opt{raw};
    return cio_send($req);
}

# Send a request (one of cio(..., raw => 1)); the answer with ->{json}.
sub cio_send {
    my $req = shift;
    my $res = CnTest::ua()->request($req);
    $res->{json} = CnTest::json_decode($res->content);
    return $res;
}

1;
