#!/bin/sh
# The shared caches of the several-node tests (ConnectCache memcache:/redis:):
# a memcached and a redis-server (Debian's), each on a free port of
# 127.0.0.1, run by the (unprivileged) user of the tests, nothing on disk.
#
#   caches.sh start DIR    starts both, prints "memcache=PORT redis=PORT";
#                          pids in DIR/memcached.pid and DIR/redis.pid, their
#                          output in DIR/memcached.log and DIR/redis.log
#   caches.sh stop DIR     stops the two started for DIR
#
# scripts/test.sh starts them once per pass and hands their ports to
# t/TEST.PL (-cn_memcacheport, -cn_redisport).
set -eu

MEMCACHED=${MEMCACHED:-$(command -v memcached || echo /usr/bin/memcached)}
REDIS=${REDIS:-$(command -v redis-server || echo /usr/bin/redis-server)}
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: caches.sh start|stop DIR" >&2; exit 2; }

free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

answers() { # PORT: something accepts connections there
    python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null
}

# start_one NAME: the server NAME on a free port (a few tries: a free port
# can be taken between the probe and the bind); prints the port.
start_one() {
    name=$1
    tries=0
    while [ $tries -lt 5 ]; do
        tries=$((tries + 1))
        port=$(free_port)
        case "$name" in
        memcached)
            "$MEMCACHED" -l 127.0.0.1 -p "$port" -U 0 -m 16 -c 256 -t 2 \
                >"$dir/memcached.log" 2>&1 </dev/null &
            ;;
        redis)
            "$REDIS" --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
                --dir "$dir" --logfile "$dir/redis.log" --daemonize no \
                >/dev/null 2>&1 </dev/null &
            ;;
        esac
        pid=$!
        echo "$pid" >"$dir/$name.pid"
        i=0
        while [ $i -lt 50 ]; do
            if answers "$port"; then
                echo "$port"
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
            i=$((i + 1))
        done
        kill "$pid" 2>/dev/null || true
    done
    echo "caches.sh: $name did not start (see $dir/$name.log)" >&2
    return 1
}

stop_one() {
    if [ -s "$dir/$1.pid" ]; then
        pid=$(cat "$dir/$1.pid")
        kill "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        rm -f "$dir/$1.pid"
    fi
}

case "$cmd" in
start)
    mkdir -p "$dir"
    mc=$(start_one memcached) || exit 1
    rd=$(start_one redis) || { stop_one memcached; exit 1; }
    echo "memcache=$mc redis=$rd"
    ;;
stop)
    stop_one memcached
    stop_one redis
    ;;
*)
    echo "caches.sh: unknown command $cmd (start, stop)" >&2
    exit 2
    ;;
esac
