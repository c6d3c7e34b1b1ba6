#!/usr/bin/env bash
# Benchmarks the source detector against npm inbound, the library the original system
# used, on the same mix (internal/source/testdata/detect/mix.jsonl), and prints a
# short summary. Run from the repository root: scripts/bench-detect.sh
set -euo pipefail

cd "$(dirname "$0")/.."

mix=internal/source/testdata/detect/mix.jsonl
target_ratio=20

# npm ci only when the pinned install is missing or older than the lock file.
if [[ ! -d bench/inbound/node_modules/inbound || bench/inbound/package-lock.json -nt bench/inbound/node_modules/.package-lock.json ]]; then
  npm ci --prefix bench/inbound --no-audit --no-fund --loglevel=error >&2
fi

go_out=$(go test -run '^$' -bench 'BenchmarkDetect$' -benchmem -cpu 1 ./internal/source)
printf "%s\n" "$go_out"
go_line=$(grep -E '^BenchmarkDetect\b' <<<"$go_out" | head -n1)
if [[ -z "$go_line" ]]; then
  echo "bench-detect: no BenchmarkDetect result" >&2
  exit 1
fi
# BenchmarkDetect  N  X ns/op  Y B/op  Z allocs/op
go_ns=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "ns/op") print $i}' <<<"$go_line")
go_allocs=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "allocs/op") print $i}' <<<"$go_line")
go_bytes=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "B/op") print $i}' <<<"$go_line")

node_line=$(node bench/inbound/bench.js "$mix")
printf "%s\n" "$node_line"
inbound_per_sec=$(sed -n 's/.*detections_per_sec=\([0-9]*\).*/\1/p' <<<"$node_line")
if [[ -z "$inbound_per_sec" || "$inbound_per_sec" == 0 ]]; then
  echo "bench-detect: no inbound result" >&2
  exit 1
fi

awk -v ns="$go_ns" -v allocs="$go_allocs" -v bytes="$go_bytes" -v inb="$inbound_per_sec" -v target="$target_ratio" 'BEGIN {
  go = 1e9 / ns
  ratio = go / inb
  printf "\nsource detection (%s lines of realistic url+referrer pairs, one core)\n", "'"$(wc -l <"$mix" | tr -d ' ')"'"
  printf "  Go internal/source : %12.0f detections/s  %8.1f ns/op  %s allocs/op  %s B/op\n", go, ns, allocs, bytes
  printf "  npm inbound 0.0.6  : %12.0f detections/s  %8.1f ns/op\n", inb, 1e9 / inb
  printf "  ratio              : %12.1fx  (target >= %dx: %s)\n", ratio, target, (ratio >= target ? "met" : "NOT met")
}'
