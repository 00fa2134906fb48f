#!/bin/sh
# Runs every test binary built by 'make build-test' and prints one closing line:
# "N passed, N failed". Unit tests run once; API tests run once per store
# (SQLite, then a throw-away PostgreSQL started here); fuzz targets run briefly.
set -u
cd "$(dirname "$0")/.."
export HUDONG_DATA="${HUDONG_DATA:-$(cd .. && pwd)/shared/data}"
export HUDONG_BIN="$(pwd)/build/asan/hudong"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
passed=0
failed=0
failures=""
log=build/test-logs
rm -rf "$log"
mkdir -p "$log"

# count_cmocka NAME LOGFILE RC: add the binary's cmocka tallies to the totals
count() {
    name=$1
    out=$2
    rc=$3
    p=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$out" | awk '{s+=$4} END {print s+0}')
    f=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$out" | awk '{s+=$4} END {print s+0}')
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" != 0 ]; then
        failures="$failures $name"
        echo "---- $name failed (rc=$rc); its output:"
        if grep -qE '^\[  FAILED  \] [0-9]+ test' "$out"; then
            # the failures first; a failed test leaks what it had when it
            # jumped out, so the leak report is left out of the tail
            grep -E '^(ERROR: |\[ +(RUN|ERROR|FAILED) +\])' "$out" | head -n 60
            echo "----"
            sed '/^==[0-9]*==ERROR: LeakSanitizer/,$d' "$out" | tail -n 60
        else
            tail -n 60 "$out"
        fi
    else
        echo "ok   $name ($p)"
    fi
}

# one throw-away PostgreSQL for every test that needs it
# in /tmp, not the checkout: the postgres user must be able to reach it
pgdir=$(mktemp -d /tmp/hudong-test-pg.XXXXXX)
chmod 755 "$pgdir"
if HUDONG_TEST_PG=$(sh scripts/pg.sh start "$pgdir/db"); then
    export HUDONG_TEST_PG
    trap 'sh scripts/pg.sh stop "$pgdir/db"; rm -rf "$pgdir"' EXIT
else
    echo "---- could not start PostgreSQL"
    failed=$((failed + 1))
    failures="$failures postgres"
    HUDONG_TEST_PG=""
fi

for t in build/asan/tests/test_*; do
    [ -x "$t" ] || continue
    n=$(basename "$t")
    "$t" >"$log/$n.log" 2>&1
    count "$n" "$log/$n.log" $?
done

api_tests=$(ls build/asan/tests/api_* 2>/dev/null)
if [ -n "$api_tests" ]; then
    for t in $api_tests; do
        n=$(basename "$t")
        HUDONG_TEST_STORE=sqlite "$t" >"$log/$n-sqlite.log" 2>&1
        count "$n[sqlite]" "$log/$n-sqlite.log" $?
    done
    if [ -n "$HUDONG_TEST_PG" ]; then
        for t in $api_tests; do
            n=$(basename "$t")
            HUDONG_TEST_STORE=postgres "$t" >"$log/$n-pg.log" 2>&1
            count "$n[postgres]" "$log/$n-pg.log" $?
        done
    fi
fi

# browser tests: the console and member pages in Debian's chromium
if [ -n "$(ls tests/e2e/*.test.mjs 2>/dev/null)" ]; then
    HUDONG_BIN="$HUDONG_BIN" node --test --test-reporter=tap --test-concurrency=1 tests/e2e/ >"$log/e2e.log" 2>&1
    rc=$?
    p=$(sed -n 's/^# pass \([0-9]*\)/\1/p' "$log/e2e.log" | tail -n 1)
    f=$(sed -n 's/^# fail \([0-9]*\)/\1/p' "$log/e2e.log" | tail -n 1)
    p=${p:-0}
    f=${f:-0}
    [ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" != 0 ]; then
        failures="$failures e2e"
        echo "---- e2e failed (rc=$rc); its output:"
        tail -n 80 "$log/e2e.log"
    else
        echo "ok   e2e ($p; screenshots in build/screenshots)"
    fi
fi

for f in build/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    n=$(basename "$f")
    corpus="tests/fuzz/corpus/${n#fuzz_}"
    work="$log/corpus-$n"
    mkdir -p "$work"
    "$f" -max_total_time="${HUDONG_FUZZ_SECONDS:-15}" -max_len=4096 -timeout=5 -print_final_stats=1 "$work" "$corpus" >"$log/$n.log" 2>&1
    rc=$?
    if [ $rc = 0 ]; then
        passed=$((passed + 1))
        echo "ok   $n ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$log/$n.log" | awk '{print $2}') runs)"
    else
        failed=$((failed + 1))
        failures="$failures $n"
        echo "---- $n failed; its output:"
        tail -n 40 "$log/$n.log"
    fi
done

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
