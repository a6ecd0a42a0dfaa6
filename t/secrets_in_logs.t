# Nothing secret reaches a log: not in the error log (JSON parse errors are
# logged by position, never with the input) and not in the access log (the
# shipped format has no query string, where login ids, codes and states
# travel). Both logs are read after hosted flows, native authentication and
# malformed bodies carrying secrets.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;

reset_db();
my $err_at = error_log_offset();
my $acc_at = access_log_offset();
is make_integration('google')->code, 201, 'google integration';
is make_integration('microsoft')->code, 201, 'microsoft integration';

my @secrets;    # [what, value]

# Malformed JSON around secrets: the answer and the log say where, not what.
for my $c (['an unquoted value', '{"settings":{"refresh_token": %s}}'],
           ['text after the document', '{"provider":"google"} %s'],
           ['a bad escape inside a string', '{"refresh_token":"%s\\q"}'],
           ['an unterminated string', '{"refresh_token":"%s']) {
    my $s = secret_token('SECRETWORD');
    push @secrets, ["the secret in $c->[0]", $s];
    my $r = api(POST => '/grants', undef, raw => sprintf($c->[1], $s));
    is $r->code, 400, "$c->[0]: 400";
    is $r->{json}{error}{type}, 'invalid_request_payload', '... invalid_request_payload';
    like $r->{json}{error}{message}, qr/line \d+, column \d+/, '... the message says where';
    ok index($r->content, $s) < 0, '... and does not quote the input';
}

# Hosted flows: login ids, provider codes, states, tokens.
for my $p (qw(google microsoft)) {
    my $f = hosted_flow(provider => $p, login_hint => "logs.$p\@example.com",
                        state => secret_token('appstate'), cookie_nonce => undef);
    is $f->result->{success}, 'true', "a $p sign-in";
    push @secrets, ["the $p login id", $f->{id}], ["the $p provider code", $f->{code}],
                   ["the $p flow state", $f->{authorize_query}{state}],
                   ["the $p PKCE challenge", $f->{authorize_query}{code_challenge}];
}
# A refused callback still carries a code in its query.
my $f = CnTest::Flow->new(provider => 'google', login_hint => 'refused@example.com');
$f->auth && $f->login && $f->authorize;
my $forged = $f->{callback_url};
$forged =~ s/state=[^&]+/state=forged/;
$f->callback(url => $forged);
push @secrets, ['a refused callback\'s code', $f->{code}], ['an unused login id', $f->{id}];

# Native authentication with a refresh token.
my ($seed) = grep { $_->[0] eq 'google' } seeded_tokens();
my $r = api(POST => '/grants', { provider => 'google', settings => { refresh_token => $seed->[1] } });
ok $r->code == 201 || $r->code == 200, 'native authentication';
push @secrets, ['a native refresh token', $seed->[1]];
push @secrets, map { ["a token the fake issued ($_->{kind})", $_->{value}] } fake_issued();
push @secrets, ['the Google client secret', 'test-google-secret'],
               ['the Microsoft client secret', 'test-ms-secret'],
               ['the application secret', (app_creds('one'))[1]];

my $errors = error_log_since($err_at);
my $access = access_log_since($acc_at);
ok length($errors) > 0 && length($access) > 0, 'both logs were written';
my @in_error = grep { index($errors, $_->[1]) >= 0 } @secrets;
is_deeply [map { $_->[0] } @in_error], [], 'no secret in the error log (' . scalar(@secrets) . ' checked)';
my @in_access = grep { index($access, $_->[1]) >= 0 } @secrets;
is_deeply [map { $_->[0] } @in_access], [], 'no secret in the access log';
like $errors, qr/CN00101: POST \/grants -> 400 invalid_request_payload \(700\): the body is not JSON: invalid syntax at line 1, column \d+/,
    'the error log names the JSON error by position';

my @requests = $access =~ m{"([A-Z]+ /\S* HTTP/[\d.]+)"}g;
ok scalar(@requests) > 10, scalar(@requests) . ' requests in the access log';
is_deeply [grep { /\?/ } @requests], [], 'no access log line has a query string';
ok scalar(grep { m{^GET /connect/callback } } @requests), 'the callbacks are there, by path';

done_testing;
