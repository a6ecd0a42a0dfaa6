#!/bin/sh
# Build mod_connect: the core (src/core) into libcncore.a WITHOUT the httpd
# include path, then the module with apxs. CN_SANITIZE=1 adds ASan+UBSan.
set -eu
cd "$(dirname "$0")"
APXS=${APXS:-apxs}
CC=${CC:-gcc}
OUT=build
[ "${CN_SANITIZE:-0}" = 1 ] && OUT=build-asan
mkdir -p "$OUT/core"

WARN="-Wall -Wextra -Werror -Wno-unused-parameter"
SAN=""
if [ "${CN_SANITIZE:-0}" = 1 ]; then
  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
fi
DEPS_CFLAGS="$(apr-1-config --includes --cppflags) $(apu-1-config --includes) $(pkg-config --cflags jansson cjose libcurl libxml-2.0 libcares openssl)"
DEPS_LIBS="$(pkg-config --libs jansson cjose libcurl libxml-2.0 libcares openssl) -lm"
# The glue only: libpq, the library of apr_dbd's pgsql driver, to tell a lost
# PostgreSQL connection from a failed statement (src/httpd/dbd.c).
PQ_CFLAGS="$(pkg-config --cflags libpq)"
PQ_LIBS="$(pkg-config --libs libpq)"

# The core, folder by area (src/core/<area>/<name>.c -> <area>_<name>.o): no
# httpd headers on the include path, so a stray #include <httpd.h> fails.
rm -rf "$OUT/core"; mkdir -p "$OUT/core"
objs=""
for src in src/core/*/*.c; do
  area=$(basename "$(dirname "$src")")
  obj="$OUT/core/${area}_$(basename "$src" .c).o"
  $CC -std=gnu99 -fPIC -O2 -g $WARN $SAN -Iinclude $DEPS_CFLAGS -c "$src" -o "$obj"
  objs="$objs $obj"
done
rm -f "$OUT/libcncore.a"
ar rcs "$OUT/libcncore.a" $objs

# The module: glue + module record, linked with the core.
APXS_WARN="-Wc,-Wall -Wc,-Wextra -Wc,-Werror -Wc,-Wno-unused-parameter -Wc,-std=gnu99"
APXS_SAN=""
if [ -n "$SAN" ]; then
  for f in $SAN; do APXS_SAN="$APXS_SAN -Wc,$f -Wl,$f"; done
fi
rm -rf "$OUT/mod"; mkdir -p "$OUT/mod"
cp mod_connect.c src/httpd/*.c src/httpd/*.h "$OUT/mod/"
( cd "$OUT/mod" && $APXS -c $APXS_WARN $APXS_SAN -I../../include -I. \
    $(for f in $DEPS_CFLAGS $PQ_CFLAGS; do printf ' -Wc,%s' "$f"; done) \
    -o mod_connect.la mod_connect.c $(ls *.c | grep -v '^mod_connect.c$') \
    ../libcncore.a $DEPS_LIBS $PQ_LIBS >apxs.log 2>&1 ) || { cat "$OUT/mod/apxs.log" >&2; exit 1; }
cp "$OUT/mod/.libs/mod_connect.so" "$OUT/mod_connect.so"
# The page templates next to the module are its default ConnectTemplateDir:
# here the tree's own (a link, so an edited template needs only a restart).
ln -sfn ../conf/templates "$OUT/templates"
echo "built $OUT/mod_connect.so"
