#!/bin/sh
# A real Dovecot (dovecot-imapd) for the IMAP tests, run as the calling
# (unprivileged) user on loopback with a configuration of its own: no system
# configuration is read, everything lives under DIR.
#
#   t/fake/dovecot.sh start DIR CERTDIR [FAKEURL]
#                                         start; prints one line "name=value ..." (below)
#   t/fake/dovecot.sh stop DIR            stop what start started (by its pid files)
#
# CERTDIR is t/fake/mkcerts.sh's: the test CA's certificate for
# 127.0.0.1/localhost (server.pem, server.key). What runs:
#   imaps     127.0.0.1:IMAPS       TLS from the first byte, the test CA's certificate
#   starttls  127.0.0.1:STARTTLS    plain TCP with STARTTLS (and, from loopback, plain LOGIN)
#   untrusted 127.0.0.2:IMAPS       the same Dovecot, with a certificate of another CA
#   silent    127.0.0.1:SILENT      accepts TCP connections and never says a word
#   xoauth2   127.0.0.1:XOAUTH2     with FAKEURL (the fake providers, t/fake/fake_provider.py):
#                                   a second Dovecot (DIR/oauth) whose only passdb is
#                                   oauth2, AUTHENTICATE XOAUTH2/OAUTHBEARER over TLS,
#                                   the bearer validated at FAKEURL/google/tokeninfo (the
#                                   fake's tokens only; user = the token's email)
# Users (DIR/users, "name password" per line, passwords fresh per start):
# alice, bob (each a mailbox of their own). Dovecot logs to DIR/dovecot.log
# (a login line says TLS when the session was encrypted).
#
# The line printed (and written to DIR/env):
#   imaps=N starttls=N silent=N untrusted_host=127.0.0.2 users=DIR/users log=DIR/dovecot.log
#   [xoauth2=N xoauth2_log=DIR/oauth/dovecot.log]
set -eu

die() { echo "dovecot.sh: $*" >&2; exit 1; }

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: dovecot.sh start DIR CERTDIR | stop DIR"

# stop_one CONFDIR: the Dovecot of CONFDIR/dovecot.conf (pid in CONFDIR/run).
stop_one() {
    if [ -f "$1/dovecot.conf" ] && [ -f "$1/run/master.pid" ]; then
        dovecot -c "$1/dovecot.conf" stop >/dev/null 2>&1 || true
        i=0
        while [ $i -lt 50 ] && [ -f "$1/run/master.pid" ] \
              && kill -0 "$(cat "$1/run/master.pid")" 2>/dev/null; do
            sleep 0.1; i=$((i + 1))
        done
    fi
}

stop() {
    stop_one "$dir"
    stop_one "$dir/oauth"
    if [ -f "$dir/silent.pid" ]; then
        kill "$(cat "$dir/silent.pid")" 2>/dev/null || true
        rm -f "$dir/silent.pid"
    fi
}

case "$cmd" in
stop) stop; exit 0 ;;
start) ;;
*) die "unknown command $cmd (start, stop)" ;;
esac

certs=${3:-}
fakeurl=${4:-}
[ -n "$certs" ] && [ -s "$certs/server.pem" ] && [ -s "$certs/server.key" ] \
    || die "CERTDIR needs the test CA's server certificate (t/fake/mkcerts.sh)"
command -v dovecot >/dev/null 2>&1 || die "dovecot is missing (make deps, as root: dovecot-imapd)"
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir/run" "$dir/state" "$dir/mail"
dir=$(cd "$dir" && pwd)
user=$(id -un)
group=$(id -gn)

# A certificate for 127.0.0.2 from a CA nobody trusts.
if [ ! -s "$dir/untrusted.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=untrusted test CA" \
        -keyout "$dir/untrusted-ca.key" -out "$dir/untrusted-ca.pem" >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.2" -keyout "$dir/untrusted.key" \
        -out "$dir/untrusted.csr" >/dev/null 2>&1
    printf 'subjectAltName=IP:127.0.0.2,IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
        >"$dir/untrusted.ext"
    openssl x509 -req -in "$dir/untrusted.csr" -CA "$dir/untrusted-ca.pem" \
        -CAkey "$dir/untrusted-ca.key" -CAcreateserial -days 30 -extfile "$dir/untrusted.ext" \
        -out "$dir/untrusted.pem" >/dev/null 2>&1
fi

# Free loopback ports for Dovecot's listeners (the silent one picks its own).
set -- $(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
imaps=$1
starttls=$2
xoauth2=$3

# Test users with fresh passwords; Dovecot reads them as {PLAIN}.
: >"$dir/users"
: >"$dir/passwd"
for u in alice bob; do
    pw="imap-pw-$u-$(openssl rand -hex 12)"
    printf '%s %s\n' "$u" "$pw" >>"$dir/users"
    printf '%s:{PLAIN}%s::::::\n' "$u" "$pw" >>"$dir/passwd"
done
chmod 0600 "$dir/users" "$dir/passwd"

cat >"$dir/dovecot.conf" <<EOF
# written by t/fake/dovecot.sh: a Dovecot of the tests, run as $user
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
debug_log_path = $dir/dovecot.log
default_internal_user = $user
default_internal_group = $group
default_login_user = $user
protocols = imap
listen = 127.0.0.1, 127.0.0.2
ssl = yes
ssl_cert = <$certs/server.pem
ssl_key = <$certs/server.key
ssl_min_protocol = TLSv1.2
local 127.0.0.2 {
  ssl_cert = <$dir/untrusted.pem
  ssl_key = <$dir/untrusted.key
}
auth_mechanisms = plain login
# A refused password is told at once (2 s by default), and the failures
# before it do not slow later logins down (no auth penalty: anvil offers no
# anvil-auth-penalty socket, below): the suite's ConnectIMAPTimeout is 2 s,
# and every login comes from 127.0.0.1.
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/passwd
}
userdb {
  driver = static
  args = uid=$(id -u) gid=$(id -g) home=$dir/mail/%u
}
mail_location = maildir:~/Maildir
service imap-login {
  chroot =
  inet_listener imap {
    port = $starttls
  }
  inet_listener imaps {
    port = $imaps
    ssl = yes
  }
}
service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  unix_listener auth-userdb {
    mode = 0600
  }
}
EOF

