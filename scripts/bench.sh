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
