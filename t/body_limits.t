# Request bodies: announced and chunked, at and over ConnectMaxBody (65536).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use HTTP::Request;
use LWP::UserAgent;
use lib 't/lib';
use CnTest qw(:all);

plan tests => 9;
reset_db();

# A body LWP sends chunked (no Content-Length): the content is a code ref.
sub chunked {
    my ($text, $piece) = @_;
    my $req = HTTP::Request->new(POST => url('/integrations'));
    $req->authorization_basic(app_creds('one'));
    $req->header('Content-Type' => 'application/json');
    my $pos = 0;
    $req->content(sub {
        return '' if $pos >= length $text;
        my $s = substr($text, $pos, $piece);
        $pos += $piece;
        return $s;
    });
    my $res = LWP::UserAgent->new(timeout => 30)->request($req);
    $res->{json} = CnTest::json_decode($res->content);
    return $res;
}

my $r = chunked('{"name":"chunked","provider":"imap"}', 7);
is($r->code, 201, 'a chunked body in small pieces is read whole');
is($r->{json}{data}{name}, 'chunked', '... and parsed');

# Just under the limit, announced: a long name is refused for its length, not its size.
my $pad = 'x' x (65536 - 60);
my $body = '{"name":"' . $pad . '","provider":"imap"}';
ok(length($body) <= 65536, 'a body of at most 65536 bytes');
$r = api(POST => '/integrations', undef, raw => $body);
is($r->code, 400, '... is read and judged on its content');
is($r->{json}{error}{event_code}, 700, '... invalid_request_payload (name too long)');

# Over the limit, chunked: 413 although no Content-Length announced it.
$r = chunked('{"name":"' . ('y' x 70000) . '","provider":"google"}', 8192);
is($r->code, 413, 'a chunked body over the limit: 413');
is($r->{json}{error}{type}, 'payload_too_large', '... in the envelope');

my ($n) = dbh()->selectrow_array("SELECT COUNT(*) FROM integrations WHERE provider = 'google'");
is($n, 0, 'nothing of the refused bodies was stored');
($n) = dbh()->selectrow_array("SELECT COUNT(*) FROM integrations WHERE provider = 'imap'");
is($n, 1, 'only the good chunked body was');
