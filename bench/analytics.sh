#!/bin/sh
# bench/analytics.sh - market-basket mining: hudong's FP-growth (bench/analytics_basket.c,
# release build) against node-fpgrowth (bench/fpgrowth_node) on the same baskets, both
# measured in this run. For each data set it prints both mining times (best of several
# runs, file loading excluded), the speed-up, and whether the frequent-itemset counts
# match, length by length.
#
#   sh bench/analytics.sh            # needs node and npm; installs node-fpgrowth once
#   HUDONG_DATA=/path/to/data sh bench/analytics.sh
#
# Exit status 1 when a count differs or the speed-up is below 20x (the issue's target);
# the benchmark is never run by the test suite.
set -eu
cd "$(dirname "$0")/.."
DATA="${HUDONG_DATA:-$(cd .. && pwd)/shared/data}"
BIN="${HUDONG_BENCH_BIN:-build/rel/bench/analytics_basket}" # override: a prebuilt binary
C_RUNS="${C_RUNS:-5}"
NODE_RUNS="${NODE_RUNS:-3}"
TARGET=20

[ -n "${HUDONG_BENCH_BIN:-}" ] || make -s "$BIN"
if [ ! -d bench/fpgrowth_node/node_modules/node-fpgrowth ]; then
    (cd bench/fpgrowth_node && npm install --no-audit --no-fund --silent)
fi

echo "node $(node --version), node-fpgrowth $(node -p "require('./bench/fpgrowth_node/node_modules/node-fpgrowth/package.json').version"), $(nproc) cores"
status=0
for spec in "groceries/groceries.csv csv 0.001" "fimi_retail/retail.dat fimi 0.002"; do
    set -- $spec
    file="$DATA/$1"
    if [ ! -f "$file" ]; then
        echo "SKIP: $file not found"
        continue
    fi
    c=$("$BIN" "$file" "$2" "$3" "$C_RUNS")
    n=$(node bench/fpgrowth_node/bench.js "$file" "$2" "$3" "$NODE_RUNS")
    node -e '
        const [name, supp, target, cs, ns] = process.argv.slice(1);
        const c = JSON.parse(cs), n = JSON.parse(ns);
        const same = c.itemsets === n.itemsets && c.baskets === n.baskets &&
            JSON.stringify(c.by_length) === JSON.stringify(n.by_length);
        const ratio = n.mine_s / c.mine_s;
        console.log(`${name} @ ${supp}: ${c.baskets} baskets, min count ${c.min_count}`);
        console.log(`  hudong        ${c.itemsets} itemsets  mine ${(c.mine_s * 1e3).toFixed(1)} ms` +
            `  (load ${(c.load_s * 1e3).toFixed(1)} ms, best of ${c.runs})`);
        console.log(`  node-fpgrowth ${n.itemsets} itemsets  mine ${(n.mine_s * 1e3).toFixed(1)} ms` +
            `  (load ${(n.load_s * 1e3).toFixed(1)} ms, best of ${n.runs})`);
        console.log(`  by length     ${JSON.stringify(c.by_length)}`);
        console.log(`  counts ${same ? "match" : "DIFFER: " + JSON.stringify(n.by_length)};` +
            ` speed-up ${ratio.toFixed(1)}x (mining), ` +
            `${((n.mine_s + n.load_s) / (c.mine_s + c.load_s)).toFixed(1)}x (load + mine)`);
        process.exit(same && ratio >= Number(target) ? 0 : 1);
    ' "$1" "$3" "$TARGET" "$c" "$n" || status=1
done
exit $status
