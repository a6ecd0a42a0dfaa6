#!/bin/bash
# The Apache::Test suite (t/*.t) against the built module in a real httpd
# (event MPM), three times: on SQLite, on a PostgreSQL server started here on
# 127.0.0.1 and removed afterwards, and on SQLite with mod_session_crypto
# encrypting the session cookie as well (pass sqlite-crypto; the shipped
# configurations leave it out). `make test` runs it after the build.
#
#   scripts/test.sh [t/foo.t ...]       only these test files
#   CN_PASSES="sqlite"                  only some passes (default "sqlite pgsql sqlite-crypto",
#                                       with "root" first when run as root)
#   CN_MODULE=build-asan/mod_connect.so CN_SANITIZE=1 scripts/test.sh    (make asan)
#   CN_KEEP=1                           keep the temporary work tree (root) and files
#   CN_VERBOSE=1                        every test line (Apache::Test's -verbose)
#
# Apache::Test and PostgreSQL refuse to run as root. As root this script
# first runs the pass "root": the tests of t/root/ (`make run` as root from a
# private directory), with prove, in place; then it creates the user cntest
# (CN_TEST_USER), copies the repository (with the built module) into a
# temporary directory that user owns, and runs itself there as that user for
# the other passes; the logs of each pass are copied back to
# t/var/results/<pass>/. As any other user it runs in place (and has no
# "root" pass). Exits non-zero on any failure.
#
# The hosted OAuth tests talk to fake Google and Microsoft endpoints
# (t/fake/fake_provider.py, TLS under a test CA made by t/fake/mkcerts.sh):
# one fake per pass on a free loopback port, stopped after the pass; its port,
# CA and seed file (refresh tokens for native authentication) reach the
# configuration and the tests as -cn_fakeport, -cn_cafile and -cn_fakeseed.
# The IMAP tests talk to a real Dovecot (t/fake/dovecot.sh: its own
# configuration, run as the test user, the fake's test CA), one per pass; its
# ports and directory reach them as -cn_imapport, -cn_imapstarttls,
# -cn_imapsilent, -cn_imapuntrusted and -cn_imapdir.
# Auto-discovery asks a name server of its own: dnsmasq (t/fake/dns.sh), one
# per pass on a free loopback port, handed over as -cn_dnsport.
# The several-node tests share a memcached and a redis-server
# (t/fake/caches.sh), one each per pass on free loopback ports, handed over as
# -cn_memcacheport and -cn_redisport; the pgsql pass hands its PostgreSQL's
# directory over as -cn_pgdir (t/nodes_db_outage.t stops and starts it).
set -uo pipefail
cd "$(dirname "$0")/.."
TOP=$(pwd)
TEST_USER=${CN_TEST_USER:-cntest}
MODULE=${CN_MODULE:-build/mod_connect.so}
DEFAULT_PASSES="sqlite pgsql sqlite-crypto"
[ "$(id -u)" = 0 ] && DEFAULT_PASSES="root $DEFAULT_PASSES"
PASSES=${CN_PASSES:-$DEFAULT_PASSES}
HTTPD=${HTTPD:-/usr/sbin/apache2}
APXS=${APXS:-$(command -v apxs || echo /usr/bin/apxs)}

say() { printf '%s\n' "test.sh: $*"; }
die() { printf '%s\n' "test.sh: $*" >&2; exit 1; }

