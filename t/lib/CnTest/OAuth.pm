package CnTest::OAuth;
# The OAuth 2.0 server of mod_connect as an application uses it: GET /auth in
# a browser (through the fake provider's consent and /callback back to the
# application's redirect URI), then POST /token, /revoke, /grants/me and
# /tokeninfo.
#
#   use CnTest::OAuth;
#   my $v = pkce_verifier();                       # 64 unreserved characters
#   my $a = authorize(login_hint => 'ann@example.com', state => 's1',
#                     code_challenge => pkce_s256($v), code_challenge_method => 'S256');
#   $a->{code}, $a->{result}                      # the application's redirect, as a query hash
#   my $r = token(grant_type => 'authorization_code', code => $a->{code},
#                 redirect_uri => app_redirect_uri(), client_id => 'app-one', code_verifier => $v);
#   $r->code, $r->{json}{access_token}
#   token(..., _basic => 'one')                    # HTTP Basic instead of body credentials
#   token(..., _json => 1)                         # a JSON body instead of a form
#
# authorize() options: app ('one'), provider ('google'), redirect_uri
# (app_redirect_uri(app)), client_id (the app's), response_type ('code'),
# and any other query parameter (scope, state, nonce, login_hint,
# access_type, code_challenge, code_challenge_method, expires_in, prompt);
# a value undef leaves the parameter out; query => 'raw' appends raw text;
# browser => a browser of CnTest::Flow. Its result: auth (the GET /auth
# response), authorize, callback (the next hops, 599 when not reached),
# result (the query of the final redirect to the application), code, error.
use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use URI ();
use Digest::SHA ();
use MIME::Base64 ();
use HTTP::Request ();
use HTTP::Request::Common ();
use HTTP::Response ();
use CnTest qw(:all);
use CnTest::Flow;

our @EXPORT = qw(authorize authorize_url token revoke pkce_verifier pkce_s256 pkce_s256_hex
                 grant_me tokeninfo app_code token_digest);

# A verifier of N (64) unreserved characters.
sub pkce_verifier {
    my $n = shift || 64;
    my @c = ('A' .. 'Z', 'a' .. 'z', 0 .. 9, '-', '.', '_', '~');
    open my $fh, '<:raw', '/dev/urandom' or croak "/dev/urandom: $!";
    my $buf = '';
    read($fh, $buf, $n) == $n or croak "/dev/urandom: short read";
    return join '', map { $c[ord($_) % @c] } split //, $buf;
}

# RFC 7636's S256 challenge: base64url(SHA-256(verifier)), unpadded.
sub pkce_s256 {
    my $b = MIME::Base64::encode_base64(Digest::SHA::sha256(shift), '');
    $b =~ tr{+/}{-_};
    $b =~ s/=+\z//;
    return $b;
}

# The form of seed 004 and the Nylas SDKs: base64(hex SHA-256(verifier)), unpadded.
sub pkce_s256_hex {
    my $b = MIME::Base64::encode_base64(Digest::SHA::sha256_hex(shift), '');
    $b =~ s/=+\z//;
    return $b;
}

# The stored form of a code or token.
sub token_digest { Digest::SHA::sha256_hex(shift) }

sub authorize_url {
    my %o = @_;
    my $app = $o{app} || 'one';
    my ($client_id) = app_creds($app);
    my %q = (client_id => $client_id, provider => 'google', redirect_uri => app_redirect_uri($app),
             response_type => 'code');
    for my $k (keys %o) {
        next if $k =~ /^(app|browser|query)$/;
        if (defined $o{$k}) { $q{$k} = $o{$k} } else { delete $q{$k} }
    }
    my $u = URI->new(url('/auth'));
    $u->query_form(map { $_ => $q{$_} } sort keys %q);
    my $s = "$u";
    $s .= ($s =~ /\?/ ? '&' : '?') . $o{query} if defined $o{query};
    return $s;
}

sub authorize {
    my %o = @_;
    my $b = $o{browser} || browser();
    my $self = { browser => $b };
    $self->{$_} = HTTP::Response->new(599, "$_ not reached") for qw(auth authorize callback);
    my $res = $self->{auth} = $b->request(HTTP::Request->new(GET => authorize_url(%o)));
    my $loc = $res->header('Location') // '';
    my $app_uri = $o{redirect_uri} // app_redirect_uri($o{app} || 'one');
    if ($res->code == 302 && index($loc, fake_url('/')) == 0) {
        $self->{authorize_query} = query_of($loc);
        $res = $self->{authorize} = $b->request(HTTP::Request->new(GET => $loc));
        $loc = $res->header('Location') // '';
        if ($res->code == 302 && index($loc, url('/callback')) == 0) {
            $res = $self->{callback} = $b->request(HTTP::Request->new(GET => $loc));
            $loc = $res->header('Location') // '';
        }
    }
    if ($res->code == 302 && index($loc, $app_uri) == 0) {
        $self->{final_url} = $loc;
        $self->{result} = query_of($loc);
        $self->{code} = $self->{result}{code};
    }
    else {
        $self->{error} = 'no redirect to the application: ' . $res->status_line;
    }
    return $self;
}

# A code of APP for the fake user HINT: (code, the authorize result).
sub app_code {
    my %o = @_;
    my $a = authorize(login_hint => 'user@example.com', state => 'st', %o);
    croak 'app_code: ' . ($a->{error} // 'no code') . ' ' . ($a->{final_url} // '') unless $a->{code};
    return wantarray ? ($a->{code}, $a) : $a->{code};
}

sub _client_request {
    my ($method, $path, %p) = @_;
    my $basic = delete $p{_basic};
    my $json = delete $p{_json};
    my $raw = delete $p{_raw};
    my $ctype = delete $p{_content_type};
    my $query = delete $p{_query};
    my %headers = %{ delete $p{_headers} || {} };
    my $u = url($path) . (defined $query ? "?$query" : '');
    my $req = HTTP::Request->new($method => $u);
    if (defined $raw) {
        $req->content($raw);
        $req->header('Content-Type' => $ctype // 'application/x-www-form-urlencoded');
    }
    elsif ($json) {
        $req->content(json_encode(\%p));
        $req->header('Content-Type' => $ctype // 'application/json');
    }
    elsif (%p) {
        my $form = HTTP::Request::Common::POST('http://x/', [map { $_ => $p{$_} } sort keys %p]);
        $req->content($form->content);
        $req->header('Content-Type' => $ctype // 'application/x-www-form-urlencoded');
    }
    $req->header('Content-Length' => length($req->content // ''));
    if (defined $basic) {
        my ($id, $secret) = ref $basic eq 'ARRAY' ? @$basic : app_creds($basic);
        $req->authorization_basic($id, $secret);
    }
    $req->header($_ => $headers{$_}) for keys %headers;
    my $res = CnTest::ua()->request($req);
    $res->{json} = json_decode($res->content);
    return $res;
}

# POST /token with parameters (form by default; _json => 1, _basic => app
# or [id, secret], _raw => body, _content_type => type).
sub token { _client_request(POST => '/token', @_) }

# POST /revoke (the same options; _query => 'token=...').
sub revoke { _client_request(POST => '/revoke', @_) }

# GET /grants/me with a bearer token (undef: no Authorization header).
sub grant_me {
    my $token = shift;
    return api(GET => '/grants/me', undef, app => undef,
               headers => { defined $token ? (Authorization => "Bearer $token") : () });
}

# GET /tokeninfo?QUERY as application APP (one).
sub tokeninfo {
    my ($query, %o) = @_;
    return api(GET => '/tokeninfo', undef, query => $query, app => exists $o{app} ? $o{app} : 'one');
}

1;
