#!/bin/sh
# A throw-away PostgreSQL server for the test suite (scripts/test.sh), run as
# the calling (non-root) user:
#
#   scripts/pg.sh start DIR [DBNAME]   initdb into DIR/data, listen on 127.0.0.1 on a
#                                      free port with the socket in DIR, create DBNAME
#                                      (default connect); prints the port
#   scripts/pg.sh stop DIR             stop it (fast); DIR is left for the caller to remove
#   scripts/pg.sh resume DIR           start it again after a stop, on the same port
#   scripts/pg.sh status DIR           exit 0 when it runs
#
# PGBIN overrides the server binaries (default /usr/lib/postgresql/15/bin, else
# the newest /usr/lib/postgresql/*/bin). The server trusts local connections:
# it is for tests only.
set -eu

die() { echo "pg.sh: $*" >&2; exit 1; }

pgbin() {
  if [ -n "${PGBIN:-}" ]; then echo "$PGBIN"; return; fi
  if [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then echo /usr/lib/postgresql/15/bin; return; fi
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] || die "no PostgreSQL server found (apt-get install postgresql)"
  echo "$d"
}

free_port() {
  perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0,
                                  Proto => "tcp", ReuseAddr => 1) or die "no free port: $!\n";
    print $s->sockport, "\n";'
}

[ $# -ge 2 ] || die "usage: pg.sh start|stop|resume|status DIR [DBNAME]"
cmd=$1; dir=$2; db=${3:-connect}
[ "$(id -u)" != 0 ] || die "PostgreSQL refuses to run as root; run this as an unprivileged user"
BIN=$(pgbin)
user=$(id -un)

case "$cmd" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    "$BIN/initdb" -D "$dir/data" -U "$user" --auth=trust --encoding=UTF8 --locale=C \
      --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  fi
  # A free port can be taken between the probe and the bind: try a few.
  tries=0
  while :; do
    port=$(free_port)
    if "$BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 -s \
         -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
         start >/dev/null 2>&1; then
      break
    fi
    tries=$((tries + 1))
    if [ $tries -ge 3 ]; then
      tail -20 "$dir/postgres.log" >&2 || true
      die "the server did not start"
    fi
  done
  echo "$port" >"$dir/port"
  "$BIN/createdb" -h 127.0.0.1 -p "$port" -U "$user" "$db" \
    || { "$BIN/pg_ctl" -D "$dir/data" -m immediate -s stop || true; die "createdb $db failed"; }
  echo "$port"
  ;;
resume)
  [ -f "$dir/port" ] && [ -f "$dir/data/PG_VERSION" ] || die "nothing to resume in $dir"
  port=$(cat "$dir/port")
  "$BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 -s \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null 2>&1 || { tail -20 "$dir/postgres.log" >&2; die "the server did not start again on port $port"; }
  echo "$port"
  ;;
stop)
  if [ -f "$dir/data/postmaster.pid" ]; then
    "$BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 -s stop \
      || "$BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 -s stop
  fi
  ;;
status)
  "$BIN/pg_ctl" -D "$dir/data" -s status >/dev/null 2>&1
  ;;
*)
  die "unknown command $cmd (start, stop, resume, status)"
  ;;
esac
