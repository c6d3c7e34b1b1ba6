#!/usr/bin/env node
// Benchmark helper, never part of the product: how many visits per second npm inbound
// (the library the original system used) describes, over the same mix as Go's
// BenchmarkDetect. Prints one machine-readable line:
//   inbound detections_per_sec=N ns_per_op=N sequential_per_sec=N concurrent_per_sec=N lines=N
//
// inbound.referrer.parse is callback-based and its callback always fires on a later
// tick (async.parallel defers), so a detection is counted only when its callback has
// fired. Two ways are timed and the faster one is reported, to be fair to inbound:
// one at a time (as a handler awaiting each would), and a whole pass of the mix in
// flight at once (so the deferred callbacks share event-loop turns). inbound comes
// through offline.js, so nothing leaves the machine, and a warm-up pass fills
// tldextract's cache before timing starts, so no run pays for I/O.
'use strict';

const fs = require('fs');
const path = require('path');
const inbound = require('./offline');

const file = process.argv[2] || path.join(__dirname, '..', '..', 'internal', 'source', 'testdata', 'detect', 'mix.jsonl');
const budgetMs = Number(process.env.BENCH_MS || 2000);
const pairs = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

function parse(p) {
  return new Promise((resolve, reject) => {
    inbound.referrer.parse(p.url || '', p.referrer || '', (err, d) => (err ? reject(err) : resolve(d)));
  });
}

async function sequential() {
  for (const p of pairs) await parse(p);
}

function concurrent() {
  return Promise.all(pairs.map(parse));
}

// timed runs passes of fn for the budget and returns detections per second.
async function timed(fn) {
  let runs = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(budgetMs) * 1000000n;
  let now = start;
  while (now < deadline) {
    await fn();
    runs++;
    now = process.hrtime.bigint();
  }
  return (runs * pairs.length) / (Number(now - start) / 1e9);
}

async function main() {
  await sequential(); // warm-up: JIT and tldextract's cache
  await concurrent();
  const seq = await timed(sequential);
  const conc = await timed(concurrent);
  const best = Math.max(seq, conc);
  console.log(
    `inbound detections_per_sec=${Math.round(best)} ns_per_op=${Math.round(1e9 / best)}` +
      ` sequential_per_sec=${Math.round(seq)} concurrent_per_sec=${Math.round(conc)} lines=${pairs.length}`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
