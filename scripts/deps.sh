#!/bin/sh
# `make deps`: every Debian package the build, the tests and the benchmark use.
# Installs only what is missing (needs root then); a no-op on a ready machine.
set -eu
PKGS="
apache2 apache2-dev
libapache2-mod-perl2
libaprutil1-dbd-sqlite3 libaprutil1-dbd-pgsql libpq-dev
libcurl4-openssl-dev libjansson-dev libcjose-dev libxml2-dev libc-ares-dev libssl-dev pkg-config
check valgrind
clang libclang-rt-dev
postgresql sqlite3 dnsmasq-base
memcached redis-server
libwww-perl liblwp-protocol-https-perl libio-socket-ssl-perl libjson-perl libdbd-sqlite3-perl libdbd-pg-perl
libcryptx-perl libcrypt-jwt-perl libnet-oauth-perl
python3 python3-prometheus-client python3-cryptography
dovecot-imapd
curl openssl wrk libsqlite3-dev
nodejs
chromium
"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "make deps: missing packages:$missing (run as root to install them)" >&2
    exit 1
  fi
  echo "make deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The tests' npm packages, from their committed package-lock.json files; again
# only when missing or stale: the OpenID Connect relying party of t/oidc_rp.t,
# the Nylas Node.js SDK of t/nylas_sdk.t,
# and the browser harness of t/browser_*.t (playwright-core driving Debian's
# chromium above, never a browser of its own; axe-core); the independent
# OAuth 1.0a signer (oauth-1.0a) of the Context.IO tests in t/cio.
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { echo "make deps: npm is missing (run as root to install it)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
for dir in t/oidc t/nylas t/browser t/cio; do
  if [ ! -d $dir/node_modules ] || [ $dir/package-lock.json -nt $dir/node_modules ]; then
    echo "make deps: npm ci in $dir"
    npm ci --prefix $dir --no-audit --no-fund --loglevel=error >/dev/null
    touch $dir/node_modules
  fi
done
