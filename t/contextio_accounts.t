# Accounts and sources of the Context.IO 2.0 API, views over the grants of
# one application. POST /accounts with IMAP settings is proven by a LOGIN at
# the real Dovecot (a wrong password stores nothing), with a provider refresh
# token by a refresh at the fake Google; a source is a grant, so deleting the
# grant through the Unified Auth API removes the source and the reverse;
# account-scoped connect tokens; an account deleted takes its grants and
# tokens. A 3-legged application (three_legged=on) gets an access token and
# secret per account (the secret sealed, returned once) and account calls
# must be signed with them.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::Imap;
use CnTest::ContextIO;

plan skip_all => cio_missing() if cio_missing();
plan skip_all => imap_missing() if imap_missing();

reset_db();
my $sealed = sealed_re();
my %pw = imap_passwords();
sub count_rows { scalar(my @r = db_rows($_[0])) }
sub grant_row { my $id = shift; (grep { $_->{id} eq ($id // '') } db_rows('grants'))[0] }
my @account_fields = sort qw(id created suspended email_addresses first_name last_name sources);

for my $app (qw(one three)) {
    my $r = api(POST => '/integrations', { name => 'Mailboxes', provider => 'imap',
                                           redirect_uris => ['http://localhost:3000/cb'] }, app => $app);
    is $r->code, 201, "app $app: an imap integration" or diag $r->as_string;
}
is make_integration('google')->code, 201, 'app one: a google integration';
my ($google_client) = fake_client('google');

sub imap_account {
    my ($user, %o) = @_;
    return { email => "$user\@example.test", first_name => ucfirst $user, last_name => 'Test',
             server => '127.0.0.1', username => $user, password => $pw{$user},
             port => imap_port('imaps'), use_ssl => 1, type => 'IMAP', %o };
}

# ---- POST /accounts with IMAP settings: a LOGIN at Dovecot ------------------------------------------
my $logins = imap_logins('alice', 'TLS');
my $t0 = time;
my $r = cio(perl => POST => '/accounts', imap_account('alice'));
is $r->code, 200, 'POST /accounts with IMAP settings: 200' or diag $r->as_string;
is_deeply [sort keys %{ $r->{json} }], [qw(id resource_url success)], '... success, id, resource_url';
my $alice = $r->{json}{id};
is $r->{json}{resource_url}, cio_url("/accounts/$alice"), '... resource_url';
ok wait_imap_logins('alice', 'TLS', $logins + 1) > $logins, '... proven by a LOGIN at Dovecot';
ok index($r->content, $pw{alice}) < 0, '... the password not in the answer';

$r = cio(node => GET => "/accounts/$alice");
is $r->code, 200, 'GET /accounts/{id}: 200' or diag $r->as_string;
my $acc = $r->{json};
is_deeply [sort keys %$acc], \@account_fields, '... the account\'s fields';
is_deeply $acc->{email_addresses}, ['alice@example.test'], '... email_addresses';
is $acc->{first_name}, 'Alice', '... first_name';
is $acc->{suspended}, 0, '... not suspended';
ok $acc->{created} >= $t0, '... created now';
is scalar @{ $acc->{sources} }, 1, '... one source';
my $src = $acc->{sources}[0];
my $alice_grant = $src->{label};
is $src->{server}, '127.0.0.1', '... its server';
is $src->{username}, 'alice', '... its username';
is $src->{port}, imap_port('imaps'), '... its port';
ok $src->{use_ssl}, '... use_ssl';
is $src->{authentication_type}, 'password', '... a password source';
is $src->{status}, 'OK', '... status OK';
my $g = grant_row($alice_grant);
ok $g, 'the source is a grant' or BAIL_OUT('no grant');
is $g->{account_id}, $alice, '... of the account';
like $g->{refresh_token} // '', $sealed, '... its password sealed';
ok !grep({ defined && index($_, $pw{alice}) >= 0 } values %$g), '... never in clear';
$r = api(GET => "/grants/$alice_grant");
is $r->code, 200, '... the Unified Auth API shows it';

# ---- STARTTLS (use_ssl=0), list, filters ----------------------------------------------------------------
$r = cio(perl => POST => '/accounts', imap_account('bob', port => imap_port('starttls'), use_ssl => 0),
         mode => 'query');
is $r->code, 200, 'POST /accounts use_ssl=0 on the STARTTLS port: 200' or diag $r->as_string;
my $bob = $r->{json}{id};
$r = cio(perl => GET => '/accounts');
is_deeply [sort map { $_->{id} } @{ $r->{json} }], [sort $alice, $bob], 'GET /accounts: both';
$r = cio(node => GET => '/accounts', { email => 'bob@example.test' });
is_deeply [map { $_->{id} } @{ $r->{json} }], [$bob], '... ?email= finds bob';
$r = cio(node => GET => '/accounts', { limit => 1, offset => 1 });
is scalar @{ $r->{json} }, 1, '... limit and offset';
$r = cio(perl => GET => "/accounts/$alice", {}, app => 'two');
is $r->code, 404, 'app two: GET of app one\'s account: 404';

# ---- refusals: nothing stored ----------------------------------------------------------------------
my ($na, $ng) = (count_rows('cio_accounts'), count_rows('grants'));
for my $c (
    ['a wrong password', imap_account('alice', password => 'wrong-password'), 400, qr/./],
    ['no password', imap_account('alice', password => undef), 400, qr/password/],
    ['a port of 0', imap_account('alice', port => 0), 400, qr/port/],
    ['type POP3', imap_account('alice', type => 'POP3'), 400, qr/IMAP/],
    ['no email', imap_account('alice', email => undef), 400, qr/email/],
    ['use_ssl 2', imap_account('alice', use_ssl => 2), 400, qr/use_ssl/],
    ['an unknown refresh token', { email => 'x@example.test', provider_refresh_token => 'nope',
                                   provider_consumer_key => $google_client }, 400, qr/./],
    ['an unknown consumer key', { email => 'x@example.test', provider_refresh_token => 'nope',
                                  provider_consumer_key => 'not-our-client' }, 400, qr/provider_consumer_key/],
) {
    my ($name, $params, $code, $re) = @$c;
    delete $params->{$_} for grep { !defined $params->{$_} } keys %$params;
    $r = cio(perl => POST => '/accounts', $params);
    is $r->code, $code, "POST /accounts, $name: $code" or diag $r->as_string;
    like $r->{json}{value} // '', $re, '... says why';
}
is count_rows('cio_accounts'), $na, 'no account stored';
is count_rows('grants'), $ng, 'no grant stored';

# ---- POST /accounts with a provider refresh token -----------------------------------------------------
my $rt = secret_token('rt-cio');
fake_seed(google => $rt, 'Carol.Cio@example.org');
$r = cio(node => POST => '/accounts', { email => 'carol.cio@example.org', first_name => 'Carol',
                                         provider_refresh_token => $rt,
                                         provider_consumer_key => $google_client });
is $r->code, 200, 'POST /accounts with a refresh token: 200' or diag $r->as_string;
my $carol = $r->{json}{id};
$r = cio(perl => GET => "/accounts/$carol/sources");
is $r->code, 200, 'GET /accounts/{id}/sources: 200';
is scalar @{ $r->{json} }, 1, '... one source';
is $r->{json}[0]{authentication_type}, 'oauth2', '... an OAuth source';
is $r->{json}[0]{email}, 'carol.cio@example.org', '... of the provider\'s mailbox';
is $r->{json}[0]{server}, 'imap.gmail.com', '... at Gmail';
ok index($r->content, $rt) < 0, '... the refresh token not shown';

# ---- a second source, then sources and grants are one ------------------------------------------------
# bob's mailbox by another host name (the test name server's): another identity, another grant
$r = cio(perl => POST => "/accounts/$alice/sources", imap_account('bob', server => 'imap.dovecot.test'));
is $r->code, 200, 'POST /accounts/{id}/sources: 200' or diag $r->as_string;
my $second = $r->{json}{label};
is $r->{json}{resource_url}, cio_url("/accounts/$alice/sources/$second"), '... its resource_url';
$r = cio(perl => GET => "/accounts/$alice/sources");
is_deeply [sort map { $_->{label} } @{ $r->{json} }], [sort $alice_grant, $second], '... alice has two';
$r = cio(node => GET => "/accounts/$alice/sources/$second");
is $r->code, 200, 'GET /accounts/{id}/sources/{label}: 200';
is $r->{json}{username}, 'bob', '... the second mailbox';
is $r->{json}{server}, 'imap.dovecot.test', '... at its host';
$r = cio(node => GET => "/accounts/$bob/sources/$second");
is $r->code, 404, '... another account\'s label: 404';

$r = api(DELETE => "/grants/$second");
is $r->code, 200, 'DELETE /grants/{id} of the Unified Auth API' or diag $r->as_string;
$r = cio(perl => GET => "/accounts/$alice/sources");
is_deeply [map { $_->{label} } @{ $r->{json} }], [$alice_grant], '... the source is gone';
$r = cio(perl => DELETE => "/accounts/$alice/sources/$alice_grant");
is $r->code, 200, 'DELETE /accounts/{id}/sources/{label}: 200' or diag $r->as_string;
$r = api(GET => "/grants/$alice_grant");
is $r->code, 404, '... the grant is gone from the Unified Auth API';
$r = cio(perl => DELETE => "/accounts/$alice/sources/$alice_grant");
is $r->code, 404, '... again: 404';

# ---- account-scoped connect tokens ---------------------------------------------------------------------
$r = cio(perl => POST => "/accounts/$bob/connect_tokens", { callback_url => 'https://app.example/more' });
is $r->code, 200, 'POST /accounts/{id}/connect_tokens: 200' or diag $r->as_string;
my $tok = $r->{json}{token};
is $r->{json}{resource_url}, cio_url("/accounts/$bob/connect_tokens/$tok"), '... its resource_url';
$r = cio(perl => GET => "/accounts/$bob/connect_tokens/$tok");
is $r->code, 200, '... GET under the account: 200';
is_deeply $r->{json}{account}, {}, '... account empty until used';
$r = cio(node => GET => "/connect_tokens/$tok");
is $r->code, 200, '... GET /connect_tokens/{token} finds it too';
$r = cio(node => GET => "/accounts/$carol/connect_tokens/$tok");
is $r->code, 404, '... under another account: 404';
$r = cio(node => GET => "/accounts/$bob/connect_tokens");
is_deeply [map { $_->{token} } @{ $r->{json} }], [$tok], 'GET /accounts/{id}/connect_tokens lists it';
$r = cio(node => GET => "/accounts/no-such-account/connect_tokens");
is $r->code, 404, '... of an unknown account: 404';

# A used token (the connect UI's part, set here in the store) shows its account.
my $used = time;
dbh()->do('UPDATE cio_connect_tokens SET used_at = ? WHERE account_id = ?', undef, $used, $bob);
$r = cio(node => GET => "/connect_tokens/$tok");
is $r->{json}{used}, $used, 'a used token: used is its time';
ok JSON::is_bool($r->{json}{expires}) && !$r->{json}{expires}, '... expires false';
is $r->{json}{account}{id}, $bob, '... account filled';
is_deeply [sort keys %{ $r->{json}{account} }], \@account_fields, '... with the account\'s fields';

# ---- DELETE /accounts/{id}: its grants and tokens go with it -------------------------------------------
my $bob_grant = cio(perl => GET => "/accounts/$bob")->{json}{sources}[0]{label};
$r = cio(perl => DELETE => "/accounts/$bob");
is $r->code, 200, 'DELETE /accounts/{id}: 200' or diag $r->as_string;
is cio(perl => GET => "/accounts/$bob")->code, 404, '... then GET: 404';
is api(GET => "/grants/$bob_grant")->code, 404, '... its grant is gone';
is cio(perl => GET => "/connect_tokens/$tok")->code, 404, '... its connect token is gone';

# ---- 3-legged: app three -----------------------------------------------------------------------------------
$r = cio(perl => POST => '/accounts', imap_account('alice'), app => 'three');
is $r->code, 200, '3-legged: POST /accounts (an application call, 2-legged): 200' or diag $r->as_string;
my ($a3, $at, $ats) = @{ $r->{json} }{qw(id access_token access_token_secret)};
ok $at && $ats, '... access_token and access_token_secret returned';
my ($row) = grep { $_->{id} eq $a3 } db_rows('cio_accounts');
like $row->{access_token_secret}, $sealed, '... the secret sealed at rest';
ok index(join(' ', grep defined, values %$row), $ats) < 0, '... never in clear';
$r = cio(perl => POST => '/accounts', imap_account('bob', port => imap_port('starttls'), use_ssl => 0),
         app => 'three');
my ($b3, $bt, $bts) = @{ $r->{json} }{qw(id access_token access_token_secret)};
ok $b3 && $bt, 'a second account of app three';

for my $signer (qw(perl node)) {
    $r = cio($signer => GET => "/accounts/$a3", {}, app => 'three', token => [$at, $ats]);
    is $r->code, 200, "$signer: GET /accounts/{id} signed with its token: 200" or diag $r->as_string;
    is $r->{json}{id}, $a3, '... the account';
    $r = cio($signer => GET => "/accounts/$a3/sources", {}, app => 'three', token => [$at, $ats],
             mode => 'query');
    is $r->code, 200, "$signer: ... its sources, signed in the query: 200" or diag $r->as_string;
    $r = cio($signer => GET => "/accounts/$a3", {}, app => 'three');
    is $r->code, 401, "$signer: the same 2-legged: 401";
    like $r->header('WWW-Authenticate') // '', qr/^OAuth/, '... WWW-Authenticate: OAuth';
    $r = cio($signer => GET => "/accounts/$a3", {}, app => 'three', token => [$at, 'wrong-secret']);
    is $r->code, 401, "$signer: a wrong token secret: 401";
    $r = cio($signer => GET => "/accounts/$a3", {}, app => 'three', token => [$bt, $bts]);
    is $r->code, 401, "$signer: another account's token: 401";
    like $r->{json}{value}, qr/another account/, '... says so';
    $r = cio($signer => GET => "/accounts/$a3", {}, app => 'three', token => ['unknown-token', 'x']);
    is $r->code, 401, "$signer: an unknown token: 401";
    $r = cio($signer => GET => '/accounts', {}, app => 'three');
    is $r->code, 200, "$signer: GET /accounts stays 2-legged: 200";
    $r = cio($signer => GET => '/accounts', {}, app => 'three', token => [$at, $ats]);
    is $r->code, 401, "$signer: ... and refuses a token: 401";
}
$r = cio(perl => GET => "/accounts/$a3", {}, app => 'one', token => [$at, $ats]);
is $r->code, 401, 'app one signing with app three\'s account token: 401';

# nothing of the above in the logs
my $log = error_log();
ok index($log, $ats) < 0 && index($log, $pw{alice}) < 0, 'no secret in the error log';
done_testing();
