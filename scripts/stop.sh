#!/bin/sh
# `make stop`: stop what `make run` started. Its state (database, keys, logs)
# stays where scripts/state.sh put it, for the next `make run`.
set -eu
cd "$(dirname "$0")/.."
TOP=$(pwd)
. scripts/state.sh
if [ -f "$VAR/run/httpd.pid" ] && kill -0 "$(cat "$VAR/run/httpd.pid")" 2>/dev/null; then
  DEFINE=""; [ "$(id -u)" = 0 ] && DEFINE="-D CN_AS_ROOT"
  ${HTTPD:-/usr/sbin/apache2} -f "$VAR/httpd.conf" $DEFINE -k stop
  echo "stopped (state kept in $VAR)"
else
  echo "not running"
fi
