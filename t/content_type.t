# JSON routes take only application/json bodies: a cross-site form (which
# can send text/plain, form-urlencoded or multipart without a preflight,
# with Basic credentials the browser remembered) cannot drive the API.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;

reset_db();
my $body = json_encode(google_integration());
sub count { scalar(my @r = db_rows($_[0])) }

for my $ct ('text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x', 'application/jsonp', 'application/json-seq',
            'text/json', undef) {
    my $label = defined $ct ? $ct : 'no Content-Type';
    my $r = api(POST => '/integrations', undef, raw => $body, headers => { 'Content-Type' => $ct });
    is $r->code, 415, "POST /integrations with $label: 415";
    is $r->{json}{error}{type}, 'unsupported_media_type', '... unsupported_media_type';
    is $r->{json}{error}{event_code}, 415, '... event code 415';
    is $r->{json}{success}, JSON::false(), '... in the envelope';
}
is count('integrations'), 0, 'nothing was created';

for my $ct ('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON',
            'application/json ; charset=UTF-8') {
    reset_db();
    my $r = api(POST => '/integrations', undef, raw => $body, headers => { 'Content-Type' => $ct });
    is $r->code, 201, "POST /integrations with $ct: 201";
}

# Every JSON route refuses it, before anything changes.
reset_db();
is make_integration('google')->code, 201, 'an integration to work on';
my $f = hosted_flow(provider => 'google', login_hint => 'ct@example.com');
my $grant = $f->grant_id;
ok $grant, 'and a grant';
my $text = { 'Content-Type' => 'text/plain' };
for my $c ([PATCH => '/integrations/google', '{"name":"changed"}'],
           [POST => '/integrations/google/creds', '{"name":"c","credential_type":"integration","credential_data":{"client_id":"a","client_secret":"b"}}'],
           [POST => '/auth', json_encode({ provider => 'google', redirect_uri => app_redirect_uri('one') })],
           [POST => '/grants', '{"provider":"google","settings":{"refresh_token":"x"}}'],
           [PATCH => "/grants/$grant", '{"settings":{"note":"x"}}']) {
    my ($m, $p, $b) = @$c;
    my $r = api($m => $p, undef, raw => $b, headers => $text);
    is $r->code, 415, "$m $p with text/plain: 415";
}
my $r = api(GET => '/integrations/google');
is $r->{json}{data}{name}, 'fake google', 'the integration is unchanged';
is count('credentials'), 0, 'no credential';
is count('login_requests'), 1, 'no login request beyond the flow\'s';
is count('grants'), 1, 'one grant';

# A body-less POST is still a 400 about the missing body, not a 415.
$r = api(POST => '/auth', undef, headers => { 'Content-Type' => undef, 'Content-Length' => 0 });
is $r->code, 400, 'POST /auth without a body: 400';
is $r->{json}{error}{type}, 'invalid_request_payload', '... invalid_request_payload';

done_testing;
