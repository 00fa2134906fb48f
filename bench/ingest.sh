#!/bin/sh
# bench/ingest.sh - event ingestion next to its floors, in one run:
#   (a) POST /v1/events/batch (1,000 events a call, 2 client threads, full
#       processing) vs the same rows inserted straight into SQLite (the ceiling;
#       also through hudong's own VFS and page cache, src/store/store_vfs.c and
#       store_pcache.c)
#   (b) POST /v1/events one at a time vs a libmicrohttpd hello-world, the same
#       client and concurrency: rate, p50, p99; ROUNDS (5) alternating pairs,
#       each on a fresh store, and the pair with the median ratio reported
#   (b') the same pairs driven by wrk (bench/ingest.lua, the same mix of
#       events) for WRK_SECONDS (5) a round: libcurl's client, above, costs
#       more CPU a request than the hello-world server, wrk far less. Each
#       round runs both servers at each of WRK_CONCURRENCY ("16 64")
#       connections; the round's ratio compares each server at its best
#       (its capacity): a request that waits for a group commit needs more
#       requests in flight to fill the machine than one answered at once
#       (at 16 the machine sat ~20 % idle under hudong, 0 % under the
#       hello-world). The ratio at 16 alone is printed too.
#   (c) `hudong import orders` of a generated 1,000,000-line file
# Targets: (a) >= 25% of the ceiling, (b) >= 30% of hello, (c) < 20 s.
#
# usage: sh bench/ingest.sh            (builds with make first)
#   EVENTS=200000 REQUESTS=60000 CONCURRENCY=16 LINES=1000000 ROUNDS=5 WRK_SECONDS=5
#   WRK_CONCURRENCY="16 64" to change sizes;
#   HUDONG, INGEST, HELLO to use other binaries; SKIP_BUILD=1 to not build.
set -eu
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-200000}
REQUESTS=${REQUESTS:-60000}
CONCURRENCY=${CONCURRENCY:-16}
LINES=${LINES:-1000000}
ROUNDS=${ROUNDS:-5}
WRK_SECONDS=${WRK_SECONDS:-5}
WRK_CONCURRENCY=${WRK_CONCURRENCY:-16 64}
HUDONG=${HUDONG:-./hudong}
INGEST=${INGEST:-build/rel/bench/ingest}
HELLO=${HELLO:-build/rel/bench/hello}
if [ -z "${SKIP_BUILD:-}" ]; then
    sh scripts/deps.sh bench
    make -s hudong build/rel/bench/ingest build/rel/bench/hello >/dev/null
fi

