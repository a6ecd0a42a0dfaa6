#!/bin/sh
# The test suite's name server: dnsmasq on a free port of 127.0.0.1, run by
# the (unprivileged) user of the tests, answering the SRV, MX and address
# records of the auto-discovery tests (t/discovery.t, t/ssrf.t) and NXDOMAIN for any
# other name under .test and .example. It never forwards a query: no
# resolv.conf, no upstream server, no /etc/hosts.
#
#   dns.sh start DIR [PORT]   writes DIR/dnsmasq.conf, starts dnsmasq on PORT
#                             (with DOVECOT_IMAPS and DOVECOT_STARTTLS set: the
#                             SRV records of dovecot.test and dovecot-starttls.test
#                             that lead to the tests' Dovecot on those ports)
#                             (default: a free one), prints the port; its pid
#                             is in DIR/dnsmasq.pid, its queries in DIR/dnsmasq.log
#   dns.sh stop DIR           stops the dnsmasq started for DIR
#   dns.sh running DIR        exit status 0 when that dnsmasq still runs
#
# scripts/test.sh starts one per pass and hands its port to t/TEST.PL
# (-cn_dnsport); t/TEST.PL run by hand starts one of its own.
set -eu

DNSMASQ=${DNSMASQ:-$(command -v dnsmasq || echo /usr/sbin/dnsmasq)}
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: dns.sh start|stop|running DIR [PORT]" >&2; exit 2; }

pid_of() {
    [ -s "$dir/dnsmasq.pid" ] && pid=$(cat "$dir/dnsmasq.pid") && [ -n "$pid" ] \
        && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

free_port() {
    python3 -c 'import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
p = u.getsockname()[1]
t = socket.socket(); t.bind(("127.0.0.1", p)); print(p)'
}

write_conf() {
    cat >"$dir/dnsmasq.conf" <<EOF
# written by t/fake/dns.sh: the records of t/discovery.t
port=$1
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
no-negcache
pid-file=$dir/dnsmasq.pid
log-facility=$dir/dnsmasq.log
log-queries
local=/test/
local=/example/

# RFC 6186: IMAP over TLS, IMAP with STARTTLS, both (TLS wins), priorities,
# and "." (no service) for both, so the chain goes on to autoconfig
srv-host=_imaps._tcp.srv.test,imap.srv.test,993,0,0
srv-host=_imap._tcp.srv-starttls.test,mail.srv-starttls.test,143,0,0
srv-host=_imaps._tcp.srv-both.test,ssl.srv-both.test,993,0,0
srv-host=_imap._tcp.srv-both.test,starttls.srv-both.test,143,0,0
srv-host=_imaps._tcp.srv-prio.test,backup.srv-prio.test,993,20,0
srv-host=_imaps._tcp.srv-prio.test,primary.srv-prio.test,9993,10,0
srv-host=_imaps._tcp.srv-dot.test
srv-host=_imap._tcp.srv-dot.test

# MX: Google Workspace, Microsoft 365, hosted domains (a table row, or the
# hosting provider's autoconfig), and the domains whose autoconfig is
# hostile: they detect by MX once the document is refused
mx-host=gws.test,aspmx.l.google.com,1
mx-host=gws.test,alt1.aspmx.l.google.com,5
mx-host=gws-new.test,smtp.google.com,1
mx-host=m365.test,m365-test.mail.protection.outlook.com,0
mx-host=hosted.test,mx2.mailhost.test,20
mx-host=hosted.test,mx1.mailhost.test,10
mx-host=hosted-fm.test,in1-smtp.messagingengine.com,10
mx-host=ac-laughs.test,aspmx.l.google.com,1
mx-host=ac-xxe.test,aspmx.l.google.com,1
mx-host=ac-big.test,aspmx.l.google.com,1
mx-host=ac-malformed.test,aspmx.l.google.com,1
mx-host=ac-utf16.test,m365-test.mail.protection.outlook.com,1
mx-host=ac-encoding.test,m365-test.mail.protection.outlook.com,1

# The guess: imap.<domain>, then mail.<domain>, on the fake's TLS port.
# 127.0.0.2 has no listener; imap.guess-badcert.test is not in the test
# certificate; nothing.test has nothing at all.
address=/imap.guess.test/127.0.0.1
address=/imap.guess-mail.test/127.0.0.2
address=/mail.guess-mail.test/127.0.0.1
address=/imap.guess-badcert.test/127.0.0.1

# t/ssrf.t: domains whose DNS points where users' connections may not go
# (loopback, the cloud's metadata address, IPv6 loopback, IPv4-mapped);
# ssrf-mx.test is found by its MX once its autoconfig host is refused
address=/autoconfig.ssrf-ac.test/127.0.0.1
address=/imap.ssrf-guess.test/127.0.0.1
address=/autoconfig.ssrf-mx.test/127.0.0.1
mx-host=ssrf-mx.test,aspmx.l.google.com,1
address=/autoconfig.ssrf-meta.test/169.254.169.254
address=/imap.ssrf-v6.test/::1
address=/imap.ssrf-mapped.test/::ffff:127.0.0.1
EOF
    if [ -n "${DOVECOT_IMAPS:-}" ] && [ -n "${DOVECOT_STARTTLS:-}" ]; then
        cat >>"$dir/dnsmasq.conf" <<EOF

# The tests' Dovecot, found by RFC 6186 (t/native_imap.t, t/imap_hosted.t):
# IMAPS for dovecot.test, STARTTLS for dovecot-starttls.test
address=/imap.dovecot.test/127.0.0.1
srv-host=_imaps._tcp.dovecot.test,imap.dovecot.test,$DOVECOT_IMAPS,0,0
srv-host=_imap._tcp.dovecot-starttls.test,imap.dovecot.test,$DOVECOT_STARTTLS,0,0
EOF
    fi
}

case "$cmd" in
start)
    mkdir -p "$dir"
    if pid=$(pid_of); then
        echo "dns.sh: dnsmasq already runs for $dir (pid $pid)" >&2
        exit 1
    fi
    [ -x "$DNSMASQ" ] || { echo "dns.sh: dnsmasq is missing (make deps, as root: dnsmasq-base)" >&2; exit 1; }
    tries=5
    [ -n "${3:-}" ] && tries=1
    while [ "$tries" -gt 0 ]; do
        tries=$((tries - 1))
        port=${3:-$(free_port)}
        write_conf "$port"
        rm -f "$dir/dnsmasq.pid"
        # Daemon mode: dnsmasq returns once its sockets are bound (or exits
        # non-zero saying why), with its pid in the pid file.
        if "$DNSMASQ" --conf-file="$dir/dnsmasq.conf" >"$dir/dnsmasq.out" 2>&1; then
            for _ in 1 2 3 4 5 6 7 8 9 10; do
                pid_of >/dev/null && { echo "$port"; exit 0; }
                sleep 0.1
            done
        fi
    done
    echo "dns.sh: dnsmasq did not start:" >&2
    sed 's/^/    /' "$dir/dnsmasq.out" >&2 || true
    exit 1
    ;;
stop)
    if pid=$(pid_of); then
        kill "$pid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -f "$dir/dnsmasq.pid"
    ;;
running)
    pid_of >/dev/null
    ;;
*)
    echo "usage: dns.sh start|stop|running DIR [PORT]" >&2
    exit 2
    ;;
esac
