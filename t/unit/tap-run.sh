#!/bin/sh
# Run Check test binaries (each printing TAP on stdout) and merge their output
# into one TAP stream: tests renumbered 1..N across binaries, each binary's own
# plan dropped, one plan printed last. A binary that exits non-zero without a
# failing test of its own (crash, valgrind error, leak under ASan) or whose
# output lacks its plan or disagrees with it adds a "not ok" line.
# Exit status: 0 when everything passed, 1 otherwise.
#
#   tap-run.sh [--wrap "command prefix"] ./test_a ./test_b ...
set -u

wrap=""
if [ "${1:-}" = "--wrap" ]; then
    wrap=$2
    shift 2
fi

out=$(mktemp "${TMPDIR:-/tmp}/tap-run.XXXXXX") || exit 1
trap 'rm -f "$out" "$out.n"' EXIT INT TERM

n=0
fail=0
for t in "$@"; do
    echo "# $t"
    # CK_TAP_LOG_FILE_NAME=- : TAP on stdout even if a binary did not ask for it.
    CK_TAP_LOG_FILE_NAME=- $wrap "$t" >"$out"
    rc=$?
    awk -v base="$n" -v rc="$rc" -v name="$t" -v cnt="$out.n" '
        /^1\.\.[0-9]+/ { plan = substr($1, 4) + 0; have_plan = 1; next }
        /^(not )?ok [0-9]+/ {
            tests++
            if ($1 == "not") { failed++; own++; sub(/^not ok [0-9]+/, "not ok " (base + tests)) }
            else { sub(/^ok [0-9]+/, "ok " (base + tests)) }
            print; next
        }
        { print "# " $0 }
        END {
            if (!have_plan) {
                tests++; failed++
                print "not ok " (base + tests) " - " name ": no TAP plan (exit status " rc ")"
            } else if (plan != tests) {
                tests++; failed++
                print "not ok " (base + tests) " - " name ": planned " plan " tests, ran " tests - 1
            }
            if (rc != 0 && !failed) {
                tests++; failed++
                print "not ok " (base + tests) " - " name ": exit status " rc
            }
            if (rc == 0 && own) {
                tests++
                print "not ok " (base + tests) " - " name ": tests failed but exit status 0"
            }
            print base + tests > cnt
            exit failed ? 1 : 0
        }' "$out" || fail=1
    n=$(cat "$out.n")
done
echo "1..$n"
exit $fail
