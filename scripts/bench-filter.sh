#!/usr/bin/env bash
# Times `attribution detect` against npm inbound as whole processes, start-up, reading
# and writing included: each filters the same 200,000 JSON lines (the realistic mix,
# internal/source/testdata/detect/mix.jsonl, repeated) from a file to a file, best of
# FILTER_RUNS (3) wall-clock runs each. Run from the repository root: scripts/bench-filter.sh
set -euo pipefail

cd "$(dirname "$0")/.."

mix=internal/source/testdata/detect/mix.jsonl
lines=${FILTER_LINES:-200000}
runs=${FILTER_RUNS:-3}
target_ratio=20

# npm ci only when the pinned install is missing or older than the lock file.
if [[ ! -d bench/inbound/node_modules/inbound || bench/inbound/package-lock.json -nt bench/inbound/node_modules/.package-lock.json ]]; then
  npm ci --prefix bench/inbound --no-audit --no-fund --loglevel=error >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/attribution" ./cmd/attribution
awk -v n="$lines" '{ l[NR] = $0 } END { for (i = 0; i < n; i++) print l[i % NR + 1] }' "$mix" >"$tmp/in.jsonl"

# best prints the fastest of $runs wall-clock runs of "$@" < in.jsonl > out.jsonl, in
# seconds, after checking that every run answered every line. The runs start in $tmp,
# without the detector's settings, so a .env or REFERERS_FILE of yours changes nothing.
best() {
  local best="" start end s
  for ((r = 0; r < runs; r++)); do
    start=$EPOCHREALTIME
    (cd "$tmp" && env -u REFERERS_FILE -u INTERNAL_DOMAINS -u IGNORED_REFERRERS "$@" <in.jsonl >out.jsonl)
    end=$EPOCHREALTIME
    if [[ $(wc -l <"$tmp/out.jsonl") -ne $lines ]]; then
      echo "bench-filter: $* wrote $(wc -l <"$tmp/out.jsonl") lines for $lines" >&2
      exit 1
    fi
    s=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }')
    if [[ -z "$best" ]] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$s; fi
  done
  echo "$best"
}

go_s=$(best "$tmp/attribution" detect)
node_s=$(best node "$PWD/bench/inbound/filter.js")

awk -v g="$go_s" -v n="$node_s" -v lines="$lines" -v runs="$runs" -v target="$target_ratio" -v cores="$(getconf _NPROCESSORS_ONLN)" 'BEGIN {
  go = lines / g; inb = lines / n; ratio = go / inb
  printf "\nwhole filter, %d lines (mix.jsonl repeated) file to file, best of %d wall-clock runs, %d cores\n", lines, runs, cores
  printf "  attribution detect : %10.0f lines/s  (%.3f s)\n", go, g
  printf "  node inbound filter: %10.0f lines/s  (%.3f s)\n", inb, n
  printf "  ratio              : %10.1fx  (target >= %dx: %s)\n", ratio, target, (ratio >= target ? "met" : "NOT met")
}'
