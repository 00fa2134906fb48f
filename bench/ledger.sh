#!/bin/sh
# bench/ledger.sh - points transfers through the real server, next to baselines
# measured in the same run:
#   1. SQLite: transfers/s via POST /v1/transfers/batch (1,000 per call, full
#      rules: idempotency key, limits, lots) vs bare C inserting the same
#      transfer rows and updating the same balance rows, 1,000 per transaction
#      (target: >= 30 % of that ceiling);
#   2. PostgreSQL: single POST /v1/transfers at 8 clients vs pgbench -b
#      tpcb-like at 8 clients on the same server (target: >= 1.0x pgbench's tps).
# Usage: sh bench/ledger.sh [N]   (N transfers per measurement, default 100000)
set -eu
cd "$(dirname "$0")/.."
N=${1:-100000}
[ -n "${HUDONG_BENCH_NOBUILD:-}" ] || make -s hudong build/rel/bench/ledger
B=build/rel/bench/ledger
W=$(mktemp -d /tmp/hudong-bench-ledger.XXXXXX)
chmod 755 "$W"
trap 'kill $SERVER 2>/dev/null || true; sh scripts/pg.sh stop "$W/pg" >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
SERVER=""

serve() { # serve DB -> sets URL
    ./hudong serve --db "$1" --listen 127.0.0.1:0 --log-level warn 2>"$W/serve.log" &
    SERVER=$!
    for _ in $(seq 100); do
        port=$(sed -n 's/.*serving on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$W/serve.log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    URL="http://127.0.0.1:$port"
}

echo "== SQLite: batch transfers vs bare inserts ($N transfers, $(nproc) cores)"
KEY=$(./hudong apikey create --db "$W/h.db" --name bench | tail -n 1)
serve "$W/h.db"
$B members "$URL" "$KEY" 200
batch=$($B batch "$URL" "$KEY" "$N")
kill -TERM $SERVER; wait $SERVER || true
./hudong check --db "$W/h.db"
# the ceiling runs on a copy of the same store, with the same accounts and rows
cp "$W/h.db" "$W/bare.db"
bare=$($B bare "$W/bare.db" "$N")
echo "bare C          $bare transfers/s"
echo "hudong batch    $batch transfers/s"
awk -v a="$batch" -v b="$bare" 'BEGIN { printf "ratio           %.1f %% of the ceiling (target >= 30 %%)\n", 100 * a / b }'

echo "== PostgreSQL: single transfers at 8 clients vs pgbench tpcb-like at 8 clients"
PG=$(sh scripts/pg.sh start "$W/pg")
BASE=${PG%/*}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
HOSTPORT=$(echo "$PG" | sed 's|postgres://hudong@\([^/]*\)/.*|\1|')
H=${HOSTPORT%:*}
P=${HOSTPORT#*:}
"$PGBIN/createdb" -h "$H" -p "$P" -U hudong pgb
"$PGBIN/pgbench" -h "$H" -p "$P" -U hudong -i -s 8 -q pgb >/dev/null 2>&1
pgb=$("$PGBIN/pgbench" -h "$H" -p "$P" -U hudong -b tpcb-like -c 8 -j 2 -T 20 pgb 2>/dev/null |
      sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)
KEY=$(./hudong apikey create --db "$PG" --name bench | tail -n 1)
serve "$PG"
$B members "$URL" "$KEY" 1000
single=$($B single "$URL" "$KEY" "$N" 8)
kill -TERM $SERVER; wait $SERVER || true
./hudong check --db "$PG"
set -- $single
echo "pgbench tpcb-like  $pgb tps"
echo "hudong single      $1 transfers/s   p50 $2 ms   p99 $3 ms   failures $4"
awk -v a="$1" -v b="$pgb" 'BEGIN { printf "ratio              %.2fx pgbench (target >= 1.0x)\n", a / b }'