work=$(mktemp -d /tmp/hudong-bench-ingest.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# serve DB: starts hudong on a fresh store, sets $url and $key
serve() {
    db=$1
    key=$("$HUDONG" apikey create --db "$db" --name bench | tail -n 1)
    "$HUDONG" serve --db "$db" --listen 127.0.0.1:0 --log-level error 2>"$db.log" &
    spid=$!
    pids="$pids $spid"
    port=""
    for _ in $(seq 100); do
        port=$(sed -n 's/.*serving on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$db.log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "server did not start:"; cat "$db.log"; exit 1; }
    url="http://127.0.0.1:$port"
}

stop() { # stop PID: SIGTERM and wait (only processes this script started)
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

field() { # field NAME LINE
    echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

echo "hudong ingest benchmark - $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# (a) batch API vs the SQLite ceiling
serve "$work/a.db"
a_api=$("$INGEST" batch --url "$url" --key "$key" --events "$EVENTS" --threads 2 | grep '^result:')
stop "$spid"
a_ceil=$("$INGEST" ceiling --db "$work/ceil.db" --events "$EVENTS" | grep '^result:')
a_ceil2=$("$INGEST" ceiling --db "$work/ceil2.db" --events "$EVENTS" --vfs hudong | grep '^result:')

# (b) single events vs hello-world, same client: ROUNDS pairs, each on a
# fresh store, alternating; the round with the median ratio is reported
"$HELLO" 0 >"$work/hello.out" &
hpid=$!
pids="$pids $hpid"
for _ in $(seq 50); do grep -q '^port' "$work/hello.out" 2>/dev/null && break; sleep 0.1; done
hport=$(sed -n 's/^port //p' "$work/hello.out")
: >"$work/rounds"
for r in $(seq "$ROUNDS"); do
    serve "$work/b$r.db"
    api=$("$INGEST" single --url "$url" --key "$key" --requests "$REQUESTS" \
        --concurrency "$CONCURRENCY" | grep '^result:')
    stop "$spid"
    hello=$("$INGEST" single --url "http://127.0.0.1:$hport" --requests "$REQUESTS" \
        --concurrency "$CONCURRENCY" | grep '^result:')
    ra_=$(field rate "$api")
    rh_=$(field rate "$hello")
    echo "$(echo "scale=4; $ra_ / $rh_" | bc) $r" >>"$work/rounds"
    echo "$api" >"$work/api$r"
    echo "$hello" >"$work/hello$r"
done
# (b') the same pairs driven by wrk, a lighter client (bench/ingest.lua makes
# the same mix of events): libcurl's client costs more CPU a request than the
# hello-world server, which holds the hello-world well under what the machine
# can do; wrk lets it reach it. Each round: both servers at each concurrency;
# the round's ratio is hudong's best rate over the hello-world's best.
: >"$work/wrounds"
: >"$work/wrounds16"
: >"$work/wrates"
first_c=${WRK_CONCURRENCY%% *}
if command -v wrk >/dev/null 2>&1; then
    for r in $(seq "$ROUNDS"); do
        best_a=0
        best_h=0
        for c in $WRK_CONCURRENCY; do
            serve "$work/w$r-$c.db"
            api=$(wrk -t2 -c"$c" -d"$WRK_SECONDS"s -H "Authorization: Bearer $key" \
                -s bench/ingest.lua "$url/v1/events" -- "$r" | grep '^result:')
            stop "$spid"
            hello=$(wrk -t2 -c"$c" -d"$WRK_SECONDS"s -s bench/ingest.lua \
                "http://127.0.0.1:$hport/" -- "$r" | grep '^result:')
            [ "$(field errors "$api")" = 0 ] || { echo "wrk round $r, $c connections: errors: $api"; exit 1; }
            echo "$api" >"$work/wapi$r-$c"
            echo "$hello" >"$work/whello$r-$c"
            ra_=$(field rate "$api")
            rh_=$(field rate "$hello")
            echo "$c $ra_ $rh_" >>"$work/wrates"
            [ "$ra_" -gt "$best_a" ] && best_a=$ra_
            [ "$rh_" -gt "$best_h" ] && best_h=$rh_
            if [ "$c" = "$first_c" ]; then
                echo "$(echo "scale=4; $ra_ / $rh_" | bc) $r" >>"$work/wrounds16"
            fi
        done
        echo "$(echo "scale=4; $best_a / $best_h" | bc) $r $best_a $best_h" >>"$work/wrounds"
    done
fi
stop "$hpid"
mid=$(sort -n "$work/rounds" | sed -n "$(( (ROUNDS + 1) / 2 ))p" | cut -d' ' -f2)
b_api=$(cat "$work/api$mid")
b_hello=$(cat "$work/hello$mid")

# (c) import of a million order lines
"$INGEST" gen-orders --output "$work/orders.csv" --lines "$LINES" >/dev/null
t0=$(date +%s.%N)
"$HUDONG" import orders "$work/orders.csv" --db "$work/c.db" >"$work/import.out" 2>"$work/import.err"
t1=$(date +%s.%N)
c_secs=$(echo "$t1 - $t0" | bc | awk '{ printf "%.1f", $1 }')
c_orders=$(sed -n 's/.*imported *[0-9]* (\([0-9]*\) orders).*/\1/p' "$work/import.out")

echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo
pct() { echo "scale=1; 100 * $1 / $2" | bc; }
ra=$(field rate "$a_api"); rc=$(field rate "$a_ceil")
rb=$(field rate "$b_api"); rh=$(field rate "$b_hello")
printf '%-44s %12s %10s %10s\n' "measurement" "rate/s" "p50 ms" "p99 ms"
printf '%-44s %12s %10s %10s\n' "(a) POST /v1/events/batch, 1000/call, 2 thr" "$ra" - -
printf '%-44s %12s %10s %10s\n' "    sqlite3 ceiling, same rows, 1000/txn" "$rc" - -
printf '%-44s %12s\n' "    batch / ceiling (target >= 25%)" "$(pct "$ra" "$rc")%"
rc2=$(field rate "$a_ceil2")
printf '%-44s %12s %10s %10s\n' "    the same through hudong's SQLite layer" "$rc2" - -
printf '%-44s %12s\n' "    batch / that" "$(pct "$ra" "$rc2")%"
printf '%-44s %12s %10s %10s\n' "(b) POST /v1/events, concurrency $CONCURRENCY" "$rb" \
    "$(field p50_ms "$b_api")" "$(field p99_ms "$b_api")"
printf '%-44s %12s %10s %10s\n' "    libmicrohttpd hello, same client" "$rh" \
    "$(field p50_ms "$b_hello")" "$(field p99_ms "$b_hello")"
printf '%-44s %12s\n' "    events / hello (target >= 30%)" "$(pct "$rb" "$rh")%"
printf '%-44s %12s\n' "    (median of $ROUNDS rounds; each round:" "$(sort -n -k2 "$work/rounds" |
    awk '{ printf "%s%.1f%%", (NR > 1 ? " " : ""), 100 * $1 }'))"
if [ -s "$work/wrounds" ]; then
    med() { sort -n | sed -n "$(( (ROUNDS + 1) / 2 ))p"; } # the median of ROUNDS lines
    printf '%-44s %12s %10s %10s\n' "(b') the same driven by wrk, ${WRK_SECONDS} s a run" "" "" ""
    for c in $WRK_CONCURRENCY; do
        # the run with the median rate at this concurrency, for its latencies
        ma=$(for r in $(seq "$ROUNDS"); do echo "$(field rate "$(cat "$work/wapi$r-$c")") $r"; done |
            med | cut -d' ' -f2)
        mh=$(for r in $(seq "$ROUNDS"); do echo "$(field rate "$(cat "$work/whello$r-$c")") $r"; done |
            med | cut -d' ' -f2)
        w_api=$(cat "$work/wapi$ma-$c")
        w_hello=$(cat "$work/whello$mh-$c")
        printf '%-44s %12s %10s %10s\n' "    POST /v1/events, $c connections (median)" \
            "$(field rate "$w_api")" "$(field p50_ms "$w_api")" "$(field p99_ms "$w_api")"
        printf '%-44s %12s %10s %10s\n' "    hello-world, $c connections (median)" \
            "$(field rate "$w_hello")" "$(field p50_ms "$w_hello")" "$(field p99_ms "$w_hello")"
    done
    wmid=$(sort -n "$work/wrounds" | sed -n "$(( (ROUNDS + 1) / 2 ))p")
    printf '%-44s %12s\n' "    best / best (target >= 30%)" "$(echo "$wmid" |
        awk '{ printf "%.1f%%", 100 * $1 }')"
    printf '%-44s %12s\n' "    (median of $ROUNDS rounds; each round:" "$(sort -n -k2 "$work/wrounds" |
        awk '{ printf "%s%.1f%%", (NR > 1 ? " " : ""), 100 * $1 }'))"
    printf '%-44s %12s\n' "    at $first_c connections alone, each round:" "$(sort -n -k2 "$work/wrounds16" |
        awk '{ printf "%s%.1f%%", (NR > 1 ? " " : ""), 100 * $1 }')"
else
    printf '%-44s\n' "(b') skipped: no wrk (sh scripts/deps.sh bench installs it)"
fi
printf '%-44s %12s\n' "(c) hudong import orders, $LINES lines" "${c_secs}s"
printf '%-44s %12s\n' "    orders imported; target < 20 s" "$c_orders"
echo
echo "raw: $a_api"
echo "raw: $a_ceil"
echo "raw: $a_ceil2"
echo "raw: $b_api"
echo "raw: $b_hello"
if [ -s "$work/wrates" ]; then
    echo "raw wrk (connections, hudong, hello-world), in run order:"
    sed 's/^/    /' "$work/wrates"
fi
