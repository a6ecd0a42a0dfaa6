#!/bin/sh
# `make deps`: every Debian package the build, the tests and the benchmark use.
# Installs only what is missing (needs root then); a no-op on a ready machine.
set -eu
PKGS="
apache2 apache2-dev
libapache2-mod-perl2
libaprutil1-dbd-sqlite3 libaprutil1-dbd-pgsql
libcurl4-openssl-dev libjansson-dev libcjose-dev libxml2-dev libssl-dev pkg-config
check valgrind
clang libclang-rt-dev
postgresql sqlite3
libwww-perl liblwp-protocol-https-perl libjson-perl libdbd-sqlite3-perl libdbd-pg-perl
libcryptx-perl libcrypt-jwt-perl
python3
curl openssl wrk
"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "make deps: missing packages:$missing (run as root to install them)" >&2
  exit 1
fi
echo "make deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
