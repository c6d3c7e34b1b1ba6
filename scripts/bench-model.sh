#!/usr/bin/env bash
# Benchmarks `attribution model -paths FILE` end to end (read, every path model, the
# table) over 100,000 paths in the ChannelAttribution format; the target is under 2 s.
# Run from anywhere: scripts/bench-model.sh. The per-model numbers come from
# `go test -bench . ./internal/attribution`, which `make bench` runs too.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(go test -run '^$' -bench 'BenchmarkModelCommand$' -benchmem -benchtime "${MODEL_BENCHTIME:-3x}" ./cmd/attribution)
printf "%s\n" "$out"
awk '/^BenchmarkModelCommand/ {
  printf "\nattribution model over 100,000 paths: %.2f s per run (target < 2 s: %s)\n", $3 / 1e9, ($3 < 2e9 ? "met" : "NOT met")
}' <<<"$out"
