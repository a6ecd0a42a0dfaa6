#!/bin/sh
# The module's log IDs (CNLOGNO(nnnnn), include/cn_core.h) name one call site
# each, so that a log line leads to one place in the code and a test can
# assert on it. This check fails when two call sites share an ID, when an ID
# is not five digits, when a log line spells its ID by hand ("CN00012: ")
# instead of through CNLOGNO, when it finds no call site at all (a check that
# looks nowhere), and when a test (t/*.t, t/lib) names an ID no call site
# has: a test that looks for a line that cannot be written cannot fail.
# `make test` runs it before the suites.
#
#   scripts/check-logids.sh             the module (mod_connect.c, src/) and its tests (t/)
#   scripts/check-logids.sh PATH ...    these C files, or the .c/.h files under these directories
#
# One result line on stdout ("ok - ..." or "not ok - ..."), each problem
# before it as "# file:line: ..."; exit status 0 when every ID is unique.
set -u

tests=""
if [ $# -eq 0 ]; then
    cd "$(dirname "$0")/.." || exit 2
    set -- mod_connect.c src
    tests=t
fi
for p in "$@" $tests; do
    [ -e "$p" ] || { echo "not ok - log ids: $p does not exist"; exit 1; }
done

# The C files, sorted (the same order on every machine, so the first of two
# sites is stable), then the test files that name IDs, marked "test:".
{
    find "$@" -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort
    if [ -n "$tests" ]; then
        find "$tests" \( -path t/var -o -path t/logs -o -path t/conf -o -path t/unit -o -path t/fuzz \) -prune \
             -o -type f \( -name '*.t' -o -name '*.pm' -o -name '*.pl' \) -print \
            | LC_ALL=C sort | sed 's/^/test:/'
    fi
} | awk '
    function problem(msg) { print "# " file ":" lineno ": " msg; ++problems }
    function scan(line,    rest, i, arg) {
        # the macro itself
        if (line ~ /^[ \t]*#[ \t]*define[ \t]+CNLOGNO[ \t]*\(/) {
            return
        }
        rest = line
        while ((i = index(rest, "CNLOGNO")) > 0) {
            rest = substr(rest, i + 7)
            if (!match(rest, /^[ \t]*\(/)) {
                continue    # the word alone (a comment), not a use
            }
            if (!match(rest, /^[ \t]*\([^)]*\)/)) {
                problem("CNLOGNO( without its closing parenthesis on the same line")
                continue
            }
            arg = substr(rest, RSTART, RLENGTH)
            rest = substr(rest, RSTART + RLENGTH)
            gsub(/^[ \t]*\([ \t]*|[ \t]*\)$/, "", arg)
            ++sites
            if (arg !~ /^[0-9][0-9][0-9][0-9][0-9]$/) {
                problem("CNLOGNO(" arg "): a log ID is five digits")
            } else if (arg in seen) {
                problem("CNLOGNO(" arg ") is already the ID of " seen[arg])
            } else {
                seen[arg] = file ":" lineno
            }
        }
        # an ID written out by hand escapes the check: CNLOGNO only
        if (match(line, /"CN[0-9]+: /)) {
            problem(substr(line, RSTART + 1, RLENGTH - 3) " written by hand: use CNLOGNO(nnnnn)")
        }
    }
    # IDs a test names: each must be the ID of a call site
    function refs(line,    rest) {
        rest = line
        while (match(rest, /CN[0-9][0-9][0-9][0-9][0-9]/)) {
            id = substr(rest, RSTART + 2, 5)
            if (!(id in named)) {
                named[id] = file ":" lineno
            }
            rest = substr(rest, RSTART + RLENGTH)
        }
    }
    /^test:/ {
        file = substr($0, 6)
        lineno = 0
        while ((rc = (getline line < file)) > 0) {
            ++lineno
            refs(line)
        }
        close(file)
        next
    }
    {
        file = $0
        ++nfiles
        lineno = 0
        while ((rc = (getline line < file)) > 0) {
            ++lineno
            scan(line)
        }
        if (rc < 0) {
            lineno = 0
            problem("cannot be read")
        }
        close(file)
    }
    END {
        for (id in named) {
            if (!(id in seen)) {
                print "# " named[id] ": CN" id " is the ID of no call site"
                ++problems
            }
        }
        if (!nfiles) {
            print "not ok - log ids: no C files in the paths given"
            exit 1
        }
        if (problems) {
            print "not ok - log ids: " problems " problem(s) in " sites " call sites"
            exit 1
        }
        if (!sites) {
            print "not ok - log ids: no CNLOGNO call site in " nfiles " files"
            exit 1
        }
        for (id in named) {
            ++nnamed
        }
        print "ok - log ids: " sites " call sites in " nfiles " files, each with its own five-digit ID" \
              (nnamed ? "; the " nnamed " IDs the tests name are all there" : "")
    }'
