// bench.js - the baseline for bench/analytics.sh: runs node-fpgrowth on a basket
// file and prints one JSON line with the number of frequent itemsets (all
// lengths, singletons included - node-fpgrowth reports those too) and seconds.
//
//   node bench.js FILE csv|fimi MIN_SUPPORT [RUNS]
//
// Mining is timed as the best of RUNS (default 3) on the loaded baskets, so
// V8's warm-up is not held against node-fpgrowth.
// csv: one basket per line, items comma-separated (no quoting: the benchmark
// files have none, and a quote makes this script refuse the file). fimi:
// space-separated item ids, kept as numbers. An item repeated in a basket is
// kept once and blank lines are skipped, as hudong does, so both sides mine the
// same baskets. node-fpgrowth's minimum count is Math.ceil(support * N), the
// same rule as arules and hudong.
'use strict';
const fs = require('fs');
const { FPGrowth } = require('node-fpgrowth');

function load(file, format) {
    const text = fs.readFileSync(file, 'utf8');
    const baskets = [];
    for (const raw of text.split('\n')) {
        const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
        if (line.trim() === '') continue;
        let items;
        if (format === 'csv') {
            if (line.includes('"')) throw new Error('quoted CSV is not supported by this script');
            items = line.split(',');
        } else {
            items = line.trim().split(/[ \t]+/).map(Number);
        }
        baskets.push([...new Set(items)]);
    }
    return baskets;
}

async function main() {
    const [file, format, supportText, runsText] = process.argv.slice(2);
    if (!file || (format !== 'csv' && format !== 'fimi') || !(Number(supportText) > 0)) {
        console.error('usage: node bench.js FILE csv|fimi MIN_SUPPORT [RUNS]');
        process.exit(2);
    }
    const support = Number(supportText);
    const t0 = process.hrtime.bigint();
    const baskets = load(file, format);
    const t1 = process.hrtime.bigint();
    const runs = Math.max(1, Number(runsText) || 3);
    let itemsets = [];
    let best = Infinity;
    for (let r = 0; r < runs; r++) {
        const s = process.hrtime.bigint();
        // a new FPGrowth each run: exec() overwrites its support with the count
        itemsets = await new FPGrowth(support).exec(baskets);
        const t = Number(process.hrtime.bigint() - s) / 1e9;
        if (t < best) best = t;
    }
    const byLen = {};
    for (const s of itemsets) byLen[s.items.length] = (byLen[s.items.length] || 0) + 1;
    console.log(JSON.stringify({
        baskets: baskets.length,
        min_count: Math.ceil(support * baskets.length),
        itemsets: itemsets.length,
        by_length: byLen,
        load_s: Number(t1 - t0) / 1e9,
        mine_s: best,
        runs,
    }));
}

main().catch((e) => {
    console.error(e.message);
    process.exit(1);
});
