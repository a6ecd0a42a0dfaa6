# The hosted flow's session cookie with and without mod_session_crypto (the
# pass sqlite-crypto of scripts/test.sh turns it on): the module seals every
# connect-* value itself, so the state and the PKCE verifier never show in
# the cookie either way, and the flow completes the same.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use URI::Escape ();
use CnTest qw(:all);
use CnTest::Flow;

my $crypto = conf_value('cn_sessioncrypto') ? 1 : 0;
diag $crypto ? 'with mod_session_crypto' : 'without mod_session_crypto (as shipped)';

reset_db();
is make_integration('google')->code, 201, 'google integration';

my $f = CnTest::Flow->new(provider => 'google', login_hint => 'cookie@example.com', state => 'ck');
ok $f->auth && $f->login, 'POST /auth, GET /login' or diag $f->{error};
my $cookie = $f->session_cookie // '';
ok length $cookie, 'GET /login set the session cookie';
my $state = $f->{authorize_query}{state} // '';
ok length $state >= 22, 'the state sent to the provider';
my $challenge = $f->{authorize_query}{code_challenge} // '';
my $plain = URI::Escape::uri_unescape($cookie);
is index($plain, $state), -1, 'the state is not readable in the cookie';
is index($plain, $challenge), -1, 'neither is anything derived from the verifier';

if ($crypto) {
    unlike $plain, qr/connect-/, 'mod_session_crypto: the whole cookie is encrypted (no key names)';
}
else {
    my %v = map { split /=/, $_, 2 } grep { /=/ } split /&/, $cookie;
    my @keys = sort grep { /^connect-/ } keys %v;
    ok @keys == 1 && $keys[0] =~ /\Aconnect-flow-[0-9a-f]{8}\z/,
        'without mod_session_crypto: mod_session\'s own encoding, one connect-flow-* key in clear'
        or diag "@keys";
    is scalar(grep { URI::Escape::uri_unescape($v{$_}) !~ /\Acn1\.[0-9a-f]{8}\./ } @keys), 0,
        '... each value sealed by the module (cn1.<key id>.)';
}

ok $f->authorize && $f->callback, 'the provider, the callback' or diag $f->{error};
is $f->result->{success}, 'true', 'the flow completes: success=true';
ok $f->grant_id, '... with a grant';

done_testing;
