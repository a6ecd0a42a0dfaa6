# The XOAUTH2 string of POST /grants/{id}/access_token opens a real IMAP
# server: a Dovecot (t/fake/dovecot.sh, started per pass) whose oauth2 passdb
# validates bearer tokens at the fake provider's tokeninfo endpoint accepts
# AUTHENTICATE XOAUTH2 with the string as answered, and again with the string
# of a refreshed token; a token the provider never issued, and a real token
# named for another user, are refused.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use File::Spec ();
use MIME::Base64 ();
use Time::HiRes ();
use CnTest qw(:all);
use CnTest::Flow;
use CnTest::Imap;

plan skip_all => 'no XOAUTH2 Dovecot: -cn_imapxoauth2 is not set (scripts/test.sh starts one)'
    unless CnTest::conf_value('cn_imapxoauth2');

reset_db();
is make_integration('google')->code, 201, 'google integration';
my $f = hosted_flow(provider => 'google', login_hint => 'xo.ann@example.com');
is $f->result->{success}, 'true', 'a google grant' or diag $f->{error};
my $id = $f->grant_id;

my $r = api(POST => "/grants/$id/access_token");
is $r->code, 200, 'POST /grants/{id}/access_token: 200' or diag $r->as_string;
my $d = $r->{json}{data} || {};
my ($ok, $said) = imap_xoauth2($d->{imap}{xoauth2} // '');
ok $ok, 'Dovecot accepts AUTHENTICATE XOAUTH2 with the string answered' or diag $said;
like $said, qr/^a1 OK .*Logged in/, '... logged in';
like xoauth2_log(qr/Login: user=<xo\.ann\@example\.com>, method=XOAUTH2, [^\n]*TLS/),
    qr/Login: user=<xo\.ann\@example\.com>, method=XOAUTH2, [^\n]*TLS/,
    "... Dovecot's log says so (method XOAUTH2, over TLS)";

# A refreshed token: its string works as well.
dbh()->do('UPDATE grants SET access_expires_at = 0 WHERE id = ?', undef, $id);
$r = api(POST => "/grants/$id/access_token");
is $r->code, 200, 'after a refresh: 200' or diag $r->as_string;
isnt $r->{json}{data}{access_token}, $d->{access_token}, '... a new access token';
($ok, $said) = imap_xoauth2($r->{json}{data}{imap}{xoauth2} // '');
ok $ok, '... whose XOAUTH2 string Dovecot accepts too' or diag $said;

# Refusals: the tokeninfo endpoint does not know the token, or knows it for another user.
my $wrong = MIME::Base64::encode_base64("user=xo.ann\@example.com\x01auth=Bearer at-never-issued\x01\x01", '');
($ok, $said) = imap_xoauth2($wrong);
ok !$ok, 'a token the provider never issued: refused';
like $said, qr/^a1 NO .*AUTHENTICATIONFAILED/, '... NO [AUTHENTICATIONFAILED]';
my $other = MIME::Base64::encode_base64(
    "user=someone.else\@example.com\x01auth=Bearer $r->{json}{data}{access_token}\x01\x01", '');
($ok, $said) = imap_xoauth2($other);
ok !$ok, "a real token named for another user: refused";
my $mismatch = qr/Username 'someone\.else\@example\.com' did not match 'xo\.ann\@example\.com'/;
like xoauth2_log($mismatch), $mismatch, "... Dovecot says the token's email is another";

done_testing;

# The XOAUTH2 Dovecot's log once it matches RE (it writes through a process
# of its own), or as it is after 5 s.
sub xoauth2_log {
    my ($re) = @_;
    my $file = File::Spec->catfile(CnTest::conf_value('cn_imapdir'), 'oauth', 'dovecot.log');
    my $text = '';
    for (1 .. 50) {
        if (open my $fh, '<', $file) {
            local $/;
            $text = <$fh> // '';
        }
        last if $text =~ $re;
        Time::HiRes::sleep(0.1);
    }
    return $text;
}
