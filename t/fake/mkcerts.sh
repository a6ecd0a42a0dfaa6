#!/bin/sh
# A test CA and a server certificate for 127.0.0.1/localhost (and the guess
# hosts of the auto-discovery tests), for the fake providers.
# Usage: mkcerts.sh DIR  (creates DIR/ca.pem, DIR/server.pem, DIR/server.key)
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
# (made again when an older run left a certificate without the guess's names)
[ -s server.pem ] && [ -s ca.pem ] \
    && openssl x509 -in server.pem -noout -text 2>/dev/null | grep -q 'DNS:imap.dovecot.test' \
    && exit 0
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=mod_connect test CA" \
    -keyout ca.key -out ca.pem >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr \
    >/dev/null 2>&1
# imap.guess.test and mail.guess-mail.test: auto-discovery's guess (t/discovery.t);
# autoconfig.ssrf-ac.test and imap.ssrf-guess.test: the same where loopback is allowed (t/ssrf.t);
# imap.dovecot.test: the tests' Dovecot (it uses this certificate) as SRV records find it
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:imap.guess.test,DNS:mail.guess-mail.test,DNS:autoconfig.ssrf-ac.test,DNS:imap.ssrf-guess.test,DNS:imap.dovecot.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
    -extfile ext.cnf -out server.pem >/dev/null 2>&1
chmod 644 ca.pem server.pem server.key
