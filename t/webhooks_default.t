# ConnectWebhookURL: the server-wide receiver of the events of every
# application without a webhook_url= of its own. Without a secret of its own
# each application's events are signed with that application's secret (so
# each can check its own); with file:/env: they are signed with that secret.
# An application with webhook_url= keeps its own receiver and key. Servers of
# their own (t/lib/CnTest/Httpd.pm) and a receiver this test starts
# (t/fake/webhook_receiver.py); the pass's database (SQLite, or a PostgreSQL
# database of its own). Last, the start-up refusals.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use Digest::SHA qw(hmac_sha256_hex);
use File::Spec ();
use IPC::Open2 ();
use LWP::UserAgent ();
use HTTP::Request ();
use Time::HiRes qw(sleep time);
use CnTest qw(:all);
use CnTest::Flow qw(fake_client fake_seed);
use CnTest::Httpd;

my $PG = db_driver() eq 'pgsql';

# ---- the receiver ------------------------------------------------------------------
my $receiver_pid = IPC::Open2::open2(my $rout, my $rin, 'python3',
    File::Spec->catfile(t_dir(), 'fake', 'webhook_receiver.py'), 0);
my $line = <$rout>;
my ($rport) = ($line // '') =~ /on 127\.0\.0\.1:(\d+)/ or BAIL_OUT("the receiver did not start: " . ($line // ''));
END { kill 'TERM', $receiver_pid if $receiver_pid; }
my $UA = LWP::UserAgent->new(timeout => 30, keep_alive => 0);
sub received {
    my $res = $UA->get("http://127.0.0.1:$rport/_requests");
    die '/_requests: ' . $res->status_line unless $res->is_success;
    return @{ json_decode($res->content) };
}

my ($cid, $csecret) = fake_client('google');
my $fake = conf_value('cn_fakeport');
my $n = 0;

# One server: apps 'app' (no webhook of its own) and 'own' (webhook_url=);
# DEFAULT the ConnectWebhookURL line. Returns the server and the grants made.
sub server_with {
    my ($default, %o) = @_;
    my $h = CnTest::Httpd->new;
    my $own_secret = 'own-app-secret-' . ++$n . '-0123456789';
    $h->write_file('own.secret', "$own_secret\n");
    $h->write_file('own-webhook.secret', "own-webhook-key-0123456789\n");
    $h->write_file('default-webhook.secret', "default-webhook-key-0123456789\n");
    my ($pg_db, %pg);
    if ($PG) {
        %pg = CnTest::_pg_params();
        $pg_db = "cn_webhooks_default_${$}_$n";
        dbh()->do("CREATE DATABASE $pg_db");
    }
    my @extra = (
        'ConnectCAFile ' . conf_value('cn_cafile'),
        (map { "ConnectProviderEndpoint google $_ https://127.0.0.1:$fake/google/$_" } qw(authorize token userinfo revoke)),
        'ConnectWebhookInterval 1',
        $default =~ s/%DIR%/$h->path('.')/er,
    );
    push @extra, 'DBDriver pgsql', qq{DBDParams "host=$pg{host} port=$pg{port} dbname=$pg_db user=$pg{user}"} if $PG;
    $h->write_conf(
        dbd  => $PG ? 0 : 1,
        apps => [['app', 'file:' . $h->path('app.secret')],
                 ['own', 'file:' . $h->path('own.secret'), "webhook_url=http://127.0.0.1:$rport/own",
                  'webhook_secret=file:' . $h->path('own-webhook.secret')]],
        extra => join("\n", @extra));
    $h->{pg_db} = $pg_db;
    $h->{own} = ['own', $own_secret];
    return $h;
}
sub call {
    my ($h, $app, $method, $path, $body) = @_;
    my $req = HTTP::Request->new($method => $h->base_url . "/connect$path");
    $req->authorization_basic(@$app);
    if (defined $body) {
        $req->content(json_encode($body));
        $req->header('Content-Type' => 'application/json');
    }
    my $res = $UA->request($req);
    $res->{json} = eval { json_decode($res->content) };
    return $res;
}
# A grant of APP on server H (its integration first): its id.
sub grant_of {
    my ($h, $app) = @_;
    call($h, $app, POST => '/integrations', { name => 'g', provider => 'google',
         settings => { client_id => $cid, client_secret => $csecret },
         redirect_uris => ['https://app.example/cb'], scope => ['openid'] });
    my $email = "whd-$$-" . ++$n . '@gmail.com';
    fake_seed('google', "whd-refresh-$$-$n", $email);
    my $r = call($h, $app, POST => '/grants', { provider => 'google', settings => { refresh_token => "whd-refresh-$$-$n" } });
    is $r->code, 201, "$app->[0]: a grant" or diag $r->content;
    return $r->{json}{data}{id} // '';
}
# The requests at PATH about GRANT.
sub for_grant {
    my ($path, $grant) = @_;
    return grep { $_->{path} eq $path && (eval { json_decode($_->{body})->{data}{grant_id} } // '') eq $grant } received();
}
sub signed_with {
    my ($req, $key) = @_;
    my ($t, $v1) = ($req->{headers}{'x-connect-signature'} // '') =~ /\At=(\d+),v1=([0-9a-f]{64})\z/ or return 0;
    return hmac_sha256_hex("$t.$req->{body}", $key) eq $v1;
}

# ---- 1. ConnectWebhookURL without a secret: each application's own ----------------------------
{
    my $h = server_with("ConnectWebhookURL http://127.0.0.1:$rport/all");
    ok $h->start, 'a server with ConnectWebhookURL and no secret starts' or BAIL_OUT($h->output);
    like $h->output, qr/CN02026: webhooks of 2 application\(s\)/, 'both applications have a webhook';
    my @APP = $h->app_creds;
    my $g = grant_of($h, \@APP);
    my $o = grant_of($h, $h->{own});
    ok wait_for(20, sub { for_grant('/all', $g) && for_grant('/own', $o) }),
        "each application's grant_created reaches its receiver" or diag explain [received()];
    my ($all) = for_grant('/all', $g);
    is json_decode($all->{body})->{type}, 'grant_created', 'the application without a webhook: at ConnectWebhookURL';
    ok signed_with($all, $APP[1]), '... signed with the application\'s own secret';
    ok !signed_with($all, 'default-webhook-key-0123456789'), '... not with another key';
    my ($own) = for_grant('/own', $o);
    ok signed_with($own, 'own-webhook-key-0123456789'), 'the application with webhook_url=: at its own, with its own key';
    is scalar(for_grant('/all', $o)), 0, '... and never at ConnectWebhookURL';
    unlike $h->error_log, qr/\Q$APP[1]\E/, 'the application secret is never logged';
    ok $h->stop, 'stops';
    dbh()->do("DROP DATABASE IF EXISTS $h->{pg_db}") if $h->{pg_db};
}

# ---- 2. ConnectWebhookURL with a secret of its own ----------------------------------------
{
    my $h = server_with("ConnectWebhookURL http://127.0.0.1:$rport/keyed file:%DIR%/default-webhook.secret");
    ok $h->start, 'a server with ConnectWebhookURL URL file:SECRET starts' or BAIL_OUT($h->output);
    my @APP = $h->app_creds;
    my $g = grant_of($h, \@APP);
    ok wait_for(20, sub { for_grant('/keyed', $g) }), 'the event reaches ConnectWebhookURL' or diag explain [received()];
    my ($req) = for_grant('/keyed', $g);
    ok signed_with($req, 'default-webhook-key-0123456789'), '... signed with its secret';
    ok !signed_with($req, $APP[1]), '... not with the application\'s';
    unlike $h->output . $h->error_log, qr/default-webhook-key/, 'the secret is never logged';
    ok $h->stop, 'stops';
    dbh()->do("DROP DATABASE IF EXISTS $h->{pg_db}") if $h->{pg_db};
}

# ---- start-up refusals ---------------------------------------------------------------------
sub refused {
    my ($name, $extra, $re) = @_;
    my $s = CnTest::Httpd->new;
    $s->write_file('short.secret', "short\n");
    $s->write_conf(extra => $extra);
    ok !$s->start, "$name: refused";
    is scalar($s->lines_matching($re)), 1, "$name: one line says why" or diag $s->output;
}
refused('ConnectWebhookURL not http(s)', 'ConnectWebhookURL ftp://h.example/x',
        qr/ConnectWebhookURL must be an http or https URL/);
refused('ConnectWebhookURL with a user', 'ConnectWebhookURL https://u:p@h.example/x',
        qr/ConnectWebhookURL must be an http or https URL/);
refused('ConnectWebhookURL with a bare secret', 'ConnectWebhookURL https://h.example/x s3cret',
        qr/ConnectWebhookURL: the signing secret must be file:PATH or env:VAR/);
refused('ConnectWebhookURL with a short secret', 'ConnectWebhookURL https://h.example/x file:short.secret',
        qr/ConnectWebhookURL: ConnectWebhookURL's secret must be at least 16 bytes/);
refused('ConnectWebhookURL with a missing secret file', 'ConnectWebhookURL https://h.example/x file:nope.secret',
        qr/ConnectWebhookURL: ConnectWebhookURL's secret: cannot read nope\.secret/);

done_testing();