# The XOAUTH2 Dovecot: bearer tokens checked at the fake's token-info
# endpoint (Google's tokeninfo: the email it answers must be the user the
# client names), over TLS under the test CA.
if [ -n "$fakeurl" ]; then
    [ -s "$certs/ca.pem" ] || die "CERTDIR needs the test CA (ca.pem) for the XOAUTH2 Dovecot"
    mkdir -p "$dir/oauth/run" "$dir/oauth/state" "$dir/oauth/mail"
    cat >"$dir/oauth/dovecot-oauth2.conf.ext" <<EOF
tokeninfo_url = $fakeurl/google/tokeninfo?access_token=
username_attribute = email
tls_ca_cert_file = $certs/ca.pem
EOF
    cat >"$dir/oauth/dovecot.conf" <<EOF
# written by t/fake/dovecot.sh: the XOAUTH2 Dovecot of the tests, run as $user
base_dir = $dir/oauth/run
state_dir = $dir/oauth/state
log_path = $dir/oauth/dovecot.log
info_log_path = $dir/oauth/dovecot.log
debug_log_path = $dir/oauth/dovecot.log
default_internal_user = $user
default_internal_group = $group
default_login_user = $user
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <$certs/server.pem
ssl_key = <$certs/server.key
ssl_min_protocol = TLSv1.2
auth_mechanisms = xoauth2 oauthbearer
auth_failure_delay = 0
auth_verbose = yes
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $dir/oauth/dovecot-oauth2.conf.ext
}
userdb {
  driver = static
  args = uid=$(id -u) gid=$(id -g) home=$dir/oauth/mail/%u
}
mail_location = maildir:~/Maildir
service imap-login {
  chroot =
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = $xoauth2
    ssl = yes
  }
}
service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  unix_listener auth-userdb {
    mode = 0600
  }
}
service auth-worker {
  user = $user
}
EOF
fi

stop
# A socket left by an earlier start would make auth wait for it (5 s).
rm -f "$dir/run/anvil-auth-penalty" "$dir/oauth/run/anvil-auth-penalty"
dovecot -c "$dir/dovecot.conf" || { cat "$dir/dovecot.log" >&2 2>/dev/null; die "dovecot did not start"; }
if [ -n "$fakeurl" ]; then
    dovecot -c "$dir/oauth/dovecot.conf" \
        || { cat "$dir/oauth/dovecot.log" >&2 2>/dev/null; stop; die "the XOAUTH2 dovecot did not start"; }
fi

# The listener that never answers: it accepts and holds connections.
python3 "$here/silent_listener.py" >"$dir/silent.out" 2>&1 </dev/null &
echo $! >"$dir/silent.pid"
silent=""
i=0
while [ $i -lt 100 ]; do
    silent=$(sed -n 's/^silent on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$dir/silent.out" 2>/dev/null | head -1)
    [ -n "$silent" ] && break
    sleep 0.1; i=$((i + 1))
done
[ -n "$silent" ] || { stop; die "the silent listener did not start"; }

# Dovecot answers on its listeners before we say so.
ports="$imaps $starttls"
[ -z "$fakeurl" ] || ports="$ports $xoauth2"
i=0
until python3 - $ports <<'PY'
import socket, sys
for p in sys.argv[1:]:
    s = socket.create_connection(("127.0.0.1", int(p)), timeout=1)
    s.close()
PY
do
    i=$((i + 1))
    [ $i -lt 50 ] || { cat "$dir/dovecot.log" >&2 2>/dev/null; stop; die "dovecot does not listen"; }
    sleep 0.1
done

line="imaps=$imaps starttls=$starttls silent=$silent untrusted_host=127.0.0.2 users=$dir/users log=$dir/dovecot.log"
[ -z "$fakeurl" ] || line="$line xoauth2=$xoauth2 xoauth2_log=$dir/oauth/dovecot.log"
echo "$line" >"$dir/env"
echo "$line"
