#!/bin/sh
# Installs the Debian packages hudong needs, if any are missing.
#   scripts/deps.sh build   - to build and run the server
#   scripts/deps.sh test    - also what the tests need (PostgreSQL, clang, cmocka, ...)
#   scripts/deps.sh bench   - also what bench/ needs (PostgreSQL's pgbench, wrk)
set -e
BUILD="gcc make pkg-config xxd libsqlite3-dev libpq-dev libmicrohttpd-dev libjansson-dev libsodium-dev libcurl4-openssl-dev libjemalloc-dev"
TEST="clang libclang-rt-14-dev clang-format libcmocka-dev postgresql curl chromium fonts-noto-cjk"
want="$BUILD"
# the console needs node and npm; use the machine's if it has them
command -v npm >/dev/null 2>&1 || BUILD="$BUILD nodejs npm"
BENCH="postgresql wrk bc"
want="$BUILD"
[ "$1" = test ] && want="$BUILD $TEST"
[ "$1" = bench ] && want="$BUILD $BENCH"
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
