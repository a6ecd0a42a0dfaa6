# SQLite's write-ahead log is copied into the database file by the module's
# background checkpoint (a mod_watchdog thread, every second), not by the
# request whose commit crosses a threshold. A row written through the API is
# in the database file itself within seconds: read with immutable=1, which
# never looks at the log, it is there. Connections checkpoint by themselves
# only at CN_SQLITE_AUTOCHECKPOINT (16384) pages, which these few writes are
# far from. On PostgreSQL there is no such log to copy.
use strict;
use warnings;
use Apache::Test qw(-withtestmore);
use lib 't/lib';
use DBI;
use Time::HiRes ();
use CnTest qw(:all);

plan skip_all => 'the write-ahead log checkpoint is SQLite\'s' unless db_driver() eq 'sqlite3';
plan tests => 5;
reset_db();

my $name = "checkpoint-$$-" . time;
my $r = api(POST => '/integrations', { name => $name, provider => 'microsoft',
                                       settings => { client_id => 'm', client_secret => 'm-secret-0001' } });
is $r->code, 201, 'an integration is written through the API';
is dbh()->selectrow_array('SELECT COUNT(*) FROM integrations WHERE name = ?', undef, $name), 1,
    '... and a reader of the log sees it at once';

# The database file alone, without the log.
sub in_file {
    my $file = db_file();
    my $ro = DBI->connect("dbi:SQLite:uri=file:$file?immutable=1", '', '',
                          { RaiseError => 1, PrintError => 0, sqlite_open_flags => DBD::SQLite::OPEN_READONLY() | DBD::SQLite::OPEN_URI() });
    my ($n) = $ro->selectrow_array('SELECT COUNT(*) FROM integrations WHERE name = ?', undef, $name);
    $ro->disconnect;
    return $n;
}
my $deadline = time + 10;
my $seen = in_file();
while (!$seen && time < $deadline) {
    Time::HiRes::sleep(0.2);
    $seen = in_file();
}
is $seen, 1, 'within seconds the row is in the database file itself: the log was checkpointed';
my ($mode) = dbh()->selectrow_array('PRAGMA journal_mode');
is lc $mode, 'wal', 'the database is in write-ahead log mode';
is api(DELETE => '/integrations/microsoft')->code, 200, 'the integration is deleted again';
