#!/usr/bin/env node
// Benchmark helper, never part of the product: npm inbound as a stdin -> stdout JSON
// Lines filter, the counterpart of `attribution detect`, so the two can be timed as whole
// processes on the same file (scripts/bench-filter.sh). One {"url","referrer"} line in,
// inbound's description as one JSON line out, in input order; a line that is not a JSON
// object gets {"error": "line N: ..."}, as the Go filter does.
//
// inbound.referrer.parse answers through a callback on a later tick, so lines are
// described a batch at a time, all in flight together (the fastest way found in
// bench.js), and each batch is written in input order once all of it has answered.
// Of batches of 1, 10, 30, 100, 300, 1,000 and 5,000 lines, 30 to 100 were fastest.
// inbound comes through offline.js, as in bench.js, so nothing leaves the machine.
'use strict';

const readline = require('readline');
const inbound = require('./offline');

const batchSize = 100;

function describe(line, n) {
  let p;
  try {
    p = JSON.parse(line);
  } catch (err) {
    return Promise.resolve(JSON.stringify({ error: `line ${n}: invalid JSON` }));
  }
  if (p === null || typeof p !== 'object' || Array.isArray(p)) {
    return Promise.resolve(JSON.stringify({ error: `line ${n}: not a JSON object` }));
  }
  for (const key of ['url', 'referrer']) {
    if (p[key] != null && typeof p[key] !== 'string') {
      return Promise.resolve(JSON.stringify({ error: `line ${n}: ${key}: not a string` }));
    }
  }
  return new Promise((resolve) => {
    try {
      inbound.referrer.parse(p.url || '', p.referrer || '', (err, d) =>
        resolve(JSON.stringify(err ? { error: `line ${n}: ${err.message}` } : d)),
      );
    } catch (err) {
      resolve(JSON.stringify({ error: `line ${n}: ${err.message}` }));
    }
  });
}

function write(s) {
  return new Promise((resolve, reject) => {
    if (process.stdout.write(s, (err) => err && reject(err))) resolve();
    else process.stdout.once('drain', resolve);
  });
}

async function main() {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  let batch = [];
  let n = 0;
  for await (const line of rl) {
    batch.push(describe(line, ++n));
    if (batch.length === batchSize) {
      await write((await Promise.all(batch)).join('\n') + '\n');
      batch = [];
    }
  }
  if (batch.length > 0) await write((await Promise.all(batch)).join('\n') + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
