#!/usr/bin/env bash
# Runs the Go benchmarks and prints a readable summary. Only 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "== webhook path: parse, validate, marshal"
go test -run '^$' -bench 'BenchmarkWebhook|BenchmarkParse' -benchmem ./internal/event ./internal/ingest | tee -a "$out"

echo
echo "== summary"
awk '/^Benchmark/ {printf "  %-48s %12s ns/op %10s B/op %6s allocs/op\n", $1, $3, $5, $7}' "$out"

echo
echo "== import: attribution import's throughput against dynalite, next to a bare BatchWriteItem loop (the ceiling)"
imp=$(mktemp)
trap 'rm -f "$out" "$imp"' EXIT
go test -run '^$' -bench 'BenchmarkImport$' -benchtime "${IMPORT_BENCHTIME:-5x}" -timeout 20m ./internal/importer | tee "$imp"
awk '/^BenchmarkImport/ {
  for (i = 3; i < NF; i += 2) m[$(i+1)] = $i
  printf "  import %8.0f events/s, ceiling %8.0f events/s: %.0f%% of the ceiling\n", m["import_events/s"], m["ceiling_events/s"], m["import_%_of_ceiling"]
}' "$imp"
