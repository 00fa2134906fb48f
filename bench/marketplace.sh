#!/bin/sh
# bench/marketplace.sh - redemptions/s and coupon claims/s over HTTP (16
# clients, full rules: stock, limits, the ledger) next to the same client
# against a libmicrohttpd hello-world, in the same run, on SQLite.
# usage: sh bench/marketplace.sh [N]   (requests per measurement, default 20000)
set -eu
cd "$(dirname "$0")/.."
N=${1:-20000}
C=16
[ -n "${SKIP_BUILD:-}" ] || make -s hudong build/rel/bench/marketplace build/rel/bench/hello
B=build/rel/bench/marketplace
W=$(mktemp -d /tmp/hudong-bench-market.XXXXXX)
SERVER=""
HELLO=""
trap 'kill $SERVER $HELLO 2>/dev/null || true; rm -rf "$W"' EXIT
KEY=$(./hudong apikey create --db "$W/m.db" --name bench | tail -n 1)
./hudong serve --db "$W/m.db" --listen 127.0.0.1:0 --log-level error 2>"$W/serve.log" &
SERVER=$!
for _ in $(seq 100); do
    port=$(sed -n 's/.*serving on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$W/serve.log")
    [ -n "$port" ] && break
    sleep 0.1
done
URL="http://127.0.0.1:$port"
set -- $($B setup "$URL" "$KEY" 200)
R=$2
T=$4
redeem=$($B run "$URL" "$KEY" redeem "$N" $C "$R" "$T")
claim=$($B run "$URL" "$KEY" claim "$N" $C "$R" "$T")
kill -TERM $SERVER
wait $SERVER || true
SERVER=""
./hudong check --db "$W/m.db"
build/rel/bench/hello 0 >"$W/hello.out" &
HELLO=$!
for _ in $(seq 50); do grep -q '^port' "$W/hello.out" 2>/dev/null && break; sleep 0.1; done
hport=$(sed -n 's/^port //p' "$W/hello.out")
hello=$($B run "http://127.0.0.1:$hport" "" hello "$N" $C 0 0)
echo "$(nproc) cores, $C clients, $N requests each"
printf '%-28s %10s %8s %8s %6s\n' measurement "req/s" "p50 ms" "p99 ms" fails
set -- $redeem; printf '%-28s %10s %8s %8s %6s\n' "POST /v1/redemptions" "$1" "$2" "$3" "$4"; r=$1
set -- $claim; printf '%-28s %10s %8s %8s %6s\n' "POST /v1/coupons/{t}/claim" "$1" "$2" "$3" "$4"; c=$1
set -- $hello; printf '%-28s %10s %8s %8s %6s\n' "hello-world (same client)" "$1" "$2" "$3" "$4"; h=$1
awk -v r="$r" -v c="$c" -v h="$h" 'BEGIN { printf "redemptions / hello %.1f %%, claims / hello %.1f %%\n", 100*r/h, 100*c/h }'