case "$MODULE" in /*) ;; *) MODULE=$TOP/$MODULE ;; esac
[ -f "$MODULE" ] || die "$MODULE is missing: build it first (make build)"

# One line per pass; a pass run as root before reaches the inner run here.
SUMMARY=()
FAILED=${CN_ROOT_FAILED:-0}
[ -n "${CN_ROOT_SUMMARY:-}" ] && SUMMARY=("$CN_ROOT_SUMMARY")
print_summary() {
  local label=${MODULE#"$TOP"/} line
  [ "${CN_SANITIZE:-0}" = 1 ] && label="$label, ASan+UBSan"
  echo
  echo "==== mod_connect Apache::Test suite ($label) ===="
  for line in "${SUMMARY[@]}"; do echo "$line"; done
  if [ "$FAILED" = 0 ]; then
    echo "==== ALL PASSES PASSED ===="
  else
    echo "==== FAILED (logs: t/var/results/) ===="
  fi
}

# ---- as root: the root pass, then an unprivileged user, a copy it owns, and
# this script again for the other passes ----------------------------------------
if [ "$(id -u)" = 0 ]; then
  ROOT_FILES=()
  OTHER_FILES=()
  for f in "$@"; do
    case "$f" in t/root/*|./t/root/*) ROOT_FILES+=("$f") ;; *) OTHER_FILES+=("$f") ;; esac
  done
  INNER_PASSES=""
  RUN_ROOT=0
  for pass in $PASSES; do
    if [ "$pass" = root ]; then RUN_ROOT=1; else INNER_PASSES="$INNER_PASSES $pass"; fi
  done
  INNER_PASSES=${INNER_PASSES# }
  # Named test files choose the passes they belong to.
  if [ $# -gt 0 ]; then
    [ ${#ROOT_FILES[@]} -gt 0 ] || RUN_ROOT=0
    [ ${#OTHER_FILES[@]} -gt 0 ] || INNER_PASSES=""
  else
    ROOT_FILES=(t/root/*.t)
  fi
  if ! id -u "$TEST_USER" >/dev/null 2>&1; then
    useradd --system --user-group --create-home --home-dir "/var/lib/$TEST_USER" \
            --shell /usr/sbin/nologin "$TEST_USER" 2>/dev/null \
      || id -u "$TEST_USER" >/dev/null 2>&1 || die "cannot create the user $TEST_USER"
    say "created the unprivileged user $TEST_USER"
  fi
  WORK=$(mktemp -d /tmp/mod_connect-test.XXXXXX) || die "mktemp failed"
  ROOT_OUT=$WORK/.root-results
  cleanup_root() {
    if [ -d "$WORK/t/var/results" ] || [ -d "$ROOT_OUT" ]; then
      rm -rf "$TOP/t/var/results"; mkdir -p "$TOP/t/var/results"
      cp -a "$WORK/t/var/results/." "$TOP/t/var/results/" 2>/dev/null || true
      [ -d "$ROOT_OUT" ] && cp -a "$ROOT_OUT" "$TOP/t/var/results/root"
      chown -R --reference="$TOP" "$TOP/t/var" 2>/dev/null || true
    fi
    if [ "${CN_KEEP:-0}" = 1 ]; then say "kept the work tree $WORK"; else rm -rf "$WORK"; fi
  }
  trap cleanup_root EXIT
  trap 'exit 130' INT TERM
  if [ "$RUN_ROOT" = 1 ]; then
    mkdir -p "$ROOT_OUT"
    say "=== pass root: ${ROOT_FILES[*]} ==="
    t0=$SECONDS
    prove ${CN_VERBOSE:+-v} "${ROOT_FILES[@]}" 2>&1 | tee "$ROOT_OUT/prove.log"
    rc=${PIPESTATUS[0]}
    result=$(grep -E '^Files=' "$ROOT_OUT/prove.log" | tail -1)
    grep -q '^Result: PASS' "$ROOT_OUT/prove.log" || { [ "$rc" = 0 ] && rc=1; }
    if [ "$rc" = 0 ]; then
      CN_ROOT_SUMMARY="PASS  root ($((SECONDS - t0)) s) $result"
    else
      FAILED=1
      CN_ROOT_SUMMARY="FAIL  root ($((SECONDS - t0)) s) exit $rc $result  logs: t/var/results/root"
    fi
    SUMMARY=("$CN_ROOT_SUMMARY")
  fi
  if [ -z "$INNER_PASSES" ]; then
    print_summary
    exit "$FAILED"
  fi
  set -- "${OTHER_FILES[@]}"
  # The repository and the built module(s), without git metadata, old runs
  # and the root pass's tests.
  tar -C "$TOP" --exclude=./.git --exclude=./var --exclude=./t/logs --exclude=./t/var --exclude=./t/root \
      --exclude=./t/conf/httpd.conf --exclude=./t/conf/extra.conf \
      --exclude=./t/conf/apache_test_config.pm --exclude=./bench/out -cf - . \
    | tar -C "$WORK" -xf - || die "cannot copy the repository to $WORK"
  case "$MODULE" in
    "$TOP"/*) INNER_MODULE=$WORK/${MODULE#"$TOP"/} ;;
    *) mkdir -p "$WORK/.module"; cp "$MODULE" "$WORK/.module/mod_connect.so"
       INNER_MODULE=$WORK/.module/mod_connect.so ;;
  esac
  chown -R "$TEST_USER:" "$WORK"
  chmod 0755 "$WORK"
  say "running as $TEST_USER in $WORK"
  cd "$WORK"
  runuser -u "$TEST_USER" -- env CN_MODULE="$INNER_MODULE" HOME="$(getent passwd "$TEST_USER" | cut -d: -f6)" \
    CN_PASSES="$INNER_PASSES" CN_ROOT_SUMMARY="${CN_ROOT_SUMMARY:-}" CN_ROOT_FAILED="$FAILED" \
    "$WORK/scripts/test.sh" "$@"
  exit $?
fi

# ---- as an unprivileged user ------------------------------------------------
for m in Apache::Test LWP::UserAgent LWP::Protocol::https JSON DBD::SQLite DBD::Pg Crypt::PK::RSA Crypt::JWT; do
  perl -M"$m" -e1 2>/dev/null || die "perl module $m is missing (make deps, as root)"
done
for c in python3 openssl curl dovecot memcached redis-server; do
  command -v "$c" >/dev/null 2>&1 || die "$c is missing (make deps, as root)"
done

VAR=$TOP/t/var
RESULTS=$VAR/results
chmod 0600 t/conf/keys/* 2>/dev/null || true    # key material: owner only
mkdir -p "$VAR"
rm -rf "$RESULTS" "$VAR/standalone" "$VAR/db" "$VAR/fake"
mkdir -p "$RESULTS"
PGDIR=""
FAKEDIR=""
FAKEPID=""
FAKEPORT=""

stop_httpd() {
  local pid
  if [ -f "$TOP/t/logs/httpd.pid" ] && pid=$(cat "$TOP/t/logs/httpd.pid" 2>/dev/null) \
     && kill -0 "$pid" 2>/dev/null; then
    perl t/TEST.PL -stop-httpd >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  fi
}
stop_pg() {
  if [ -n "$PGDIR" ]; then
    scripts/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true
    if [ "${CN_KEEP:-0}" = 1 ]; then say "kept $PGDIR"; else rm -rf "$PGDIR"; fi
    PGDIR=""
  fi
}
# The fake providers: certificates and seed once per run, a server per pass.
setup_fake() {
  FAKEDIR=$(mktemp -d /tmp/cnfake.XXXXXX) || die "mktemp failed"
  chmod 0755 "$FAKEDIR"
  sh t/fake/mkcerts.sh "$FAKEDIR/certs" || die "t/fake/mkcerts.sh failed"
  chmod 0755 "$FAKEDIR/certs"
  local p
  {
    echo "# provider refresh_token email (written by scripts/test.sh)"
    for p in google microsoft; do
      printf '%s rt-seed-%s-%s native.%s@example.com\n' "$p" "$p" "$(openssl rand -hex 12)" "$p"
      printf '%s rt-seed-%s-%s Native.Mixed.%s@Example.COM\n' "$p" "$p" "$(openssl rand -hex 12)" "$p"
    done
  } >"$FAKEDIR/seed"
}
# start_fake LOGFILE: sets FAKEPID and FAKEPORT, or fails.
start_fake() {
  local log=$1 i
  FAKEPORT=""
  python3 t/fake/fake_provider.py 0 "$FAKEDIR/certs/server.pem" "$FAKEDIR/certs/server.key" \
          "$FAKEDIR/seed" >"$log" 2>&1 </dev/null &
  FAKEPID=$!
  for i in $(seq 1 100); do
    FAKEPORT=$(sed -n 's|^fake providers on https://127\.0\.0\.1:\([0-9][0-9]*\)$|\1|p' "$log" 2>/dev/null | head -1)
    [ -n "$FAKEPORT" ] && break
    kill -0 "$FAKEPID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$FAKEPORT" ] \
     || ! curl -sf --max-time 5 --cacert "$FAKEDIR/certs/ca.pem" "https://127.0.0.1:$FAKEPORT/_log" >/dev/null; then
    say "the fake providers did not start:"; sed 's/^/    /' "$log" >&2
    stop_fake
    return 1
  fi
  say "fake providers on https://127.0.0.1:$FAKEPORT (pid $FAKEPID)"
}
# stop_fake [DIR]: what the fake received goes to DIR/fake_received.json first.
stop_fake() {
  if [ -n "$FAKEPID" ]; then
    if [ -n "${1:-}" ] && [ -n "$FAKEPORT" ]; then
      curl -sf --max-time 10 --cacert "$FAKEDIR/certs/ca.pem" "https://127.0.0.1:$FAKEPORT/_log" \
        >"$1/fake_received.json" 2>/dev/null || rm -f "$1/fake_received.json"
    fi
    kill "$FAKEPID" 2>/dev/null || true
    wait "$FAKEPID" 2>/dev/null || true
    FAKEPID=""
    FAKEPORT=""
  fi
}
cleanup_fake() {
  stop_fake
  if [ -n "$FAKEDIR" ]; then
    if [ "${CN_KEEP:-0}" = 1 ]; then say "kept $FAKEDIR"; else rm -rf "$FAKEDIR"; fi
    FAKEDIR=""
  fi
}
# Dovecot for the IMAP tests: start_imap NAME sets IMAPDIR and IMAP_OPTS, or fails.
IMAPDIR=""
IMAP_OPTS=""
start_imap() {
  local out=$RESULTS/$1 line
  IMAPDIR=$FAKEDIR/dovecot-$1
  if ! line=$(sh t/fake/dovecot.sh start "$IMAPDIR" "$FAKEDIR/certs" "https://127.0.0.1:$FAKEPORT" \
                2>"$out/dovecot.start"); then
    say "Dovecot did not start:"; sed 's/^/    /' "$out/dovecot.start" >&2
    stop_imap
    return 1
  fi
  # imaps=N starttls=N silent=N untrusted_host=H users=F log=F
  IMAP_OPTS=$(printf '%s\n' "$line" | sed -n \
    's|^imaps=\([0-9]*\) starttls=\([0-9]*\) silent=\([0-9]*\) untrusted_host=\([0-9.]*\) .*$|-cn_imapport \1 -cn_imapstarttls \2 -cn_imapsilent \3 -cn_imapuntrusted \4|p')
  [ -n "$IMAP_OPTS" ] || { say "Dovecot said: $line"; stop_imap; return 1; }
  IMAP_OPTS="$IMAP_OPTS -cn_imapdir $IMAPDIR"
  # The XOAUTH2 Dovecot (oauth2 passdb at the fake's tokeninfo), when it runs.
  local xoauth2
  xoauth2=$(printf '%s\n' "$line" | sed -n 's|^.* xoauth2=\([0-9]*\) .*$|\1|p')
  [ -z "$xoauth2" ] || IMAP_OPTS="$IMAP_OPTS -cn_imapxoauth2 $xoauth2"
  say "Dovecot: $line"
}
# stop_imap [DIR]: its log goes to DIR first.
stop_imap() {
  if [ -n "$IMAPDIR" ]; then
    sh t/fake/dovecot.sh stop "$IMAPDIR" >/dev/null 2>&1 || true
    [ -n "${1:-}" ] && cp "$IMAPDIR/dovecot.log" "$1/dovecot.log" 2>/dev/null
    [ -n "${1:-}" ] && cp "$IMAPDIR/oauth/dovecot.log" "$1/dovecot-xoauth2.log" 2>/dev/null
    IMAPDIR=""
    IMAP_OPTS=""
  fi
}
# The test name server of a pass (t/fake/dns.sh): its files in DIR.
DNSDIR=""
DNSPORT=""
start_dns() {
  DNSDIR=$1
  # Dovecot's ports become SRV records of dovecot.test (see t/fake/dns.sh).
  DNSPORT=$(DOVECOT_IMAPS=$(printf '%s' "$IMAP_OPTS" | sed -n 's/.*-cn_imapport \([0-9]*\).*/\1/p') \
            DOVECOT_STARTTLS=$(printf '%s' "$IMAP_OPTS" | sed -n 's/.*-cn_imapstarttls \([0-9]*\).*/\1/p') \
            sh t/fake/dns.sh start "$DNSDIR") || { DNSPORT=""; return 1; }
  say "test name server on 127.0.0.1:$DNSPORT (dnsmasq, $DNSDIR)"
}
stop_dns() {
  if [ -n "$DNSDIR" ]; then
    sh t/fake/dns.sh stop "$DNSDIR" || true
    DNSDIR=""
    DNSPORT=""
  fi
}
# memcached and redis-server of a pass (t/fake/caches.sh): their files in DIR.
CACHEDIR=""
CACHE_OPTS=""
start_caches() {
  local line
  CACHEDIR=$1
  line=$(sh t/fake/caches.sh start "$CACHEDIR") || { CACHEDIR=""; return 1; }
  CACHE_OPTS=$(printf '%s\n' "$line" | sed -n 's|^memcache=\([0-9]*\) redis=\([0-9]*\)$|-cn_memcacheport \1 -cn_redisport \2|p')
  [ -n "$CACHE_OPTS" ] || { stop_caches; return 1; }
  say "shared caches on 127.0.0.1: $line ($CACHEDIR)"
}
stop_caches() {
  if [ -n "$CACHEDIR" ]; then
    sh t/fake/caches.sh stop "$CACHEDIR" || true
    CACHEDIR=""
    CACHE_OPTS=""
  fi
}
cleanup() { stop_httpd; stop_imap; cleanup_fake; stop_dns; stop_caches; stop_pg; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Sanitizers: httpd itself is not instrumented, so the ASan runtime is
# preloaded by a wrapper; reports go to files under t/logs that fail the run.
HTTPD_RUN=$HTTPD
if [ "${CN_SANITIZE:-0}" = 1 ]; then
  ASAN_LIB=$(gcc -print-file-name=libasan.so)
  [ -f "$ASAN_LIB" ] || die "no ASan runtime found (gcc -print-file-name=libasan.so: $ASAN_LIB)"
  ASAN_LIB=$(readlink -f "$ASAN_LIB")
  HTTPD_RUN=$VAR/httpd-sanitized
  cat >"$HTTPD_RUN" <<EOF
#!/bin/sh
# written by scripts/test.sh: $HTTPD with the ASan runtime preloaded
LD_PRELOAD="$ASAN_LIB\${LD_PRELOAD:+:\$LD_PRELOAD}" exec "$HTTPD" "\$@"
EOF
  chmod 0755 "$HTTPD_RUN"
  SAN_LOG=$TOP/t/logs/sanitizer
  # Leak checking is left to the unit tests: httpd's own exit paths leak by design.
  export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=0:log_path=$SAN_LOG:log_exe_name=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$SAN_LOG:log_exe_name=1"
  say "sanitizers on: $MODULE, httpd via $HTTPD_RUN (LD_PRELOAD $ASAN_LIB)"
fi

# run_pass NAME [TEST.PL options]: one run of the whole suite.
run_pass() {
  local name=$1; shift
  local out=$RESULTS/$name
  mkdir -p "$out"
  say "=== pass $name: $* ==="
  perl t/TEST.PL -clean >/dev/null 2>&1
  rm -rf "$VAR/db" "$VAR/standalone"
  mkdir -p "$TOP/t/logs"
  rm -f "$TOP"/t/logs/sanitizer* "$TOP"/t/core "$TOP"/t/core.*
  local t0=$SECONDS rc problems=""
  if ! start_fake "$out/fake_provider.log"; then
    FAILED=1
    SUMMARY+=("FAIL  $name: the fake providers did not start (logs: t/var/results/$name)")
    return
  fi
  if ! start_imap "$name"; then
    stop_fake
    FAILED=1
    SUMMARY+=("FAIL  $name: Dovecot did not start (logs: t/var/results/$name)")
    return
  fi
  if ! start_dns "$out/dns"; then
    stop_imap
    stop_fake
    FAILED=1
    SUMMARY+=("FAIL  $name: the test name server did not start (logs: t/var/results/$name/dns)")
    return
  fi
  if ! start_caches "$out/caches"; then
    stop_dns
    stop_imap
    stop_fake
    FAILED=1
    SUMMARY+=("FAIL  $name: memcached or redis-server did not start (logs: t/var/results/$name/caches)")
    return
  fi
  perl t/TEST.PL -apxs "$APXS" -httpd "$HTTPD_RUN" -port select -cn_module "$MODULE" \
       -cn_fakeport "$FAKEPORT" -cn_cafile "$FAKEDIR/certs/ca.pem" -cn_fakeseed "$FAKEDIR/seed" \
       -cn_dnsport "$DNSPORT" $IMAP_OPTS $CACHE_OPTS "$@" ${CN_VERBOSE:+-verbose} $TEST_FILES 2>&1 | tee "$out/prove.log"
  rc=${PIPESTATUS[0]}
  stop_httpd
  stop_caches
  stop_dns
  stop_imap "$out"
  kill -0 "$FAKEPID" 2>/dev/null || problems="$problems the fake providers died (t/var/results/$name/fake_provider.log)"
  stop_fake "$out"
  grep -q '^Result: PASS' "$out/prove.log" || { [ "$rc" = 0 ] && rc=1; }
  # A child that crashed fails the run even if every test passed.
  if grep -E 'exit signal (Segmentation fault|Aborted|Bus error|Illegal instruction|Floating point exception)' \
        "$TOP/t/logs/error_log" >"$out/crashes" 2>/dev/null; then
    problems="$problems httpd children crashed ($(wc -l <"$out/crashes"))"
    cat "$out/crashes"
  else
    rm -f "$out/crashes"
  fi
  # A sanitizer report that went to stderr, i.e. into the error log (UBSan's does).
  if grep -E -A3 'runtime error:|ERROR: (Address|Leak|Thread|Memory)Sanitizer|SUMMARY: [A-Za-z]+Sanitizer' \
        "$TOP/t/logs/error_log" >"$out/sanitizer-in-error_log" 2>/dev/null; then
    problems="$problems sanitizer report in error_log"
    head -40 "$out/sanitizer-in-error_log"
  else
    rm -f "$out/sanitizer-in-error_log"
  fi
  # Core files (Apache::Test allows them, in t/): a backtrace, then away.
  local core
  for core in "$TOP"/t/core "$TOP"/t/core.*; do
    [ -f "$core" ] || continue
    problems="$problems core dumped"
    if command -v gdb >/dev/null 2>&1; then
      gdb -q -batch -ex 'bt 30' "$HTTPD" "$core" >"$out/$(basename "$core").bt" 2>&1 || true
      say "backtrace of $(basename "$core"): t/var/results/$name/$(basename "$core").bt"
      grep '^#' "$out/$(basename "$core").bt" | head -12 | sed 's/^/    /'
    fi
    rm -f "$core"
  done
  local san
  san=$(ls "$TOP"/t/logs/sanitizer* 2>/dev/null || true)
  if [ -n "$san" ]; then
    problems="$problems sanitizer reports: $(for f in $san; do printf '%s ' "${f##*/}"; done)"
    for f in $san; do echo "--- $f"; head -60 "$f"; done
  fi
  cp -a "$TOP/t/logs/." "$out/" 2>/dev/null || true
  local secs=$((SECONDS - t0)) result
  result=$(grep -E '^Files=' "$out/prove.log" | tail -1)
  if [ "$rc" = 0 ] && [ -z "$problems" ]; then
    SUMMARY+=("PASS  $name ($secs s) $result")
  else
    FAILED=1
    SUMMARY+=("FAIL  $name ($secs s) exit $rc${problems:+;$problems} $result  logs: t/var/results/$name")
    say "pass $name failed; last lines of its error_log:"
    tail -25 "$TOP/t/logs/error_log" 2>/dev/null | sed 's/^/    /'
  fi
}

TEST_FILES="$*"
setup_fake
for pass in $PASSES; do
  case "$pass" in
  sqlite)
    run_pass sqlite -cn_dbdriver sqlite3
    ;;
  pgsql)
    PGDIR=$(mktemp -d /tmp/cnpg.XXXXXX) || die "mktemp failed"
    if PGPORT=$(scripts/pg.sh start "$PGDIR" connect); then
      say "PostgreSQL on 127.0.0.1:$PGPORT (data in $PGDIR)"
      run_pass pgsql -cn_dbdriver pgsql \
        -cn_dbdparams "host=127.0.0.1 port=$PGPORT dbname=connect user=$(id -un)" -cn_pgdir "$PGDIR"
      cp "$PGDIR/postgres.log" "$RESULTS/pgsql/postgres.log" 2>/dev/null || true
    else
      FAILED=1
      SUMMARY+=("FAIL  pgsql: PostgreSQL did not start")
    fi
    stop_pg
    ;;
  sqlite-crypto)
    run_pass sqlite-crypto -cn_dbdriver sqlite3 -cn_sessioncrypto 1
    ;;
  root)
    SUMMARY+=("SKIP  root: the tests of t/root/ need root")
    ;;
  *) die "unknown pass $pass (root, sqlite, pgsql, sqlite-crypto)" ;;
  esac
done
perl t/TEST.PL -clean >/dev/null 2>&1 || true

print_summary
exit $FAILED
