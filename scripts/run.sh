#!/bin/sh
# `make run`: a local Apache with mod_connect on SQLite, its state under
# ./var (or, when the server's User cannot reach the tree, in a directory of
# its own: see scripts/state.sh).
set -eu
cd "$(dirname "$0")/.."
TOP=$(pwd)
. scripts/state.sh
PORT=${PORT:-8080}
MODULES=$(apxs -q LIBEXECDIR)
HTTPD=${HTTPD:-/usr/sbin/apache2}

mkdir -p "$VAR/keys" "$VAR/db" "$VAR/log" "$VAR/run" "$VAR/htdocs"
umask 077
[ -s "$VAR/keys/key1" ] || openssl rand -base64 32 > "$VAR/keys/key1"
[ -s "$VAR/keys/demo-app.secret" ] || openssl rand -hex 24 > "$VAR/keys/demo-app.secret"
# The key that signs id_tokens (RS256): RSA 2048, made once and kept.
[ -s "$VAR/keys/signing.pem" ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$VAR/keys/signing.pem" 2>/dev/null
umask 022
echo "mod_connect is running" > "$VAR/htdocs/index.html"

DEFINE=""
USER_NAME=$(id -un); GROUP_NAME=$(id -gn)
if [ "$(id -u)" = 0 ]; then
  # Children drop to www-data: they need to read the keys and write the database.
  USER_NAME=www-data; GROUP_NAME=www-data; DEFINE="-D CN_AS_ROOT"
  chown -R www-data:www-data "$VAR/db" "$VAR/keys"
  chmod 755 "$VAR"
fi
case "$VAR" in
  "$TOP"/*) WHERE=${VAR#"$TOP"/} ;;
  *) WHERE=$VAR
     echo "The tree is not reachable by $USER_NAME (a directory above it is private):"
     echo "the database, keys and logs live in $VAR" ;;
esac
sed -e "s#@VAR@#$VAR#g" -e "s#@PORT@#$PORT#g" -e "s#@MODULES@#$MODULES#g" \
    -e "s#@SO@#$TOP/build/mod_connect.so#g" -e "s#@USER@#$USER_NAME#g" -e "s#@GROUP@#$GROUP_NAME#g" \
    conf/httpd-connect.conf.in > "$VAR/httpd.conf"

if [ -f "$VAR/run/httpd.pid" ] && kill -0 "$(cat "$VAR/run/httpd.pid")" 2>/dev/null; then
  "$HTTPD" -f "$VAR/httpd.conf" $DEFINE -k stop || true
  sleep 1
fi
if ! "$HTTPD" -f "$VAR/httpd.conf" $DEFINE -k start; then
  echo "Apache did not start; see $VAR/log/error.log" >&2
  tail -5 "$VAR/log/error.log" >&2 || true
  exit 1
fi
for i in 1 2 3 4 5 6 7 8 9 10; do
  curl -fs "http://127.0.0.1:$PORT/index.html" >/dev/null 2>&1 && break
  sleep 0.5
done
SECRET=$(cat "$VAR/keys/demo-app.secret")
cat <<TXT

mod_connect is running at http://127.0.0.1:$PORT/connect  (logs: $WHERE/log/error.log)

Application client id:      demo-app
Application client secret:  $SECRET   ($WHERE/keys/demo-app.secret)

Try it:
  curl -s -u demo-app:$SECRET -H 'Content-Type: application/json' \\
       -d '{"name":"My Google app","provider":"google","settings":{"client_id":"abc.apps.googleusercontent.com","client_secret":"xyz"},"redirect_uris":["http://localhost:3000/callback"],"scope":["https://www.googleapis.com/auth/gmail.readonly"]}' \\
       http://127.0.0.1:$PORT/connect/integrations
  curl -s -u demo-app:$SECRET -H 'Content-Type: application/json' \\
       -d '{"name":"Other mailboxes","provider":"imap","redirect_uris":["http://localhost:3000/callback"]}' \\
       http://127.0.0.1:$PORT/connect/integrations
  curl -s -u demo-app:$SECRET http://127.0.0.1:$PORT/connect/integrations
  curl -s -u demo-app:$SECRET -H 'Content-Type: application/json' \\
       -d '{"redirect_uri":"http://localhost:3000/callback","prompt":"select_provider,detect"}' \\
       http://127.0.0.1:$PORT/connect/auth
  curl -s 'http://127.0.0.1:$PORT/connect/providers/find?client_id=demo-app'
  curl -s http://127.0.0.1:$PORT/connect/.well-known/openid-configuration
  curl -s -H "Authorization: Bearer $SECRET" http://127.0.0.1:$PORT/v3/grants

The "url" of the POST /auth answer is a login link: open it in a browser for the login
screen (Google, or another mailbox through the module's IMAP form).

The Nylas v3 layout is at http://127.0.0.1:$PORT/v3: a Nylas SDK works with
apiUri http://127.0.0.1:$PORT and apiKey $SECRET (the last example above).

Stop it with: make stop  (the database and keys in $WHERE stay for the next make run)
TXT
