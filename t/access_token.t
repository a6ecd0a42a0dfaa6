# POST /grants/{id}/access_token: a current provider access token and the
# IMAP settings of a grant. A fresh token is answered without asking the
# provider; one about to expire is refreshed (one call at the fake); fifty
# callers at once for one expired grant cause exactly one provider refresh and
# all get its token; a refresh token the provider refuses makes the grant
# invalid (grant_expired); a provider failing with a 500 is a 503 with
# Retry-After after three attempts, and the grant cools down (no provider call
# until it ends, the row says so); a 503 once is retried within the call; a
# provider back after the cool-down ends it; another application's grant is a
# 404; an IMAP grant gives its settings, its password only when asked.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use MIME::Base64 ();
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::Imap;

reset_db();
is make_integration('google')->code, 201, 'google integration';
is make_integration('microsoft')->code, 201, 'microsoft integration';
is make_integration('google', app => 'two')->code, 201, 'app two: google integration';

# The refreshes the fake has received so far.
sub refreshes {
    scalar grep { $_->{method} eq 'POST' && ($_->{params}{grant_type} // '') eq 'refresh_token' }
        @{ fake_log() };
}
sub grant_row { my $id = shift; (grep { $_->{id} eq $id } db_rows('grants'))[0] }
sub access_token { my ($id, %o) = @_; api(POST => "/grants/$id/access_token", $o{body}, %o) }
sub expire { dbh()->do('UPDATE grants SET access_expires_at = ? WHERE id = ?', undef, @_) }

my $f = hosted_flow(provider => 'google', login_hint => 'ann@example.com');
is $f->result->{success}, 'true', 'a google grant' or diag $f->{error};
my $id = $f->grant_id;
my ($first) = grep { $_->{kind} eq 'access' } fake_issued(email => 'ann@example.com');

# ---- a fresh token: no provider call ----------------------------------------------------
my $before = refreshes();
my $r = access_token($id);
is $r->code, 200, 'POST /grants/{id}/access_token: 200' or diag $r->as_string;
ok $r->{json}{success}, "... success";
my $d = $r->{json}{data} || {};
is $d->{access_token}, $first->{value}, '... the access token of the sign-in';
is $d->{provider}, 'google', '... provider';
is $d->{email}, 'ann@example.com', '... email';
ok $d->{expires_at} > time + 3000, '... expires_at about an hour ahead';
is $d->{imap}{host}, 'imap.gmail.com', '... imap host';
is $d->{imap}{port}, 993, '... imap port';
is $d->{imap}{username}, 'ann@example.com', '... imap username';
is MIME::Base64::decode_base64($d->{imap}{xoauth2} // ''),
    "user=ann\@example.com\x01auth=Bearer $first->{value}\x01\x01", '... the XOAUTH2 string';
is refreshes(), $before, '... and no refresh at the provider';
$r = access_token($id, body => {});
is $r->code, 200, 'an empty JSON object body: 200';
$r = access_token($id, body => { nope => 1 });
is $r->code, 400, 'an unknown field: 400';

# ---- near expiry: one refresh, stored sealed --------------------------------------------
expire(time + 100, $id);
$before = refreshes();
$r = access_token($id);
is $r->code, 200, 'a token expiring in 100 s: 200' or diag $r->as_string;
my $new = $r->{json}{data}{access_token} // '';
isnt $new, $first->{value}, '... a new access token';
is refreshes(), $before + 1, '... after one refresh at the provider';
ok $r->{json}{data}{expires_at} > time + 3000, '... expiring in about an hour';
my $row = grant_row($id);
ok $row->{access_expires_at} > time + 3000, '... its expiry stored';
like $row->{access_token}, sealed_re(), '... the token stored sealed';
unlike $row->{access_token}, qr/\Q$new\E/, '... never in clear';
is MIME::Base64::decode_base64($r->{json}{data}{imap}{xoauth2}),
    "user=ann\@example.com\x01auth=Bearer $new\x01\x01", '... the XOAUTH2 string of the new token';
$r = access_token($id);
is $r->{json}{data}{access_token}, $new, 'asked again: the stored new token';
is refreshes(), $before + 1, '... without another refresh';

# ---- microsoft rotates its refresh tokens: the new one is stored --------------------------
my $m = hosted_flow(provider => 'microsoft', login_hint => 'max@example.com');
is $m->result->{success}, 'true', 'a microsoft grant' or diag $m->{error};
my $old_rt = grant_row($m->grant_id)->{refresh_token};
expire(0, $m->grant_id);
$r = access_token($m->grant_id);
is $r->code, 200, 'microsoft, expired: 200' or diag $r->as_string;
is $r->{json}{data}{imap}{host}, 'outlook.office365.com', '... imap host outlook.office365.com';
isnt grant_row($m->grant_id)->{refresh_token}, $old_rt, '... the rotated refresh token stored';
expire(0, $m->grant_id);
$r = access_token($m->grant_id);
is $r->code, 200, '... and the next refresh (with the rotated token) works' or diag $r->as_string;

# ---- fifty callers at once: one refresh ---------------------------------------------------
my $c = hosted_flow(provider => 'google', login_hint => 'rslow.many@example.com');
is $c->result->{success}, 'true', 'a grant whose refreshes take a second' or diag $c->{error};
my $cid = $c->grant_id;
expire(0, $cid);
$before = refreshes();
my (%codes, %tokens);
for (concurrently([map { sub {
    my $res = access_token($cid);
    $res->code . ' ' . ($res->{json}{data}{access_token} // '');
} } 1 .. 50])) {
    my ($code, $tok) = split ' ', $_ // '';
    $codes{$code // 0}++;
    $tokens{$tok // ''}++;
}
is_deeply \%codes, { 200 => 50 }, 'fifty concurrent callers: fifty 200s';
is scalar(keys %tokens), 1, '... all with the same token';
is refreshes(), $before + 1, '... after exactly one refresh at the provider';
is grant_row($cid)->{refresh_lease_until}, 0, '... and the lease given back';

# ---- invalid_grant: the grant becomes invalid --------------------------------------------
my $g = hosted_flow(provider => 'google', login_hint => 'rgone.bob@example.com');
is $g->result->{success}, 'true', 'a grant whose refresh token the provider will refuse';
expire(0, $g->grant_id);
$r = access_token($g->grant_id);
is $r->code, 400, 'invalid_grant at the provider: 400' or diag $r->as_string;
ok !$r->{json}{success}, "... in the envelope";
is $r->{json}{error}{type}, 'grant_expired', '... grant_expired';
is $r->{json}{error}{event_code}, 25009, '... 25009';
like $r->{json}{error}{message}, qr/authenticate again/, '... saying re-authentication is needed';
is grant_row($g->grant_id)->{grant_status}, 'invalid', '... the grant is invalid';
my @ev = grep { $_->{type} eq 'grant_expired' && index($_->{data}, $g->grant_id) >= 0 }
    db_rows('events');
is scalar(@ev), 1, '... the event grant_expired recorded';
is api(GET => '/grants/' . $g->grant_id)->{json}{data}{grant_status}, 'invalid',
    '... GET /grants/{id} says invalid';
$before = refreshes();
$r = access_token($g->grant_id);
is $r->code, 400, 'asked again: 400';
is refreshes(), $before, '... without asking the provider';

# ---- a provider failing: 503, nothing marked ----------------------------------------------
my $h = hosted_flow(provider => 'google', login_hint => 'r500.cy@example.com');
is $h->result->{success}, 'true', 'a grant whose refreshes fail with 500';
expire(0, $h->grant_id);
$before = refreshes();
my $t0 = time;
my $at = error_log_offset();
$r = access_token($h->grant_id);
is $r->code, 503, 'a 500 at the provider: 503' or diag $r->as_string;
is $r->{json}{error}{type}, 'service_unavailable', '... service_unavailable';
is refreshes(), $before + 3, '... after three attempts at the provider';
is $r->header('Retry-After'), 10, '... Retry-After: 10 (the first cool-down)';
my $hrow = grant_row($h->grant_id);
is $hrow->{grant_status}, 'valid', '... the grant stays valid';
is $hrow->{refresh_lease_until}, 0, '... the lease given back';
is $hrow->{refresh_failures}, 1, '... one failed refresh in a row';
ok $hrow->{refresh_retry_at} >= $t0 + 10 && $hrow->{refresh_retry_at} <= time + 10,
    '... cooling down for 10 s' or diag "retry_at $hrow->{refresh_retry_at}, now " . time;
$r = access_token($h->grant_id);
is $r->code, 503, 'asked again during the cool-down: 503';
ok $r->header('Retry-After') >= 1 && $r->header('Retry-After') <= 10,
    '... with the seconds left in Retry-After' or diag $r->header('Retry-After');
like $r->{json}{error}{message}, qr/try again later/, '... in the envelope';
is refreshes(), $before + 3, '... without asking the provider';
# The cool-down over (aged in the database): asked again, failing, a longer one.
dbh()->do('UPDATE grants SET refresh_retry_at = ? WHERE id = ?', undef, time - 1, $h->grant_id);
$r = access_token($h->grant_id);
is $r->code, 503, 'after the cool-down, failing again: 503';
is $r->header('Retry-After'), 20, '... Retry-After: 20 (doubled)';
is refreshes(), $before + 6, '... after three more attempts';
is grant_row($h->grant_id)->{refresh_failures}, 2, '... two failed refreshes in a row';
my $hid = $h->grant_id;
like error_log_since($at), qr/CN02201: grant \Q$hid\E: refresh attempt 2 failed/,
    '... each retry logged (CN02201)';
like error_log_since($at), qr/CN02202: grant \Q$hid\E: no refresh for 20 s after 2 failed in a row/,
    '... and each cool-down (CN02202)';

# ---- a provider failing for a while: the cool-down ends when it works ----------------------
my $fl = hosted_flow(provider => 'google', login_hint => 'rflaky.dee@example.com');
is $fl->result->{success}, 'true', 'a grant whose first three refreshes fail with 503';
expire(0, $fl->grant_id);
$before = refreshes();
$r = access_token($fl->grant_id);
is $r->code, 503, 'three 503s: 503' or diag $r->as_string;
is refreshes(), $before + 3, '... three attempts';
dbh()->do('UPDATE grants SET refresh_retry_at = ? WHERE id = ?', undef, time - 1, $fl->grant_id);
$r = access_token($fl->grant_id);
is $r->code, 200, 'the provider back after the cool-down: 200' or diag $r->as_string;
is refreshes(), $before + 4, '... after one more refresh';
my $flrow = grant_row($fl->grant_id);
is_deeply [@$flrow{qw(refresh_failures refresh_retry_at refresh_lease_until)}], [0, 0, 0],
    '... the cool-down ended, the lease given back';
ok $flrow->{refreshed_at} >= time - 30, '... refreshed_at now';

# ---- a 503 once: retried within the call ---------------------------------------------------
my $bl = hosted_flow(provider => 'google', login_hint => 'rblip.eve@example.com');
is $bl->result->{success}, 'true', 'a grant whose every other refresh fails with 503';
expire(0, $bl->grant_id);
$before = refreshes();
$r = access_token($bl->grant_id);
is $r->code, 200, 'a 503, then a token: 200 in one call' or diag $r->as_string;
is refreshes(), $before + 2, '... after two attempts';
is grant_row($bl->grant_id)->{refresh_failures}, 0, '... no cool-down';

# ---- another application, unknown grants ---------------------------------------------------
$r = access_token($id, app => 'two');
is $r->code, 404, "another application's grant: 404";
is $r->{json}{error}{type}, 'grant_not_found', '... grant_not_found';
is access_token('no-such-grant')->code, 404, 'an unknown grant: 404';
is access_token($id, app => undef)->code, 401, 'no credentials: 401';

# ---- IMAP grants: the settings, the password when asked ------------------------------------
SKIP: {
    skip imap_missing(), 8 if imap_missing();
    my %pw = imap_passwords();
    is api(POST => '/integrations', { name => 'Mailboxes', provider => 'imap',
                                      redirect_uris => ['http://localhost:3000/cb'] })->code,
        201, 'imap integration';
    $r = api(POST => '/grants', { provider => 'imap', settings => imap_settings('alice') });
    is $r->code, 201, 'an IMAP grant' or diag $r->as_string;
    my $iid = $r->{json}{data}{id} // '';
    $r = access_token($iid);
    is $r->code, 200, 'IMAP grant: 200' or diag $r->as_string;
    is_deeply $r->{json}{data}{imap},
        { host => '127.0.0.1', port => 0 + imap_port('imaps'), username => 'alice',
          security => 'ssl' }, '... host, port, username and security, no password';
    unlike $r->content, qr/\Q$pw{alice}\E/, '... the password nowhere';
    $r = access_token($iid, body => { include_password => \1 });
    is $r->code, 200, 'include_password: 200';
    is $r->{json}{data}{imap}{password}, $pw{alice}, '... with the password';
    is access_token($iid, body => { include_password => 'yes' })->code, 400,
        'include_password not a boolean: 400';
}

done_testing();
