# Sourced by scripts/run.sh and scripts/stop.sh: where `make run` keeps what
# the server's children open after start-up (the SQLite database with its
# -wal/-shm files, the keys, logs, pid and lock files, htdocs, the generated
# httpd.conf). Sets VAR.
#
# Normally ./var in the tree. As root the children run as www-data, which
# cannot reach ./var when the tree lies under a directory it cannot search
# (a clone in /root, mode 0700 on Debian): then the state lives in a
# directory of its own under /var/lib/mod_connect/, named after the tree's
# path so that two clones do not share it. `make stop` finds it the same way
# and leaves it for the next `make run`.
RUN_USER=www-data
STATE_ROOT=/var/lib/mod_connect

state_dir_of() { # TOP
  if [ "$(id -u)" = 0 ] && ! runuser -u "$RUN_USER" -- test -x "$1" 2>/dev/null; then
    printf '%s/%s-%s\n' "$STATE_ROOT" "$(basename "$1" | tr -c 'A-Za-z0-9._\n-' '_')" \
      "$(printf '%s' "$1" | sha256sum | cut -c1-12)"
  else
    printf '%s/var\n' "$1"
  fi
}
VAR=$(state_dir_of "$TOP")
