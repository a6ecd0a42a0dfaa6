package CnTest::Browser;
# Runs a walk of the headless-browser harness (t/browser/*.js over
# t/browser/lib.js: Debian's chromium, playwright-core, axe-core) and replays
# the TAP it prints as this test file's own tests.
#
#   use CnTest::Browser;
#   my $r = browser_walk('pages.js', json_encode([{ name => 'x', path => '/login?id=x', status => 400 }]));
#   ok -s "$r->{out}/x-360.png", 'a screenshot at 360 px';
#
# The walk gets CN_BASE_URL (the mount of the suite's server) and
# CN_BROWSER_OUT (t/logs/browser/, copied to t/var/results/<pass>/ by
# scripts/test.sh). A missing chromium or npm install fails the test: the
# browser checks are not optional.
use strict;
use warnings;

use Exporter 'import';
use File::Spec ();
use POSIX ();
use Test::More ();
use CnTest ();

our @EXPORT = qw(browser_walk browser_out);

sub browser_out { File::Spec->catdir(CnTest::conf_value('t_logs'), 'browser') }

# browser_walk(SCRIPT, ARGS...) -> { exit => N, out => DIR, tests => N, output => TEXT }
sub browser_walk {
    my ($script, @args) = @_;
    my $dir = File::Spec->catdir(CnTest::t_dir(), 'browser');
    my $chromium = $ENV{CN_CHROMIUM} || '/usr/bin/chromium';
    Test::More::ok(-x $chromium, "$chromium is installed (make deps)")
        or return { exit => -1, tests => 0, out => browser_out(), output => '' };
    Test::More::ok(-d "$dir/node_modules/playwright-core" && -d "$dir/node_modules/axe-core",
                   'playwright-core and axe-core are installed in t/browser (make deps: npm ci)')
        or return { exit => -1, tests => 0, out => browser_out(), output => '' };
    local $ENV{CN_BASE_URL} = CnTest::url('');
    local $ENV{CN_BROWSER_OUT} = browser_out();
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        exec 'node', "$dir/$script", @args or POSIX::_exit(127);
    }
    my ($tests, $plan, $output) = (0, undef, '');
    while (my $line = <$fh>) {
        $output .= $line;
        chomp $line;
        if ($line =~ /^(not )?ok \d+ - (.*)$/) {
            ++$tests;
            Test::More::ok(!$1, "browser: $2");
        }
        elsif ($line =~ /^1\.\.(\d+)$/) {
            $plan = $1;
        }
        elsif ($line =~ /^# ?(.*)$/) {
            Test::More::diag($1);
        }
        elsif (length $line) {
            Test::More::diag("node: $line");
        }
    }
    close $fh;
    my $exit = $? >> 8;
    Test::More::ok(defined $plan && $plan == $tests && $tests > 0,
                   "the walk $script ran to its end (" . ($plan // 'no plan') . " of $tests)");
    Test::More::is($exit, 0, "the walk $script exited 0");
    return { exit => $exit, tests => $tests, out => browser_out(), output => $output };
}

1;
