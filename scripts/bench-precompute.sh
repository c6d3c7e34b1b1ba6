#!/usr/bin/env bash
# Benchmarks the daily refresh of the data-driven models (markov, shapley) against
# dynalite: PRECOMPUTE_BENCH_TOUCHES touches (default 100,000) and one conversion per 20
# touches, seeded first (not timed), then six trailing ranges by eight dimensions.
# PRECOMPUTE_BENCH_LOG=1 prints the time of each phase.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(go test -run '^$' -bench 'BenchmarkRefresh$' -benchtime "${PRECOMPUTE_BENCHTIME:-2x}" -timeout 60m ./internal/precompute)
printf "%s\n" "$out"
awk '/^BenchmarkRefresh/ {
  for (i = 3; i < NF; i += 2) m[$(i+1)] = $i
  printf "\ndata-driven refresh against dynalite: %d touches, %d conversions: %.1f s per refresh\n", m["touches"], m["conversions"], m["s/refresh"]
}' <<<"$out"
