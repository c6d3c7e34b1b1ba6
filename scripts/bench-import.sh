#!/usr/bin/env bash
# Benchmarks `attribution import` against dynalite next to its ceiling: a bare loop of
# BatchWriteItem calls writing the same items with the same concurrency. Run from the
# repository root: scripts/bench-import.sh (IMPORT_BENCHTIME=10x for steadier numbers).
set -euo pipefail

cd "$(dirname "$0")/.."

target_pct=80
out=$(go test -run '^$' -bench 'BenchmarkImport$' -benchtime "${IMPORT_BENCHTIME:-5x}" -timeout 20m ./internal/importer)
printf "%s\n" "$out"
line=$(grep -E '^BenchmarkImport\b' <<<"$out" | head -n1)
if [[ -z "$line" ]]; then
  echo "bench-import: no BenchmarkImport result" >&2
  exit 1
fi
awk -v target="$target_pct" '{
  for (i = 3; i < NF; i += 2) m[$(i+1)] = $i
  printf "\nimport throughput against dynalite (10,000 small events per run, 12 workers)\n"
  printf "  attribution import  : %8.0f events/s\n", m["import_events/s"]
  printf "  BatchWriteItem loop : %8.0f events/s (ceiling)\n", m["ceiling_events/s"]
  printf "  import ratio        : %7.0f%%  of the ceiling (target >= %d%%: %s)\n", m["import_%_of_ceiling"], target, (m["import_%_of_ceiling"] >= target ? "met" : "NOT met")
}' <<<"$line"
